"""The receiver app in-process (httpx2.ASGITransport): replies, refusals, storage, callbacks."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from fastapi import FastAPI
from receipts_support import batch, status

from hmpush.receipts import (
    CALLBACK_HEADER,
    MAX_CALLBACK_BODY_BYTES,
    SUCCESS_REPLY,
    CallbackSecretError,
    ReceiptBatch,
    ReceiptStore,
    create_receiver_app,
    sign_callback,
)

pytestmark = pytest.mark.anyio

USER = "receipt-user"
SECRET = "c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5"
NOW_MS = 1_764_400_000_000


def _clock() -> float:
    return NOW_MS / 1000


def _signed(**overrides: Any) -> dict[str, str]:
    arguments: dict[str, Any] = {"secret_format": "base64", "timestamp_ms": NOW_MS}
    arguments.update(overrides)
    return {CALLBACK_HEADER: sign_callback(USER, SECRET, **arguments)}


@pytest.fixture
def store() -> ReceiptStore:
    return ReceiptStore()


def _client(app: FastAPI) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://receiver")


@pytest.fixture
async def signed_client(store: ReceiptStore) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_receiver_app(store, user_name=USER, secret=SECRET, clock=_clock)
    async with _client(app) as client:
        yield client


GOOD = batch(status("tok-a", 0, bi_tag="sale"), status("tok-b", 2, bi_tag="sale"))


async def test_unsigned_receiver_stores_and_answers_huawei_success(store: ReceiptStore) -> None:
    async with _client(create_receiver_app(store)) as client:
        response = await client.post("/", content=GOOD.to_json())
    assert response.status_code == 200
    assert response.json() == SUCCESS_REPLY
    assert store.receipts() == GOOD.statuses


async def test_signed_callback_is_stored(
    signed_client: httpx2.AsyncClient, store: ReceiptStore
) -> None:
    response = await signed_client.post("/", content=GOOD.to_json(), headers=_signed())
    assert (response.status_code, response.json()) == (200, SUCCESS_REPLY)
    assert store.count() == 2


async def test_utf8_secret_format(store: ReceiptStore) -> None:
    app = create_receiver_app(
        store, user_name=USER, secret="plain-secret", secret_format="utf8", clock=_clock
    )
    header = sign_callback(USER, "plain-secret", secret_format="utf8", timestamp_ms=NOW_MS)
    async with _client(app) as client:
        good = await client.post("/", content=GOOD.to_json(), headers={CALLBACK_HEADER: header})
        as_base64 = sign_callback(USER, "cGxhaW4tc2VjcmV0", secret_format="base64")
        bad = await client.post("/", content=GOOD.to_json(), headers={CALLBACK_HEADER: as_base64})
    assert good.status_code == 200
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({CALLBACK_HEADER: "timestamp=1;nonce=x"}, "malformed_signature"),
        (
            {CALLBACK_HEADER: sign_callback(USER, "b3RoZXI=", secret_format="base64")},
            "signature_mismatch",
        ),
        (
            {CALLBACK_HEADER: sign_callback("intruder", SECRET, secret_format="base64")},
            "signature_mismatch",
        ),
        (_signed(timestamp_ms=NOW_MS - 10 * 60 * 1000), "stale_timestamp"),
        (_signed(timestamp_ms=NOW_MS + 10 * 60 * 1000), "stale_timestamp"),
    ],
    ids=["unsigned", "malformed", "forged-secret", "forged-user", "stale", "future"],
)
async def test_bad_signatures_get_401_and_store_nothing(
    signed_client: httpx2.AsyncClient,
    store: ReceiptStore,
    headers: dict[str, str],
    reason: str,
) -> None:
    response = await signed_client.post("/", content=GOOD.to_json(), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == reason
    assert CALLBACK_HEADER in response.json()["message"]
    assert store.count() == 0


async def test_replayed_header_gets_401_and_its_batch_is_not_stored(
    signed_client: httpx2.AsyncClient, store: ReceiptStore
) -> None:
    headers = _signed()
    first = await signed_client.post("/", content=batch(status("tok-a")).to_json(), headers=headers)
    replay = await signed_client.post(
        "/", content=batch(status("tok-evil", 2)).to_json(), headers=headers
    )
    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["code"] == "replayed_nonce"
    assert [receipt.token for receipt in store.receipts()] == ["tok-a"]


async def test_replay_is_refused_after_a_restart(tmp_path: Path) -> None:
    headers = _signed()
    body = batch(status("tok-a")).to_json()
    for expected_status in (200, 401):
        with ReceiptStore(tmp_path / "receipts.db") as store:
            app = create_receiver_app(store, user_name=USER, secret=SECRET, clock=_clock)
            async with _client(app) as client:
                response = await client.post("/", content=body, headers=headers)
            assert response.status_code == expected_status


def _good_status(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = orjson.loads(batch(status("tok-ok")).to_json())["statuses"][0]
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "Invalid JSON"),
        (b"{not json", "Invalid JSON"),
        (b"[]", "body: Input should be an object"),
        (orjson.dumps({"statuses": []}), "statuses"),
        (orjson.dumps({"statuses": [_good_status()] * 101}), "statuses"),
        (
            orjson.dumps({"statuses": [_good_status(), _good_status(token=None)]}),
            "statuses[1].token",
        ),
        (
            orjson.dumps({"statuses": [_good_status(deliveryStatus={"result": "0"})]}),
            "statuses[0].deliveryStatus.result",
        ),
        (
            orjson.dumps({"statuses": [_good_status(deliveryStatus=None)]}),
            "exactly one of deliveryStatus and formStatus",
        ),
        (
            orjson.dumps({"statuses": [_good_status(deliveryStatus={"result": 2**31})]}),
            "statuses[0].deliveryStatus.result",
        ),
        (
            b'{"statuses": [{"token": "t", "pushType": 0, "appPackageName": "a", "requestId": "r",'
            b' "deliveryStatus": {"result": 0, "timestamp": 9223372036854775808}}]}',
            "statuses[0].deliveryStatus.timestamp",
        ),
        (
            orjson.dumps({"statuses": [_good_status(pushType=2**62)]}),
            "statuses[0].pushType",
        ),
    ],
    ids=[
        "empty",
        "not-json",
        "array",
        "no-statuses",
        "101",
        "bad-second",
        "string-result",
        "none",
        "huge-result",
        "huge-timestamp",
        "huge-push-type",
    ],
)
async def test_malformed_bodies_get_400_naming_the_field_and_nothing_is_stored(
    signed_client: httpx2.AsyncClient, store: ReceiptStore, body: bytes, fragment: str
) -> None:
    response = await signed_client.post("/", content=body, headers=_signed())
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_receipt"
    assert fragment in response.json()["message"]
    assert store.count() == 0


async def test_a_refused_body_does_not_use_up_the_nonce(
    signed_client: httpx2.AsyncClient, store: ReceiptStore
) -> None:
    headers = _signed()
    refused = await signed_client.post("/", content=b"{}", headers=headers)
    accepted = await signed_client.post("/", content=GOOD.to_json(), headers=headers)
    assert (refused.status_code, accepted.status_code) == (400, 200)


async def test_oversized_body_gets_413(
    signed_client: httpx2.AsyncClient, store: ReceiptStore
) -> None:
    body = b" " * (MAX_CALLBACK_BODY_BYTES + 1)
    response = await signed_client.post("/", content=body, headers=_signed())
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


async def test_other_methods_and_paths_are_not_receipts(store: ReceiptStore) -> None:
    async with _client(create_receiver_app(store, path="/huawei/receipts")) as client:
        assert (await client.get("/huawei/receipts")).status_code == 405
        assert (await client.post("/", content=GOOD.to_json())).status_code == 404
        assert (await client.post("/huawei/receipts", content=GOOD.to_json())).status_code == 200


async def test_an_unavailable_store_answers_503_so_the_sender_retries() -> None:
    store = ReceiptStore()
    app = create_receiver_app(store)
    store.close()
    async with _client(app) as client:
        response = await client.post("/", content=GOOD.to_json())
    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"


async def test_sync_and_async_callbacks_receive_each_stored_batch(store: ReceiptStore) -> None:
    seen_sync: list[tuple[ReceiptBatch, str]] = []
    seen_async: list[ReceiptBatch] = []

    def on_batch(received: ReceiptBatch) -> None:
        seen_sync.append((received, threading.current_thread().name))

    async def on_batch_async(received: ReceiptBatch) -> None:
        seen_async.append(received)

    app = create_receiver_app(store, callbacks=[on_batch, on_batch_async])
    async with _client(app) as client:
        await client.post("/", content=GOOD.to_json())
        await client.post("/", content=b"{}")
    assert [received for received, _ in seen_sync] == [GOOD]
    assert seen_sync[0][1] != threading.main_thread().name  # blocking code stays off the loop
    assert seen_async == [GOOD]


async def test_a_failing_callback_does_not_lose_the_batch(
    store: ReceiptStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(received: ReceiptBatch) -> None:
        raise RuntimeError("user code failed")

    async with _client(create_receiver_app(store, callbacks=[broken])) as client:
        response = await client.post("/", content=GOOD.to_json())
    assert response.status_code == 200
    assert store.count() == 2
    assert "user code failed" in caplog.text


@pytest.mark.parametrize(
    "configure",
    [
        lambda store: create_receiver_app(store, user_name=USER),
        lambda store: create_receiver_app(store, secret=SECRET),
        lambda store: create_receiver_app(store, user_name=USER, secret="not base64!"),
    ],
    ids=["user-without-secret", "secret-without-user", "bad-base64"],
)
def test_bad_configuration_fails_at_creation(
    store: ReceiptStore, configure: Callable[[ReceiptStore], FastAPI]
) -> None:
    with pytest.raises(CallbackSecretError):
        configure(store)
