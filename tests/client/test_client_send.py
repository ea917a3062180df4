"""`AsyncPushClient.send` against the local Push server: results, batching, validation, previews."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import orjson
import pytest
from client_helpers import FAST_RETRY, notification, widget_refresh

from hmpush import codes
from hmpush.client import NOT_SENT, AsyncPushClient, RetryPolicy
from hmpush.errors import PermissionDeniedError, ServerError, ValidationError
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio

MALFORMED = "not a push token"


class CountingTransport(httpx2.AsyncBaseTransport):
    """Passes every request to the real transport and counts them (faults included)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.count = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def transport(hmpush_emulator: EmulatorHandle) -> CountingTransport:
    assert hmpush_emulator.transport is not None
    return CountingTransport(hmpush_emulator.transport)


@pytest.fixture
async def client(
    hmpush_emulator: EmulatorHandle, transport: CountingTransport
) -> AsyncIterator[AsyncPushClient]:
    async with AsyncPushClient(
        hmpush_emulator.service_account,
        endpoint=hmpush_emulator.base_url,
        transport=transport,
        retry=FAST_RETRY,
        max_concurrency=2,
    ) as push_client:
        yield push_client


async def test_send_delivers_and_reports_every_token(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(3)
    result = await client.send(notification("Hello"), tokens, bi_tag="launch")
    assert result.all_accepted
    assert [outcome.token for outcome in result] == tokens
    assert all(outcome.accepted and outcome.reason is None for outcome in result)
    [logged] = hmpush_emulator.requests()
    assert result.request_ids == [logged["requestId"]]
    assert logged["biTag"] == "launch"
    assert hmpush_emulator.inbox(tokens[0])[0]["payload"]["notification"]["title"] == "Hello"


async def test_partial_success_is_a_result_with_reasons_in_token_order(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    good = hmpush_emulator.create_devices(2)
    tokens = [good[0], MALFORMED, good[1]]
    result = await client.send(notification(), tokens)
    assert [(o.token, o.accepted, o.reason) for o in result] == [
        (good[0], True, None),
        (MALFORMED, False, codes.TokenFailure.TOKEN_FORMAT_ERROR.value),
        (good[1], True, None),
    ]
    assert result.batches[0].code == codes.PARTIAL_SUCCESS.code
    assert result.invalid_tokens == [MALFORMED]
    assert result.failures == {MALFORMED: codes.TokenFailure.TOKEN_FORMAT_ERROR.value}
    assert not result.all_accepted


async def test_all_tokens_invalid_is_a_result_not_an_exception(client: AsyncPushClient) -> None:
    result = await client.send(notification(), [MALFORMED, "also bad"])
    assert result.accepted == []
    assert result.batches[0].code == codes.ALL_TOKENS_INVALID.code
    assert result.batches[0].http_status == codes.ALL_TOKENS_INVALID.http_status
    assert sorted(result.invalid_tokens) == sorted([MALFORMED, "also bad"])


async def test_tokens_are_split_into_1000_token_requests_and_merged(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(2300)
    result = await client.send(notification(), iter(tokens))  # any iterable
    assert result.accepted_count == 2300 and result.all_accepted
    assert sorted(len(batch.tokens) for batch in result.batches) == [300, 1000, 1000]
    assert [outcome.token for outcome in result] == tokens
    assert sorted(r["success"] for r in hmpush_emulator.requests()) == [300, 1000, 1000]
    assert len(set(result.request_ids)) == 3


async def test_a_token_listed_twice_is_sent_once_and_counted(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(1001)
    given = [tokens[0], *tokens, tokens[1000], tokens[0]]  # repeats inside and across batches
    result = await client.send(notification(), given)
    assert [outcome.token for outcome in result] == tokens  # first-seen order, once each
    assert result.repeated_tokens == 3 and len(result) == 1001
    assert sorted(r["success"] for r in hmpush_emulator.requests()) == [1, 1000]
    assert len(hmpush_emulator.inbox(tokens[0])) == 1
    assert len(hmpush_emulator.inbox(tokens[1000])) == 1
    [preview] = client.dry_run(notification(), [tokens[0], tokens[0]])
    assert preview.tokens == [tokens[0]]


async def test_test_messages_go_10_tokens_per_request(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(25)
    result = await client.send(notification(), tokens, test_message=True)
    assert sorted(len(batch.tokens) for batch in result.batches) == [5, 10, 10]
    assert all(request["testMessage"] for request in hmpush_emulator.requests())


async def test_widget_refreshes_go_one_token_per_request_with_their_push_type(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(3)
    result = await client.send(widget_refresh(), tokens)
    assert len(result.batches) == 3 and result.all_accepted
    assert {request["pushType"] for request in hmpush_emulator.requests()} == {1}


async def test_local_validation_refuses_before_any_io(
    client: AsyncPushClient, transport: CountingTransport
) -> None:
    with pytest.raises(ValidationError) as caught:
        await client.send(notification(), ["MAMzLgEAAAAtoken"], ttl=-5)
    assert "ttl" in str(caught.value)
    with pytest.raises(ValidationError) as no_tokens:
        await client.send(notification(), [])
    assert no_tokens.value.code == codes.TOKEN_COUNT_OUT_OF_RANGE.code
    assert transport.count == 0


async def test_whole_request_refusal_raises_its_family_once(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient, transport: CountingTransport
) -> None:
    hmpush_emulator.set_project(push_enabled=False)
    with pytest.raises(PermissionDeniedError) as caught:
        await client.send(notification(), hmpush_emulator.create_devices(1))
    error = caught.value
    assert error.code == codes.NO_PERMISSION.code
    assert error.http_status == codes.NO_PERMISSION.http_status
    assert error.request_id
    assert transport.count == 1  # permanent: never retried


async def test_a_refused_batch_stops_the_call_and_keeps_what_was_accepted(
    hmpush_emulator: EmulatorHandle, transport: CountingTransport
) -> None:
    first = hmpush_emulator.create_devices(1000)
    # The second batch carries a marked token; the server fails every request holding it.
    marked = "MAMzLgEFAULTY" + "x" * 100
    second = [marked, *hmpush_emulator.create_devices(999)]
    third = hmpush_emulator.create_devices(10)
    hmpush_emulator.add_fault(token_prefix="MAMzLgEFAULTY", status=500)
    retry = RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001)
    async with AsyncPushClient(
        hmpush_emulator.service_account,
        endpoint=hmpush_emulator.base_url,
        transport=transport,
        retry=retry,
        max_concurrency=1,
    ) as client:
        result = await client.send(notification(), first + second + third)
    assert result.accepted == first
    [failure] = result.failed_batches
    assert failure.tokens == second and isinstance(failure.error, ServerError)
    assert result.not_sent == third
    assert {o.reason for o in result if o.token in third} == {NOT_SENT}
    assert transport.count == 1 + 2  # first batch once, second twice, third never


async def test_dry_run_shows_the_exact_request_without_io(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient, transport: CountingTransport
) -> None:
    tokens = ["MAMzLgEAAAAtoken-one", "MAMzLgEAAAAtoken-two"]
    [preview] = client.dry_run(notification("Preview"), tokens, ttl=60)
    assert preview.method == "POST"
    assert preview.url == hmpush_emulator.send_url
    assert preview.headers == {
        "Authorization": "Bearer <jwt redacted>",
        "push-type": "0",
        "Content-Type": "application/json",
    }
    body = orjson.loads(preview.body)
    assert body["target"] == {"token": tokens}
    assert body["pushOptions"] == {"ttl": 60}
    assert body["payload"]["notification"]["title"] == "Preview"
    assert transport.count == 0 and client.signer.signature_count == 0
    # The preview is what send() posts: the server accepts exactly these bytes.
    async with httpx2.AsyncClient(transport=transport) as http:
        headers = {**preview.headers, "Authorization": f"Bearer {client.signer.token()}"}
        answer = await http.post(preview.url, content=preview.body, headers=headers)
    assert answer.json()["code"] == codes.ALL_TOKENS_INVALID.code  # tokens are not registered


async def test_dry_run_previews_every_batch(client: AsyncPushClient) -> None:
    tokens = [f"MAMzLgEAAAAtoken{index:04d}" for index in range(2001)]
    previews = client.dry_run(notification(), tokens)
    assert [len(preview.tokens) for preview in previews] == [1000, 1000, 1]


async def test_send_prepared_is_one_request(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    from hmpush.messages import prepare

    prepared = prepare(notification())
    tokens = hmpush_emulator.create_devices(3)
    batch = await client.send_prepared(prepared, tokens)
    assert batch.accepted == tokens and batch.attempts == 1
    with pytest.raises(ValidationError) as caught:
        await client.send_prepared(prepared, tokens * 400)
    assert caught.value.code == codes.TOKEN_COUNT_OUT_OF_RANGE.code


async def test_concurrent_sends_share_one_client(
    hmpush_emulator: EmulatorHandle, client: AsyncPushClient
) -> None:
    tokens = hmpush_emulator.create_devices(20)
    results = await asyncio.gather(*(client.send(notification(), [token]) for token in tokens))
    assert all(result.all_accepted for result in results)
    assert client.signer.signature_count == 1


def test_bad_construction_arguments_are_refused(hmpush_emulator: EmulatorHandle) -> None:
    account = hmpush_emulator.service_account
    with pytest.raises(ValueError, match="endpoint"):
        AsyncPushClient(account, endpoint="push-api.cloud.huawei.com")
    with pytest.raises(ValueError, match="max_concurrency"):
        AsyncPushClient(account, max_concurrency=0)
