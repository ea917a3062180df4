"""Retries over real HTTP: flow control, server errors, expired JWTs, dropped connections."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable

import httpx2
import pytest
from client_helpers import FAST_RETRY, notification

from hmpush import codes
from hmpush.auth import JwtSigner
from hmpush.client import AsyncPushClient, RetryPolicy, may_have_been_accepted
from hmpush.errors import (
    AuthError,
    PushError,
    QuotaError,
    ServerError,
    TransportError,
    error_for_code,
)
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio


class CountingTransport(httpx2.AsyncHTTPTransport):
    """The ordinary socket transport, counting the requests it puts on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.count += 1
        return await super().handle_async_request(request)


class ConcurrencyTransport(httpx2.AsyncHTTPTransport):
    """The ordinary socket transport, noting the most requests it had on the wire at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await super().handle_async_request(request)
        finally:
            self.in_flight -= 1


def _client(
    server: EmulatorHandle,
    transport: httpx2.AsyncBaseTransport | None = None,
    *,
    retry: RetryPolicy = FAST_RETRY,
    signer: JwtSigner | None = None,
) -> AsyncPushClient:
    return AsyncPushClient(
        signer or server.service_account,
        endpoint=server.base_url,
        retry=retry,
        transport=transport,
    )


async def test_503_then_success(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(3)
    server.add_fault(status=503, times=1)
    async with _client(server) as client:
        result = await client.send(notification(), tokens)
    assert result.all_accepted
    assert result.batches[0].attempts == 2
    assert len(server.requests()) == 1
    assert all(len(server.inbox(token)) == 1 for token in tokens)


async def test_503_retry_after_is_honoured(
    hmpush_emulator_server: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(1)
    server.add_fault(status=503, retry_after=1, times=1)
    caplog.set_level(logging.WARNING, logger="hmpush.client")
    async with _client(server) as client:
        result = await client.send(notification(), tokens)
    assert result.all_accepted and result.batches[0].attempts == 2
    [waited] = [
        float(match.group(1))
        for record in caplog.records
        if (match := re.search(r"retrying in ([0-9.]+) s", record.getMessage()))
    ]
    # The back-off alone would be at most 0.01 s; the server asked for 1 s.
    assert waited >= 1.0


async def test_retry_after_beyond_the_time_budget_gives_up_at_once(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    server.add_fault(status=503, retry_after=30)
    transport = CountingTransport()
    retry = RetryPolicy(max_attempts=5, max_total_seconds=5, initial_backoff=0.001)
    async with _client(server, transport, retry=retry) as client:
        with pytest.raises(QuotaError) as caught:
            await client.send(notification(), server.create_devices(1))
    assert caught.value.retry_after == 30.0
    assert caught.value.http_status == 503
    assert transport.count == 1


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_retried_until_the_attempt_limit(
    hmpush_emulator_server: EmulatorHandle, status: int
) -> None:
    server = hmpush_emulator_server
    server.add_fault(status=status)
    transport = CountingTransport()
    async with _client(server, transport) as client:
        with pytest.raises(ServerError) as caught:
            await client.send(notification(), server.create_devices(1))
    assert caught.value.http_status == status
    assert caught.value.code == str(status)
    assert caught.value.request_id  # the emulator's answers carry one even on 5xx
    assert transport.count == FAST_RETRY.max_attempts
    assert server.requests() == []


def _clock_wrong_for_first_signature() -> Callable[[], float]:
    readings = [time.time() - 7200]  # the first JWT is issued two hours in the past

    def clock() -> float:
        return readings.pop() if readings else time.time()

    return clock


async def test_expired_jwt_is_re_signed_once_and_the_request_retried(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    signer = JwtSigner(server.service_account, clock=_clock_wrong_for_first_signature())
    transport = CountingTransport()
    async with _client(server, transport, signer=signer) as client:
        result = await client.send(notification(), server.create_devices(2))
    assert result.all_accepted
    assert signer.signature_count == 2
    assert transport.count == 2


async def test_a_jwt_that_stays_expired_is_refused_after_one_re_signature(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    signer = JwtSigner(server.service_account, clock=lambda: time.time() - 7200)
    transport = CountingTransport()
    async with _client(server, transport, signer=signer) as client:
        with pytest.raises(AuthError) as caught:
            await client.send(notification(), server.create_devices(1))
    assert caught.value.code == codes.JWT_EXPIRED.code
    assert signer.signature_count == 2
    assert transport.count == 2


async def test_unknown_key_is_refused_without_retry(hmpush_emulator_server: EmulatorHandle) -> None:
    from hmpush.auth import ServiceAccount

    server = hmpush_emulator_server
    account = server.service_account
    stranger = ServiceAccount(
        project_id=account.project_id,
        key_id="0" * 32,
        sub_account=account.sub_account,
        private_key_pem=account.private_key_pem,
    )
    transport = CountingTransport()
    async with _client(server, transport, signer=JwtSigner(stranger)) as client:
        with pytest.raises(AuthError) as caught:
            await client.send(notification(), server.create_devices(1))
    assert caught.value.code == codes.AUTHENTICATION_ERROR.code
    assert transport.count == 1


@pytest.mark.parametrize(
    "entry",
    [
        codes.IMAGE_NOT_VERIFIED,
        codes.NO_PERMISSION,
        codes.MESSAGE_TOO_LONG,
        codes.TEST_MESSAGE_TOO_FREQUENT,
        codes.PENALTY,
        codes.AUTHENTICATION_ERROR,
    ],
    ids=lambda entry: entry.code,
)
async def test_permanent_refusals_are_raised_once_with_code_message_request_id_and_status(
    hmpush_emulator_server: EmulatorHandle, entry: codes.BusinessCode
) -> None:
    server = hmpush_emulator_server
    server.add_fault(code=entry.code)
    transport = CountingTransport()
    async with _client(server, transport) as client:
        with pytest.raises(PushError) as caught:
            await client.send(notification(), server.create_devices(1))
    error = caught.value
    assert isinstance(error, error_for_code(entry.code, "").__class__)
    assert (error.code, error.http_status) == (entry.code, entry.http_status)
    assert error.message.startswith(entry.message) and error.request_id
    assert transport.count == 1


@pytest.mark.parametrize("bound", [1, 3])
async def test_batches_go_out_concurrently_under_the_bound(
    hmpush_emulator_server: EmulatorHandle, bound: int
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(6 * 10)
    server.add_fault(latency_ms=100)  # long enough for every free slot to fill
    transport = ConcurrencyTransport()
    client = AsyncPushClient(
        server.service_account,
        endpoint=server.base_url,
        transport=transport,
        max_concurrency=bound,
    )
    async with client:
        result = await client.send(notification(), tokens, test_message=True)  # 10 per request
    assert result.all_accepted and len(result.batches) == 6
    assert transport.most == bound


async def test_100_concurrent_tasks_share_one_jwt(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(100)
    signer = JwtSigner(server.service_account)
    async with _client(server, signer=signer) as client:
        results = await asyncio.gather(*(client.send(notification(), [t]) for t in tokens))
    assert all(result.all_accepted for result in results)
    assert signer.signature_count == 1
    assert len(server.requests()) == 100


async def test_dropped_connection_is_retried_when_unanswered_retries_are_on(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(2)
    server.add_fault(drop_connection=True, times=1)
    async with _client(server) as client:
        result = await client.send(notification(), tokens)
    assert result.all_accepted and result.batches[0].attempts == 2
    assert all(len(server.inbox(token)) == 1 for token in tokens)


async def test_dropped_connection_is_reported_not_resent_by_default(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    server.add_fault(drop_connection=True, times=1)
    transport = CountingTransport()
    default = RetryPolicy(initial_backoff=0.001)
    async with _client(server, transport, retry=default) as client:
        with pytest.raises(TransportError) as caught:
            await client.send(notification(), server.create_devices(1))
    assert transport.count == 1
    assert may_have_been_accepted(caught.value)


async def test_an_answer_that_times_out_is_not_resent_because_it_may_have_been_accepted(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    [token] = server.create_devices(1)
    server.add_fault(latency_ms=1500, times=1)  # handled, and accepted, after the client gave up
    transport = CountingTransport()
    client = AsyncPushClient(
        server.service_account,
        endpoint=server.base_url,
        transport=transport,
        timeout=0.5,
        retry=RetryPolicy(initial_backoff=0.001),
    )
    async with client:
        with pytest.raises(TransportError) as caught:
            await client.send(notification(), [token])
    assert "ReadTimeout" in str(caught.value) and may_have_been_accepted(caught.value)
    assert transport.count == 1
    deadline = time.monotonic() + 10
    while not server.requests() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    # The server did accept it: a resend would have delivered the message twice.
    assert len(server.requests()) == 1 and len(server.inbox(token)) == 1


async def test_refused_connections_are_retried_then_reported(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    transport = CountingTransport()
    async with AsyncPushClient(
        hmpush_emulator_server.service_account,
        endpoint=f"http://127.0.0.1:{closed_port}",
        retry=FAST_RETRY,
        transport=transport,
    ) as client:
        with pytest.raises(TransportError) as caught:
            await client.send(notification(), ["MAMzLgEAAAAtoken"])
    assert "ConnectError" in str(caught.value)
    assert transport.count == FAST_RETRY.max_attempts


async def test_no_token_is_sent_twice_when_one_batch_is_retried(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(2500)
    server.add_fault(status=503, nth=2, times=1)  # the second request of the call
    async with _client(server) as client:
        result = await client.send(notification(), tokens)
    assert result.all_accepted
    assert sorted(batch.attempts for batch in result.batches) == [1, 1, 2]
    assert sorted(r["success"] for r in server.requests()) == [500, 1000, 1000]
    sample = tokens[::97]
    assert all(len(server.inbox(token)) == 1 for token in sample)


async def test_logs_shorten_tokens_and_never_show_the_jwt(
    hmpush_emulator_server: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(2)
    server.add_fault(status=503, times=1)
    server.add_fault(drop_connection=True, times=1)
    caplog.set_level(logging.DEBUG)
    async with _client(server) as client:
        result = await client.send(notification(), [*tokens, "bogus-token-value"])
    assert result.accepted == tokens
    client_lines = [r.getMessage() for r in caplog.records if r.name.startswith("hmpush")]
    assert sum("retrying in" in line for line in client_lines) == 2
    assert not any(token in line for token in tokens for line in client_lines)
    everything = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "eyJ" not in everything  # no JWT (header, claims or whole) in any log line
