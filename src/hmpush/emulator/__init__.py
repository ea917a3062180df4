"""The local Push server (emulator): Huawei's v3 `messages:send` with SQLite state.

`create_app(EmulatorConfig(...))` builds the ASGI app; `Emulator` holds its state and can be
driven without HTTP. `hmpush emulator` serves it with Granian; `EmulatorServer` runs that
command as a child process. Names load on first use, so importing a light submodule such as
`hmpush.emulator.process` does not pull in the web framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    "ConnectionDropped": "hmpush.emulator.faults",
    "CreatedProject": "hmpush.emulator.core",
    "Emulator": "hmpush.emulator.core",
    "EmulatorConfig": "hmpush.emulator.config",
    "EmulatorServer": "hmpush.emulator.process",
    "FaultRule": "hmpush.emulator.faults",
    "Store": "hmpush.emulator.store",
    "create_app": "hmpush.emulator.app",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name from its submodule on first use."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hmpush.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from hmpush.emulator.app import create_app as create_app
    from hmpush.emulator.config import EmulatorConfig as EmulatorConfig
    from hmpush.emulator.core import CreatedProject as CreatedProject
    from hmpush.emulator.core import Emulator as Emulator
    from hmpush.emulator.faults import (
        ConnectionDropped as ConnectionDropped,
    )
    from hmpush.emulator.faults import (
        FaultRule as FaultRule,
    )
    from hmpush.emulator.process import EmulatorServer as EmulatorServer
    from hmpush.emulator.store import Store as Store
