"""Flow control (HTTP 503 + Retry-After) and test messages sent too frequently (80300029)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_helpers import Sender, answer_of, notification_body

from hmpush.emulator import EmulatorConfig
from hmpush.emulator.limits import RateLimiter, TestMessageLimiter
from hmpush.testing import EmulatorHandle, EmulatorServer, server_handle

pytestmark = pytest.mark.anyio

# 0.01 tokens/s: the first token passes, the next would wait ~100 s; no timing in the test.
SLOW_RATE = 0.01


@pytest.fixture
def hmpush_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(rate_limit_tokens_per_second=SLOW_RATE, test_requests_per_minute=2)


@pytest.fixture(scope="module")
def limited_server() -> Iterator[EmulatorServer]:
    args = ["--rate-limit", str(SLOW_RATE), "--test-requests-per-minute", "2"]
    with EmulatorServer(extra_args=args) as server:
        yield server


@pytest.fixture(params=["in_process", "server"])
def limited(request: pytest.FixtureRequest, limited_server: EmulatorServer) -> Iterator[Sender]:
    if request.param == "in_process":
        yield Sender(request.getfixturevalue("hmpush_emulator"))
        return
    handle, close = server_handle(limited_server.base_url)
    try:
        yield Sender(handle)
    finally:
        close()


async def test_flow_control_answers_503_with_retry_after(limited: Sender) -> None:
    handle = limited.handle
    tokens = handle.create_devices(2)
    assert answer_of(await limited.post(notification_body(tokens[:1])))["code"] == "80000000"

    response = await limited.post(notification_body(tokens[1:]))

    assert response.status_code == 503
    assert answer_of(response)["code"] == "503"
    assert 1 <= int(response.headers["retry-after"]) <= 100
    assert len(handle.requests()) == 1
    assert handle.inbox(tokens[1]) == []


async def test_flow_control_is_per_project(limited: Sender) -> None:
    handle = limited.handle
    tokens = handle.create_devices(1)
    assert answer_of(await limited.post(notification_body(tokens)))["code"] == "80000000"
    assert (await limited.post(notification_body(tokens))).status_code == 503

    other = Sender(_second_project(handle))
    other_tokens = other.handle.create_devices(1)
    assert answer_of(await other.post(notification_body(other_tokens)))["code"] == "80000000"


def _second_project(handle: EmulatorHandle) -> EmulatorHandle:
    from hmpush.testing import EmulatorHandle as Handle

    created = handle.admin("POST", "/projects", {})
    from hmpush.auth import ServiceAccount

    account = ServiceAccount.from_dict(created["service_account"])
    app = handle.admin("POST", f"/projects/{account.project_id}/apps", {})
    return Handle(
        base_url=handle.base_url,
        transport=handle.transport,
        service_account=account,
        app_id=app["app_id"],
        admin_call=handle._admin_call,
    )


async def test_test_messages_too_frequent_is_80300029() -> None:
    # Flow control off here, so only the test-message limit speaks.
    from hmpush.testing import in_process_emulator

    with in_process_emulator(EmulatorConfig(test_requests_per_minute=2)) as handle:
        sender = Sender(handle)
        tokens = handle.create_devices(1)
        test_body = notification_body(tokens, testMessage=True)
        assert answer_of(await sender.post(test_body))["code"] == "80000000"
        assert answer_of(await sender.post(test_body))["code"] == "80000000"
        response = await sender.post(test_body)
        answer = answer_of(response)
        assert (response.status_code, answer["code"]) == (400, "80300029")
        assert answer["msg"] == "When send test message, the api request exceed limit."
        assert len(handle.requests()) == 2
        # Ordinary messages are not test messages and are not limited by it.
        assert answer_of(await sender.post(notification_body(tokens)))["code"] == "80000000"


def test_bucket_admits_a_second_of_tokens_then_asks_to_wait() -> None:
    now = [100.0]
    limiter = RateLimiter(10, clock=lambda: now[0])
    assert limiter.acquire("p", 10) is None
    assert limiter.acquire("p", 1) == pytest.approx(0.1)
    now[0] += 0.1
    assert limiter.acquire("p", 1) is None
    assert limiter.acquire("other", 10) is None


def test_bucket_lets_big_requests_through_at_the_average_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(100, clock=lambda: now[0])
    assert limiter.acquire("p", 1000) is None  # a full bucket admits it, leaving a debt
    wait = limiter.acquire("p", 1)
    assert wait == pytest.approx(9.01)
    now[0] += 9.01
    assert limiter.acquire("p", 1) is None


def test_switched_off_limits_admit_everything() -> None:
    assert RateLimiter(None).acquire("p", 10**6) is None
    assert all(TestMessageLimiter(None).admit("p") for _ in range(10_000))


def test_test_message_window_slides() -> None:
    now = [0.0]
    limiter = TestMessageLimiter(2, clock=lambda: now[0])
    assert limiter.admit("p") and limiter.admit("p")
    assert not limiter.admit("p")
    now[0] += 60.0
    assert limiter.admit("p")


async def test_test_messages_beyond_the_daily_quota_are_accepted_but_not_shown() -> None:
    # Spec 3.2: the quota counts accepted requests; beyond it the receipt says 256.
    from hmpush.testing import in_process_emulator

    with in_process_emulator(EmulatorConfig(test_requests_per_day=2)) as handle:
        sender = Sender(handle)
        [token] = handle.create_devices(1)
        test_body = notification_body([token], testMessage=True)
        answers = [answer_of(await sender.post(test_body))["code"] for _ in range(3)]
        assert answers == ["80000000"] * 3
        assert len(handle.requests()) == 3
        assert len(handle.inbox(token)) == 2
