"""`PushClient`: the synchronous face of `AsyncPushClient`, run on a private event-loop thread.

Why a loop thread rather than a second, blocking implementation (httpx's approach): one `send`
sends its batches concurrently, and doing that from blocking code needs threads anyway. Running
the one async implementation on a private loop gives sync callers the same concurrency, retries,
JWT cache and connection pool with no second copy of any of it to keep in step; the whole
sync-only code is this file. It also lets the sync client use async transports, such as the
in-process `httpx2.ASGITransport` of the local Push server. The price is a thread per client and a
hand-off of about 0.1 ms per call (measured on a busy 2-core machine), small next to one HTTP
round trip; `benchmarks/client.py` shows no throughput lost. The client is safe to share between
threads (all calls are queued onto its one loop). Create clients after a `fork()`, not before:
the loop thread does not survive into the child.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx2

from hmpush.auth import JwtSigner
from hmpush.client._async_client import AsyncPushClient, Credentials
from hmpush.client._protocol import DEFAULT_ENDPOINT
from hmpush.client._results import BatchResult, HttpRequestPreview, SendResult
from hmpush.client._retry import RetryPolicy
from hmpush.messages import Payload, PreparedMessage

__all__ = ["PushClient"]

_T = TypeVar("_T")


class _LoopThread:
    """An event loop running forever on a daemon thread, accepting coroutines from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="hmpush-client-loop", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("PushClient cannot be called from its own event-loop thread")
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the work too
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is self.thread:
            return  # collected on its own thread: the loop stops when this callback returns
        self.thread.join()
        self.loop.close()


class PushClient:
    """The synchronous client: the same methods as `AsyncPushClient`, blocking until done.

    Share one per project between threads. Use it as a context manager, or call `close()`.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float = 10.0,
        http2: bool = False,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        transport: httpx2.AsyncBaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._client = AsyncPushClient(
            credentials,
            endpoint=endpoint,
            timeout=timeout,
            http2=http2,
            retry=retry,
            max_concurrency=max_concurrency,
            transport=transport,
            ssl_context=ssl_context,
        )
        self._runner = _LoopThread()
        self._closed = False
        # A client dropped without close() still stops its thread when collected.
        self._finalizer = weakref.finalize(self, self._runner.stop)

    def __repr__(self) -> str:
        return f"PushClient(project_id={self.project_id!r}, endpoint={self.endpoint!r})"

    @property
    def project_id(self) -> str:
        """The project every request is sent for (from the service account)."""
        return self._client.project_id

    @property
    def endpoint(self) -> str:
        """The Push server's base URL."""
        return self._client.endpoint

    @property
    def signer(self) -> JwtSigner:
        """The JWT signer (shared by every request of this client)."""
        return self._client.signer

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry limits applied to each request."""
        return self._client.retry_policy

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._client.aclose())
        finally:
            self._finalizer()

    def send(
        self,
        message: Payload,
        tokens: Iterable[str],
        *,
        test_message: bool = False,
        ttl: int | None = None,
        bi_tag: str | None = None,
        receipt_id: str | None = None,
        collapse_key: int | None = None,
        background_mode: int | None = None,
    ) -> SendResult:
        """Validate `message` locally, send it to every token in batches and merge the results."""
        return self._run(
            self._client.send(
                message,
                list(tokens),
                test_message=test_message,
                ttl=ttl,
                bi_tag=bi_tag,
                receipt_id=receipt_id,
                collapse_key=collapse_key,
                background_mode=background_mode,
            )
        )

    def send_prepared(
        self,
        prepared: PreparedMessage,
        tokens: Sequence[str],
        *,
        retry: RetryPolicy | None = None,
    ) -> BatchResult:
        """Send one request's worth of tokens, retrying per the policy; raises on refusal."""
        return self._run(self._client.send_prepared(prepared, list(tokens), retry=retry))

    def dry_run(
        self,
        message: Payload,
        tokens: Iterable[str],
        *,
        test_message: bool = False,
        ttl: int | None = None,
        bi_tag: str | None = None,
        receipt_id: str | None = None,
        collapse_key: int | None = None,
        background_mode: int | None = None,
    ) -> list[HttpRequestPreview]:
        """Validate and return the exact requests `send` would make, without any I/O."""
        return self._client.dry_run(
            message,
            tokens,
            test_message=test_message,
            ttl=ttl,
            bi_tag=bi_tag,
            receipt_id=receipt_id,
            collapse_key=collapse_key,
            background_mode=background_mode,
        )

    def preview_prepared(
        self, prepared: PreparedMessage, tokens: Iterable[str]
    ) -> list[HttpRequestPreview]:
        """The exact requests sending `prepared` to `tokens` would make (JWT redacted)."""
        return self._client.preview_prepared(prepared, tokens)

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if self._closed:
            coroutine.close()
            raise RuntimeError("this PushClient is closed")
        return self._runner.run(coroutine)
