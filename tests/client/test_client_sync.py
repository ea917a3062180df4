"""`PushClient` (sync) over real HTTP and in-process, shared by threads; projects side by side."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from client_helpers import FAST_RETRY, notification

from hmpush import codes
from hmpush.auth import JwtSigner
from hmpush.client import AsyncPushClient, PushClient
from hmpush.errors import ServerError
from hmpush.testing import EmulatorHandle, EmulatorServer, server_handle


def test_sync_client_sends_and_reports(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(2)
    with PushClient(server.service_account, endpoint=server.base_url, retry=FAST_RETRY) as client:
        result = client.send(notification(), [tokens[0], "bad token", tokens[1]], ttl=120)
        [preview] = client.dry_run(notification(), tokens)
    assert result.accepted == tokens
    assert result.failures == {"bad token": codes.TokenFailure.TOKEN_FORMAT_ERROR.value}
    assert result.request_ids == [server.requests()[0]["requestId"]]
    assert preview.headers["Authorization"] == "Bearer <jwt redacted>"


def test_sync_client_retries_like_the_async_one(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    server.add_fault(status=503, times=2)
    with PushClient(server.service_account, endpoint=server.base_url, retry=FAST_RETRY) as client:
        result = client.send(notification(), server.create_devices(1))
        assert result.batches[0].attempts == 3
        server.add_fault(status=500)
        with pytest.raises(ServerError):
            client.send(notification(), server.create_devices(1))


def test_sync_client_works_in_process(hmpush_emulator: EmulatorHandle) -> None:
    tokens = hmpush_emulator.create_devices(3)
    with PushClient(
        hmpush_emulator.service_account,
        endpoint=hmpush_emulator.base_url,
        transport=hmpush_emulator.transport,
    ) as client:
        assert client.send(notification(), tokens).all_accepted


def test_threads_share_one_sync_client_and_one_jwt(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(40)
    signer = JwtSigner(server.service_account)
    with (
        PushClient(signer, endpoint=server.base_url) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        results = list(pool.map(lambda token: client.send(notification(), [token]), tokens))
    assert all(result.all_accepted for result in results)
    assert signer.signature_count == 1
    assert len(server.requests()) == 40


def test_closed_sync_client_refuses_work_and_stops_its_thread(
    hmpush_emulator_server: EmulatorHandle,
) -> None:
    client = PushClient(hmpush_emulator_server.service_account)
    loop_thread = client._runner.thread
    assert loop_thread.is_alive()
    client.close()
    client.close()  # idempotent
    assert not loop_thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        client.send(notification(), ["MAMzLgEAAAAtoken"])


def test_dropped_sync_client_stops_its_thread(hmpush_emulator_server: EmulatorHandle) -> None:
    client = PushClient(hmpush_emulator_server.service_account)
    loop_thread = client._runner.thread
    del client
    gc.collect()
    loop_thread.join(timeout=10)
    assert not loop_thread.is_alive()


def test_sync_client_can_be_called_from_async_code(hmpush_emulator_server: EmulatorHandle) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(1)

    async def inside_a_running_loop() -> bool:
        with PushClient(server.service_account, endpoint=server.base_url) as client:
            return client.send(notification(), tokens).all_accepted

    assert asyncio.run(inside_a_running_loop())


@pytest.fixture
def second_project(
    hmpush_emulator_server_process: EmulatorServer,
) -> Iterator[EmulatorHandle]:
    handle, close = server_handle(hmpush_emulator_server_process.base_url)
    try:
        yield handle
    finally:
        close()


@pytest.mark.anyio
async def test_clients_for_two_projects_work_side_by_side(
    hmpush_emulator_server: EmulatorHandle, second_project: EmulatorHandle
) -> None:
    first, second = hmpush_emulator_server, second_project
    first_tokens, second_tokens = first.create_devices(3), second.create_devices(3)
    async with (
        AsyncPushClient(first.service_account, endpoint=first.base_url) as first_client,
        AsyncPushClient(second.service_account, endpoint=second.base_url) as second_client,
    ):
        results = await asyncio.gather(
            first_client.send(notification("one"), first_tokens),
            second_client.send(notification("two"), second_tokens),
            # A token of the other project is refused per token (noRight), not sent there.
            first_client.send(notification("wrong"), second_tokens[:1]),
        )
    assert results[0].all_accepted and results[1].all_accepted
    assert results[2].failures == {second_tokens[0]: codes.TokenFailure.NO_RIGHT.value}
    assert len(first.requests()) == 1 and len(second.requests()) == 1
    assert [
        entry["payload"]["notification"]["title"] for entry in second.inbox(second_tokens[0])
    ] == ["two"]
