"""Fixtures shared by the emulator tests."""

from __future__ import annotations

import pytest
from emulator_helpers import Sender

from hmpush.testing import EmulatorHandle


@pytest.fixture
def sender(hmpush_emulator: EmulatorHandle) -> Sender:
    """Signed requests to the in-process server."""
    return Sender(hmpush_emulator)


@pytest.fixture
def server_sender(hmpush_emulator_server: EmulatorHandle) -> Sender:
    """Signed requests to the real server on 127.0.0.1."""
    return Sender(hmpush_emulator_server)
