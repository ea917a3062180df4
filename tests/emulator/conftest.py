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


@pytest.fixture(params=["in_process", "server"])
def emulator(request: pytest.FixtureRequest) -> EmulatorHandle:
    """The same checks against the in-process server and the real one on 127.0.0.1."""
    name = "hmpush_emulator" if request.param == "in_process" else "hmpush_emulator_server"
    handle: EmulatorHandle = request.getfixturevalue(name)
    return handle


@pytest.fixture
def any_sender(emulator: EmulatorHandle) -> Sender:
    """Signed requests to whichever server `emulator` is."""
    return Sender(emulator)
