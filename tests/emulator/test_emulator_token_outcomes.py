"""Per-token outcomes from the server's state: every reason, the counts, and the spec's shapes."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import Sender, answer_of, load_documented_examples, notification_body

from hmpush.codes import TokenFailure
from hmpush.messages import TokenResults, is_plausible_token
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio

EXAMPLES = load_documented_examples()


def live_view_body(tokens: list[str]) -> dict[str, Any]:
    flight = dict(EXAMPLES)[7]()  # the first push-type 7 example: a FLIGHT creation
    flight["target"] = {"token": tokens}
    return flight


async def test_every_reason_in_one_request_gives_80100000_with_counts(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [good] = emulator.create_devices(1)
    [no_event] = emulator.create_devices(1, live_view_events=["TAXI"])
    [no_type] = emulator.create_devices(1, push_types=[0])
    other_project = emulator.admin("POST", "/projects", {})
    other_app = emulator.admin("POST", f"/projects/{other_project['project_id']}/apps", {})
    [foreign] = emulator.create_devices(1, app_id=other_app["app_id"])
    unknown = "MAMzLgEAAAAnobodyEverHeldThisToken0000000001"
    malformed = "short"
    body = live_view_body([good, no_event, no_type, foreign, unknown, malformed])

    response = await any_sender.post(body, push_type="7")

    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (200, "80100000")
    results = TokenResults.from_msg(answer["msg"])
    assert (results.success, results.failure) == (1, 5)
    assert results.illegal_tokens == {
        "noRightToSendThisLiveNotificationEvent": [no_event],
        "noPushTypeRight": [no_type],
        "noRight": [foreign],
        "tokenFormatError": [unknown, malformed],
    }
    assert list(answer["msg"]).index("{") == 0 and answer["msg"].startswith('{"illegalTokens"')
    for refused_token in (no_event, no_type, foreign):
        assert emulator.inbox(refused_token) == []
    [recorded] = emulator.requests()
    assert (recorded["code"], recorded["success"], recorded["failure"]) == ("80100000", 1, 5)


async def test_all_tokens_invalid_is_80300007_shaped_like_the_spec(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    other_project = emulator.admin("POST", "/projects", {})
    other_app = emulator.admin("POST", f"/projects/{other_project['project_id']}/apps", {})
    foreign = emulator.create_devices(2, app_id=other_app["app_id"])

    response = await any_sender.post(notification_body(foreign))

    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (400, "80300007")
    # Spec 10.1: {"failure":2,"illegalTokens":{"noRight":[…,…]}} — no "success" key.
    first, second = foreign
    assert answer["msg"] == f'{{"failure":2,"illegalTokens":{{"noRight":["{first}","{second}"]}}}}'
    assert emulator.requests() == []
    assert all(emulator.inbox(token) == [] for token in foreign)


async def test_partial_success_msg_is_exactly_the_spec_shape(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [good] = emulator.create_devices(1)
    bad = "MAAALgE4G98BAAAAst-never-registered-jg"
    response = await any_sender.post(notification_body([good, bad]))
    answer = answer_of(response)
    assert answer["code"] == "80100000"
    assert answer["msg"] == (
        f'{{"illegalTokens":{{"tokenFormatError":["{bad}"]}},"success":1,"failure":1}}'
    )


async def test_play_voice_outside_push_type_2_fails_every_token(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(2)
    body = notification_body(tokens)
    body["payload"]["notification"]["category"] = "PLAY_VOICE"
    response = await any_sender.post(body)
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (400, "80300007")
    results = TokenResults.from_msg(answer["msg"])
    assert results.illegal_tokens == {TokenFailure.NOT_SUPPORT_PLAY_VOICE.value: tokens}
    assert emulator.requests() == []


async def test_push_type_right_missing_for_every_token_is_80300007(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1, push_types=[6])
    response = await any_sender.post(notification_body(tokens))
    answer = answer_of(response)
    assert answer["code"] == "80300007"
    assert TokenResults.from_msg(answer["msg"]).illegal_tokens == {"noPushTypeRight": tokens}


async def test_rights_changed_later_apply_to_the_next_request(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [token] = emulator.create_devices(1)
    emulator.admin("PATCH", f"/apps/{emulator.app_id}", {"push_types": [1]})
    assert answer_of(await any_sender.post(notification_body([token])))["code"] == "80300007"
    emulator.admin("PATCH", f"/apps/{emulator.app_id}", {"push_types": [0, 1]})
    assert answer_of(await any_sender.post(notification_body([token])))["code"] == "80000000"


async def test_ungranted_category_is_delivered_as_marketing(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [granted] = emulator.create_devices(1)
    [ungranted] = emulator.create_devices(1, categories=["WORK"])
    response = await any_sender.post(notification_body([granted, ungranted]))
    assert answer_of(response)["code"] == "80000000"
    assert [entry["category"] for entry in emulator.inbox(granted)] == ["IM"]
    assert [entry["category"] for entry in emulator.inbox(ungranted)] == ["MARKETING"]


async def test_duplicate_tokens_count_and_deliver_once(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [token] = emulator.create_devices(1)
    response = await any_sender.post(notification_body([token, token, "bad!", "bad!"]))
    results = TokenResults.from_msg(answer_of(response)["msg"])
    assert (results.success, results.failure) == (1, 1)
    assert len(emulator.inbox(token)) == 1


async def test_device_tokens_look_real_and_are_unique(emulator: EmulatorHandle) -> None:
    tokens = emulator.create_devices(50)
    assert len(set(tokens)) == 50
    assert all(is_plausible_token(token) and token.startswith("MAM") for token in tokens)
    assert all(100 <= len(token) <= 200 for token in tokens)


@pytest.mark.parametrize(
    ("push_type", "build"), EXAMPLES, ids=[build.__name__ for _, build in EXAMPLES]
)
async def test_documented_examples_are_accepted(
    emulator: EmulatorHandle, any_sender: Sender, push_type: int, build: Any
) -> None:
    tokens = emulator.create_devices(1)
    body = build()
    body["target"] = {"token": tokens}
    response = await any_sender.post(body, push_type=str(push_type))
    answer = answer_of(response)
    assert (response.status_code, answer["code"], answer["msg"]) == (200, "80000000", "Success")
    [recorded] = emulator.requests()
    assert recorded["requestId"] == answer["requestId"]
    assert recorded["pushType"] == push_type
    assert recorded["payload"] == body["payload"]
