"""messages:send basics through the pytest plugin, in-process and over a real socket."""

from __future__ import annotations

import orjson
import pytest
from emulator_helpers import Sender, notification_body

from hmpush.messages import TokenResults
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio


async def test_accepted_notification_reaches_the_inbox(
    hmpush_emulator: EmulatorHandle, sender: Sender
) -> None:
    tokens = hmpush_emulator.create_devices(2)
    response = await sender.post(notification_body(tokens, biTag="batch-1"))
    answer = response.json()
    assert response.status_code == 200
    assert answer["code"] == "80000000"
    assert answer["msg"] == "Success"
    for token in tokens:
        [entry] = hmpush_emulator.inbox(token)
        assert entry["requestId"] == answer["requestId"]
        assert entry["pushType"] == 0
        assert entry["biTag"] == "batch-1"
        assert entry["payload"]["notification"]["title"] == "New message"
    [recorded] = hmpush_emulator.requests()
    assert recorded["requestId"] == answer["requestId"]
    assert (recorded["success"], recorded["failure"], recorded["biTag"]) == (2, 0, "batch-1")


async def test_partial_success_counts_and_groups_tokens(
    hmpush_emulator: EmulatorHandle, sender: Sender
) -> None:
    [good] = hmpush_emulator.create_devices(1)
    response = await sender.post(notification_body([good, "not a token!"]))
    answer = response.json()
    assert (response.status_code, answer["code"]) == (200, "80100000")
    assert answer["msg"] == (
        '{"illegalTokens":{"tokenFormatError":["not a token!"]},"success":1,"failure":1}'
    )
    assert TokenResults.from_msg(answer["msg"]).success == 1


async def test_real_server_answers_over_http(
    hmpush_emulator_server: EmulatorHandle, server_sender: Sender
) -> None:
    assert hmpush_emulator_server.transport is None
    tokens = hmpush_emulator_server.create_devices(1)
    response = await server_sender.post(notification_body(tokens))
    assert response.status_code == 200
    assert orjson.loads(response.content)["code"] == "80000000"
    assert len(hmpush_emulator_server.inbox(tokens[0])) == 1
