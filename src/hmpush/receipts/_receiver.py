"""The receipt receiver: a small ASGI app that checks, stores and hands on Huawei's callbacks."""

from __future__ import annotations

import inspect
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio.to_thread
import pydantic
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hmpush.receipts._models import ReceiptBatch
from hmpush.receipts._signing import (
    CALLBACK_HEADER,
    DEFAULT_WINDOW_MS,
    CallbackAuthError,
    CallbackHeader,
    CallbackSecretError,
    SecretFormat,
    callback_key,
    check_callback_signature,
)
from hmpush.receipts._store import ReceiptStore

__all__ = ["MAX_CALLBACK_BODY_BYTES", "SUCCESS_REPLY", "ReceiptCallback", "create_receiver_app"]

logger = logging.getLogger("hmpush.receipts")

# The reply Huawei expects from a receiver that took the receipts (spec 11.2).
SUCCESS_REPLY = {"code": "0", "message": "success"}
# Choice: 100 statuses are a few tens of kB; anything past 1 MiB is not a receipt batch.
MAX_CALLBACK_BODY_BYTES = 1024 * 1024

ReceiptCallback = Callable[[ReceiptBatch], Awaitable[None] | None]
"""Called with each accepted batch; a plain function runs in a worker thread, or it is async.

A batch Huawei delivers twice reaches the callbacks twice (the store keeps one copy), so
callbacks should be idempotent, as any webhook consumer.
"""


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def create_receiver_app(
    store: ReceiptStore,
    *,
    user_name: str | None = None,
    secret: str | None = None,
    secret_format: SecretFormat = "base64",
    callbacks: Iterable[ReceiptCallback] = (),
    window_ms: int = DEFAULT_WINDOW_MS,
    path: str = "/",
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """An ASGI app that answers receipt callbacks at `path` and stores them in `store`.

    With `user_name` and `secret`, every callback must carry a valid, fresh, unused
    `X-HUAWEI-CALLBACK-ID` header (else 401); a body that is not a V2 batch gets 400. Refused
    callbacks store nothing; an accepted batch is stored whole, then `callbacks` run. When the
    store fails the answer is 503, so that the sender retries.
    """
    if window_ms < 1:
        raise ValueError("window_ms must be at least 1")
    if (user_name is None) != (secret is None):
        raise CallbackSecretError("give both the callback user name and the secret, or neither")
    if secret is not None:
        callback_key(secret, secret_format)  # fail now, not on the first callback
    receipt_callbacks = tuple(callbacks)

    app = FastAPI(title="hmpush receipt receiver", docs_url=None, redoc_url=None)
    app.state.receipt_store = store

    async def receive(request: Request) -> JSONResponse:
        now_ms = int(clock() * 1000)
        try:
            nonce = _checked_signature(
                request.headers.get(CALLBACK_HEADER),
                user_name=user_name,
                secret=secret,
                secret_format=secret_format,
                now_ms=now_ms,
                window_ms=window_ms,
            )
            batch = _parse_batch(await _read_body(request))
            stored = await anyio.to_thread.run_sync(
                lambda: store.save_batch(batch, nonce=nonce, now_ms=now_ms, window_ms=window_ms)
            )
        except _Refusal as refusal:
            logger.warning("receipt callback refused (%s): %s", refusal.reason, refusal.message)
            return _refuse(refusal.status, refusal.reason, refusal.message)
        except CallbackAuthError as error:  # a replay caught by the store
            logger.warning("receipt callback refused (%s): %s", error.reason, error)
            return _refuse(401, error.reason, str(error))
        except sqlite3.Error as error:
            # Not stored, so not acknowledged: a 503 makes the sender try again later.
            logger.error("could not store receipts: %s", error)
            return _refuse(503, "store_unavailable", "the receipt store cannot take receipts now")
        logger.info("stored %d new of %d receipts", stored, len(batch.statuses))
        await _run_callbacks(receipt_callbacks, batch)
        return JSONResponse(SUCCESS_REPLY)

    app.add_api_route(path, receive, methods=["POST"], summary="Receive a V2 receipt batch")
    return app


def _checked_signature(
    header: str | None,
    *,
    user_name: str | None,
    secret: str | None,
    secret_format: SecretFormat,
    now_ms: int,
    window_ms: int,
) -> CallbackHeader | None:
    if user_name is None or secret is None:
        return None  # no secret configured: Huawei sends no header and nothing can be checked
    try:
        return check_callback_signature(
            header,
            user_name=user_name,
            secret=secret,
            secret_format=secret_format,
            now_ms=now_ms,
            window_ms=window_ms,
        )
    except CallbackAuthError as error:
        raise _Refusal(401, error.reason, str(error)) from None


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_CALLBACK_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_CALLBACK_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> _Refusal:
    return _Refusal(413, "body_too_large", f"body exceeds {MAX_CALLBACK_BODY_BYTES} bytes")


def _parse_batch(body: bytes) -> ReceiptBatch:
    try:
        return ReceiptBatch.from_json(body)
    except pydantic.ValidationError as error:
        raise _Refusal(400, "malformed_receipt", describe_validation_error(error)) from None


def describe_validation_error(error: pydantic.ValidationError, limit: int = 5) -> str:
    """One line naming each faulty field by its JSON path and the rule it breaks."""
    problems = []
    for detail in error.errors()[:limit]:
        problems.append(f"{_json_path(detail['loc']) or 'body'}: {detail['msg']}")
    more = len(error.errors()) - limit
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)


def _json_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


async def _run_callbacks(callbacks: tuple[ReceiptCallback, ...], batch: ReceiptBatch) -> None:
    # The batch is already stored, so Huawei gets its success reply even when a user callback
    # fails; the failure is logged with its traceback for the user to fix.
    for callback in callbacks:
        try:
            if _is_async(callback):
                result = callback(batch)
            else:
                result = await anyio.to_thread.run_sync(callback, batch)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("receipt callback %r failed", callback)


def _is_async(callback: Any) -> bool:
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004
    )


def _refuse(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"code": reason, "message": message}, status_code=status)
