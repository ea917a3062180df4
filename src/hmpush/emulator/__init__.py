"""The local Push server (emulator): Huawei's v3 `messages:send` with SQLite state.

`create_app(EmulatorConfig(...))` builds the ASGI app; `Emulator` holds its state and can be
driven without HTTP. `hmpush emulator` serves it with Granian.
"""

from __future__ import annotations

from hmpush.emulator.app import create_app
from hmpush.emulator.config import EmulatorConfig
from hmpush.emulator.core import CreatedProject, Emulator
from hmpush.emulator.faults import ConnectionDropped, FaultRule
from hmpush.emulator.store import Store

__all__ = [
    "ConnectionDropped",
    "CreatedProject",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "Store",
    "create_app",
]
