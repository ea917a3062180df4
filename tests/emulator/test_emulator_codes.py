"""Every whole-request code the server answers, over the in-process and the real server.

Each refusal is checked for its HTTP status, its code, a message naming the problem, a
`requestId`, and for leaving no trace (nothing recorded, nothing delivered).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from emulator_helpers import Sender, answer_of, notification_body, signed_jwt

from hmpush import codes
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio


def assert_nothing_stored(handle: EmulatorHandle, tokens: list[str]) -> None:
    assert handle.requests() == []
    for token in tokens:
        assert handle.inbox(token) == []


async def refused(
    handle: EmulatorHandle,
    sender: Sender,
    body: Any,
    entry: codes.BusinessCode,
    *,
    tokens: list[str],
    push_type: str | None = "0",
    headers: dict[str, str] | None = None,
) -> str:
    response = await sender.post(body, push_type=push_type, headers=headers)
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (entry.http_status, entry.code), answer
    assert_nothing_stored(handle, tokens)
    return str(answer["msg"])


async def test_missing_push_type_is_80100001(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    msg = await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.PARAMETER_ERROR,
        tokens=tokens,
        push_type=None,
    )
    assert "push-type" in msg


@pytest.mark.parametrize("value", ["3", "abc", "", "-1", "0x0"])
async def test_unknown_push_type_is_80100001(
    emulator: EmulatorHandle, any_sender: Sender, value: str
) -> None:
    tokens = emulator.create_devices(1)
    msg = await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.PARAMETER_ERROR,
        tokens=tokens,
        push_type=value,
    )
    assert "push-type" in msg


async def test_body_that_is_not_json_is_80100001(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    msg = await refused(emulator, any_sender, b"{not json", codes.PARAMETER_ERROR, tokens=[])
    assert "JSON" in msg


async def test_illegal_payload_is_80100003_as_in_the_spec_example(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    body = notification_body(tokens)
    body["payload"]["notification"]["badge"] = {"addNum": 100}
    msg = await refused(emulator, any_sender, body, codes.ILLEGAL_PAYLOAD, tokens=tokens)
    assert msg.startswith("Illegal payload, ")
    assert "badge.addNum value ranges from 1 to 99" in msg


async def test_ttl_in_the_past_is_80100004(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    body = notification_body(tokens, ttl=0)
    msg = await refused(emulator, any_sender, body, codes.ILLEGAL_EXPIRE_TIME, tokens=tokens)
    assert "ttl" in msg


async def test_body_over_4096_bytes_without_tokens_is_80300008(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    body = notification_body(tokens)
    body["payload"]["notification"]["body"] = "x" * 4100
    await refused(emulator, any_sender, body, codes.MESSAGE_TOO_LONG, tokens=tokens)


async def test_tokens_do_not_count_towards_the_4096_bytes(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(40)  # ~5 KB of tokens
    response = await any_sender.post(notification_body(tokens))
    assert answer_of(response)["code"] == "80000000"


@pytest.mark.parametrize("count", [0, 1001])
async def test_token_count_out_of_range_is_80300010(
    emulator: EmulatorHandle, any_sender: Sender, count: int
) -> None:
    tokens = [f"MAMzLgEAAAA{index:040d}" for index in range(count)]
    msg = await refused(
        emulator, any_sender, notification_body(tokens), codes.TOKEN_COUNT_OUT_OF_RANGE, tokens=[]
    )
    # Huawei's text first; the messages module may add what it counted.
    assert msg.startswith("token count should within 1 and 1000."), msg


async def test_test_message_with_11_tokens_is_80300030(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(11)
    body = notification_body(tokens, testMessage=True)
    await refused(emulator, any_sender, body, codes.TEST_MESSAGE_TOO_MANY_TOKENS, tokens=tokens)


async def test_test_message_with_10_tokens_is_accepted(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(10)
    response = await any_sender.post(notification_body(tokens, testMessage=True))
    assert answer_of(response)["code"] == "80000000"
    [recorded] = emulator.requests()
    assert recorded["testMessage"] is True


async def test_missing_authorization_is_80200001(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    headers = {"push-type": "0", "Content-Type": "application/json"}
    await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.AUTHENTICATION_ERROR,
        tokens=tokens,
        headers=headers,
    )


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not.a.jwt", "Basic abc", "Bearer x", "bearer"],
)
async def test_malformed_authorization_is_80200001(
    emulator: EmulatorHandle, any_sender: Sender, authorization: str
) -> None:
    tokens = emulator.create_devices(1)
    headers = any_sender.headers("0", Authorization=authorization)
    await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.AUTHENTICATION_ERROR,
        tokens=tokens,
        headers=headers,
    )


async def test_jwt_of_another_project_is_80200001(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    other = emulator.admin("POST", "/projects", {})
    response = await any_sender.post(notification_body(tokens), project_id=other["project_id"])
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (401, "80200001")
    assert_nothing_stored(emulator, tokens)


async def test_jwt_signed_with_an_unregistered_key_is_80200001(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    from hmpush.auth import generate_service_account

    tokens = emulator.create_devices(1)
    stranger = generate_service_account(emulator.project_id, bits=2048)
    headers = any_sender.headers("0", Authorization=f"Bearer {signed_jwt(stranger)}")
    await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.AUTHENTICATION_ERROR,
        tokens=tokens,
        headers=headers,
    )


async def test_expired_jwt_is_80200005(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    stale = signed_jwt(emulator.service_account, issued_at=time.time() - 3 * 3600)
    headers = any_sender.headers("0", Authorization=f"Bearer {stale}")
    await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.JWT_EXPIRED,
        tokens=tokens,
        headers=headers,
    )


async def test_jwt_valid_longer_than_a_day_is_80300036(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    long_lived = signed_jwt(emulator.service_account, lifetime=2 * 86400)
    headers = any_sender.headers("0", Authorization=f"Bearer {long_lived}")
    await refused(
        emulator,
        any_sender,
        notification_body(tokens),
        codes.JWT_LIFETIME_TOO_LONG,
        tokens=tokens,
        headers=headers,
    )


async def test_push_kit_switched_off_is_80300002(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    emulator.set_project(push_enabled=False)
    await refused(
        emulator, any_sender, notification_body(tokens), codes.NO_PERMISSION, tokens=tokens
    )
    emulator.set_project(push_enabled=True)
    assert answer_of(await any_sender.post(notification_body(tokens)))["code"] == "80000000"


async def test_penalty_is_80300037(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    emulator.set_project(penalty=True)
    await refused(emulator, any_sender, notification_body(tokens), codes.PENALTY, tokens=tokens)


async def test_unknown_path_answers_huawei_shaped_404(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    import httpx2

    async with httpx2.AsyncClient(transport=emulator.transport) as client:
        response = await client.post(
            f"{emulator.base_url}/v2/{emulator.project_id}/messages:send",
            headers=any_sender.headers("0"),
            content=b"{}",
        )
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (404, "404")


async def test_wrong_method_answers_huawei_shaped_405(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    import httpx2

    async with httpx2.AsyncClient(transport=emulator.transport) as client:
        response = await client.get(emulator.send_url, headers=any_sender.headers("0"))
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (405, "405")


async def test_huge_request_is_80300008_without_being_kept(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    from hmpush.messages import MAX_REQUEST_BYTES

    body = b'{"payload": {"x": "' + b"y" * MAX_REQUEST_BYTES + b'"}}'
    await refused(emulator, any_sender, body, codes.MESSAGE_TOO_LONG, tokens=[])


async def test_internal_failure_is_81000001_and_rolls_back(
    hmpush_emulator: EmulatorHandle, sender: Sender
) -> None:
    [token] = hmpush_emulator.create_devices(1)
    assert hmpush_emulator.emulator is not None
    with hmpush_emulator.emulator.store.transaction() as conn:
        conn.execute("ALTER TABLE requests RENAME TO requests_gone")  # a real SQLite failure
    response = await sender.post(notification_body([token]))
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (500, "81000001")
    assert answer["msg"] == "Inner Error. (OperationalError; the server log has the details)"
    assert hmpush_emulator.inbox(token) == []  # delivery was rolled back with the request
