"""Deterministic fault injection: filters, counts, seeded probabilities and every action."""

from __future__ import annotations

import random
import time

import httpx2
import pytest
from emulator_helpers import Sender, answer_of, notification_body

from hmpush import codes
from hmpush.messages import TokenResults
from hmpush.testing import EmulatorAdminError, EmulatorHandle

pytestmark = pytest.mark.anyio


async def codes_of(sender: Sender, body: dict[str, object], count: int) -> list[str]:
    return [answer_of(await sender.post(body))["code"] for _ in range(count)]


@pytest.mark.parametrize(("status", "code"), [(500, "500"), (502, "502"), (503, "503")])
async def test_status_faults_answer_huawei_shaped_bodies(
    emulator: EmulatorHandle, any_sender: Sender, status: int, code: str
) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(status=status)
    response = await any_sender.post(notification_body(tokens))
    assert response.status_code == status
    assert answer_of(response)["code"] == code
    assert "retry-after" not in response.headers
    assert emulator.requests() == []
    assert emulator.inbox(tokens[0]) == []


async def test_503_with_retry_after(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(status=503, retry_after=2.5)
    response = await any_sender.post(notification_body(tokens))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"


async def test_times_retires_a_rule(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(status=502, times=2)
    assert await codes_of(any_sender, notification_body(tokens), 3) == ["502", "502", "80000000"]
    assert emulator.admin("GET", "/faults") == []


async def test_nth_request_fails_only(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(status=500, nth=3)
    answers = await codes_of(any_sender, notification_body(tokens), 5)
    assert answers == ["80000000", "80000000", "500", "80000000", "80000000"]
    [rule] = emulator.admin("GET", "/faults")
    assert (rule["seen"], rule["fired"]) == (5, 1)


async def test_token_prefix_and_push_type_filters(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    first, second = emulator.create_devices(2)
    emulator.add_fault(status=503, token_prefix=first[:40])
    emulator.add_fault(status=500, push_type=6)
    assert answer_of(await any_sender.post(notification_body([second])))["code"] == "80000000"
    assert answer_of(await any_sender.post(notification_body([second, first])))["code"] == "503"
    background = {"payload": {"extraData": "x"}, "target": {"token": [second]}}
    response = await any_sender.post(background, push_type="6")
    assert answer_of(response)["code"] == "500"


async def test_seeded_probability_repeats_exactly(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    body = notification_body(tokens)
    draws = random.Random(42)
    expected = ["503" if draws.random() < 0.5 else "80000000" for _ in range(12)]
    assert "503" in expected and "80000000" in expected

    emulator.add_fault(status=503, probability=0.5, seed=42)
    first_run = await codes_of(any_sender, body, 12)
    emulator.clear_faults()
    emulator.add_fault(status=503, probability=0.5, seed=42)
    second_run = await codes_of(any_sender, body, 12)

    assert first_run == expected
    assert second_run == expected


async def test_latency_delays_the_answer(emulator: EmulatorHandle, any_sender: Sender) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(latency_ms=300, times=1)
    started = time.monotonic()
    response = await any_sender.post(notification_body(tokens))
    # A lower bound only: the injected sleep can never return early.
    assert time.monotonic() - started >= 0.3
    assert answer_of(response)["code"] == "80000000"
    assert len(emulator.inbox(tokens[0])) == 1


async def test_latency_trips_a_client_timeout_on_a_real_socket(
    hmpush_emulator_server: EmulatorHandle, server_sender: Sender
) -> None:
    tokens = hmpush_emulator_server.create_devices(1)
    hmpush_emulator_server.add_fault(latency_ms=3000, status=500)
    async with httpx2.AsyncClient(timeout=0.3) as client:
        with pytest.raises(httpx2.ReadTimeout):
            await client.post(
                hmpush_emulator_server.send_url,
                json=notification_body(tokens),
                headers=server_sender.headers("0"),
            )


async def test_dropped_connection_gets_no_response(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    emulator.add_fault(drop_connection=True, times=1)
    with pytest.raises(httpx2.RemoteProtocolError):
        await any_sender.post(notification_body(tokens))
    assert emulator.requests() == []
    assert answer_of(await any_sender.post(notification_body(tokens)))["code"] == "80000000"


async def test_rules_are_scoped_to_their_project(
    hmpush_emulator: EmulatorHandle, sender: Sender
) -> None:
    tokens = hmpush_emulator.create_devices(1)
    hmpush_emulator.admin("POST", "/faults", {"status": 500, "project_id": "someone-else"})
    assert answer_of(await sender.post(notification_body(tokens)))["code"] == "80000000"


def test_a_rule_without_an_action_is_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorAdminError) as refused:
        emulator.add_fault(nth=2)
    assert refused.value.status == 422
    with pytest.raises(EmulatorAdminError):
        emulator.add_fault(status=500, retry_after=1)
    with pytest.raises(EmulatorAdminError):
        emulator.add_fault(status=404)


def test_rules_can_be_listed_and_removed(emulator: EmulatorHandle) -> None:
    rule = emulator.add_fault(status=500, token_prefix="MAM")
    [listed] = emulator.admin("GET", "/faults")
    assert listed["id"] == rule["id"] and listed["token_prefix"] == "MAM"
    emulator.admin("DELETE", f"/faults/{rule['id']}")
    assert emulator.admin("GET", "/faults") == []
    with pytest.raises(EmulatorAdminError) as missing:
        emulator.admin("DELETE", f"/faults/{rule['id']}")
    assert missing.value.status == 404


# --- codes and reasons that no emulated state leads to ------------------------------------

_ANSWERABLE = sorted(
    set(codes.BUSINESS_CODES)
    - {codes.SUCCESS.code, codes.PARTIAL_SUCCESS.code, codes.ALL_TOKENS_INVALID.code}
)


@pytest.mark.parametrize("code", _ANSWERABLE)
async def test_a_code_fault_answers_any_refusal_of_the_table(
    emulator: EmulatorHandle, any_sender: Sender, code: str
) -> None:
    entry = codes.BUSINESS_CODES[code]
    tokens = emulator.create_devices(1)
    rule = emulator.add_fault(code=code, times=1)
    response = await any_sender.post(notification_body(tokens))
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (entry.http_status, code)
    # The table's own text, naming the rule that answered (80300010 with Huawei's bounds).
    assert answer["msg"] == entry.format(f"(fault rule {rule['id']})", 1, 1000)
    assert "{" not in answer["msg"]
    assert emulator.requests() == [] and emulator.inbox(tokens[0]) == []
    assert answer_of(await any_sender.post(notification_body(tokens)))["code"] == "80000000"


@pytest.mark.parametrize("reason", list(codes.TokenFailure))
async def test_a_token_failure_fault_fails_the_matching_tokens_with_any_reason(
    emulator: EmulatorHandle, any_sender: Sender, reason: codes.TokenFailure
) -> None:
    doomed, fine = emulator.create_devices(2)
    emulator.add_fault(token_failure=reason.value, token_prefix=doomed)
    response = await any_sender.post(notification_body([doomed, fine]))
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (200, "80100000")
    results = TokenResults.from_msg(answer["msg"])
    assert (results.success, results.failure) == (1, 1)
    assert results.illegal_tokens == {reason.value: [doomed]}
    assert emulator.inbox(doomed) == [] and len(emulator.inbox(fine)) == 1

    emulator.clear_faults()
    emulator.add_fault(token_failure=reason.value)  # no prefix: every token
    response = await any_sender.post(notification_body([doomed, fine]))
    answer = answer_of(response)
    assert (response.status_code, answer["code"]) == (400, "80300007")
    assert TokenResults.from_msg(answer["msg"]).illegal_tokens == {reason.value: [doomed, fine]}
    assert len(emulator.requests()) == 1


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"code": "80000000"}, "code"),
        ({"code": "80300007"}, "code"),
        ({"code": "12345678"}, "code"),
        ({"token_failure": "tokenTooShort"}, "token_failure"),
        ({"code": "80100022", "status": 500}, "status and code"),
        ({"token_failure": "noRight", "drop_connection": True}, "token_failure and drop"),
    ],
)
def test_bad_code_and_reason_rules_are_refused_naming_the_field(
    hmpush_emulator: EmulatorHandle, rule: dict[str, object], named: str
) -> None:
    with pytest.raises(EmulatorAdminError) as refused:
        hmpush_emulator.add_fault(**rule)
    assert refused.value.status == 422
    assert named in str(refused.value.detail)
