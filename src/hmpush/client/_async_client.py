"""`AsyncPushClient`: the one implementation of sending; `PushClient` drives it from sync code."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx2

from hmpush import codes
from hmpush._redact import shorten_token
from hmpush.auth import JwtSigner, ServiceAccount
from hmpush.client._protocol import (
    DEFAULT_ENDPOINT,
    interpret_response,
    request_headers,
    send_url,
)
from hmpush.client._results import BatchFailure, BatchResult, HttpRequestPreview, SendResult
from hmpush.client._retry import RetryPolicy, build_retrying
from hmpush.errors import PushError, TransportError
from hmpush.messages import Payload, PreparedMessage, PushOptions, prepare

__all__ = ["AsyncPushClient", "Credentials"]

Credentials = ServiceAccount | JwtSigner | str | os.PathLike[str] | Mapping[str, Any]

logger = logging.getLogger("hmpush.client")


@dataclass(slots=True)
class _CallState:
    """What one `send_prepared` call remembers across its attempts."""

    attempts: int = 0
    jwt_refreshed: bool = False


class AsyncPushClient:
    """Sends v3 messages over one pooled HTTP connection set, with retries and per-token results.

    Build one per project and share it between tasks: it signs one JWT per validity window and
    keeps at most `max_concurrency` requests in flight. Use it as an async context manager, or
    call `aclose()`. `ssl_context` replaces the system's trusted CAs (e.g. for a local server
    with its own certificate); certificates are always verified.
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
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        self._signer = credentials if isinstance(credentials, JwtSigner) else JwtSigner(credentials)
        self._endpoint = _checked_endpoint(endpoint)
        self._url = send_url(self._endpoint, self.project_id)
        self._parsed_url = httpx2.URL(self._url)  # parsed once, not on every request (~12 us)
        self._retry = retry if retry is not None else RetryPolicy()
        self._max_concurrency = max_concurrency
        # Waiting happens here, not in the pool, so a busy client never hits a pool timeout.
        self._slots = asyncio.Semaphore(max_concurrency)
        limits = httpx2.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        self._http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout),
            http2=http2,
            limits=limits,
            transport=transport,
            verify=ssl_context if ssl_context is not None else True,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"AsyncPushClient(project_id={self.project_id!r}, endpoint={self._endpoint!r})"

    @property
    def project_id(self) -> str:
        """The project every request is sent for (from the service account)."""
        return self._signer.account.project_id

    @property
    def endpoint(self) -> str:
        """The Push server's base URL."""
        return self._endpoint

    @property
    def signer(self) -> JwtSigner:
        """The JWT signer (shared by every request of this client)."""
        return self._signer

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry limits applied to each request."""
        return self._retry

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(
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
        """Validate `message` locally, send it to every token in batches and merge the results.

        Batches hold up to `max_tokens_per_request` tokens (1000; 10 for test messages; 1 for
        widget refreshes) and go out concurrently. A token listed more than once is sent once
        (and has one outcome); `SendResult.repeated_tokens` counts the extra copies. A request
        is sent again only when the server refused it as a whole (503, 502, 500) or it never
        reached the server, so no token is delivered twice by one call. One the server may
        have received but never answered (a read timeout, a connection dropped mid-request) is
        reported, not resent, unless the policy says `retry_unanswered=True`.

        Per-token refusals (`80100000`, `80300007`) are in the result. A refusal of a whole
        request stops the call: if nothing was accepted it is raised (a `PushError`
        family, or `TransportError`); otherwise the result lists it in `failed_batches` and the
        batches never tried in `not_sent`.
        """
        prepared = prepare(
            message,
            _push_options(test_message, ttl, bi_tag, receipt_id, collapse_key, background_mode),
        )
        return await self._send_batches(prepared, tokens)

    async def _send_batches(self, prepared: PreparedMessage, tokens: Iterable[str]) -> SendResult:
        batches, repeated = _batches(prepared, tokens)
        results: list[BatchResult | BatchFailure | None] = [None] * len(batches)
        pending = iter(enumerate(batches))
        refused = asyncio.Event()

        async def worker() -> None:
            for index, batch in pending:
                if refused.is_set():
                    return
                try:
                    results[index] = await self.send_prepared(prepared, batch)
                except (PushError, TransportError) as error:
                    # The next batches would meet the same refusal; do not send them.
                    results[index] = BatchFailure(batch, error)
                    refused.set()

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._max_concurrency, len(batches))):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:
            # Only an unexpected failure gets here; surface it as itself, not wrapped.
            raise group_error.exceptions[0] from None
        return _merge(batches, results, repeated)

    async def send_prepared(
        self,
        prepared: PreparedMessage,
        tokens: Sequence[str],
        *,
        retry: RetryPolicy | None = None,
    ) -> BatchResult:
        """Send one request's worth of tokens, retrying per the policy; raises on refusal.

        The tokens go out exactly as given, in one request. `retry` replaces the client's
        policy for this call (a campaign sends with `RetryPolicy.never()`-like limits and
        decides itself what to send again).
        """
        policy = retry if retry is not None else self._retry
        tokens = list(tokens)
        body = prepared.body_for(tokens)
        push_type = int(prepared.push_type)
        state = _CallState()
        started = time.monotonic()
        try:
            return await self._attempt(body, push_type, tokens, state)
        except (PushError, TransportError) as error:
            if not policy.allows_retry(error):
                raise
            first_failure: PushError | TransportError = error
        # Only now does tenacity take over (it costs more than a request on the happy path):
        # its first "attempt" replays the failure just met, so waits, limits and logs count it.
        replay: list[PushError | TransportError] = [first_failure]

        async def attempt() -> BatchResult:
            if replay:
                raise replay.pop()
            return await self._attempt(body, push_type, tokens, state)

        what = f"project {self.project_id}, {len(tokens)} tokens from {_first(tokens)}"
        result: BatchResult = await build_retrying(policy, what, started)(attempt)
        return result

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
        prepared = prepare(
            message,
            _push_options(test_message, ttl, bi_tag, receipt_id, collapse_key, background_mode),
        )
        return self.preview_prepared(prepared, tokens)

    def preview_prepared(
        self, prepared: PreparedMessage, tokens: Iterable[str]
    ) -> list[HttpRequestPreview]:
        """The exact requests sending `prepared` to `tokens` would make (JWT redacted)."""
        headers = request_headers(None, int(prepared.push_type))
        return [
            HttpRequestPreview("POST", self._url, dict(headers), prepared.body_for(batch), batch)
            for batch in _batches(prepared, tokens)[0]
        ]

    async def _attempt(
        self, body: bytes, push_type: int, tokens: list[str], state: _CallState
    ) -> BatchResult:
        state.attempts += 1
        jwt = await self._signer.atoken()
        try:
            return await self._post(body, push_type, tokens, jwt, state)
        except PushError as error:
            if error.code != codes.JWT_EXPIRED.code or state.jwt_refreshed:
                raise
            # The server finds our JWT expired (clock skew, a suspended machine): re-sign once.
            state.jwt_refreshed = True
            logger.warning("project %s: JWT refused as expired; signing a new one", self.project_id)
            jwt = await self._signer.arefresh(jwt)
            return await self._post(body, push_type, tokens, jwt, state)

    async def _post(
        self, body: bytes, push_type: int, tokens: list[str], jwt: str, state: _CallState
    ) -> BatchResult:
        headers = request_headers(jwt, push_type)
        async with self._slots:
            try:
                response = await self._http.post(self._parsed_url, content=body, headers=headers)
            except httpx2.TransportError as error:
                self._log_failure(tokens, state, f"{type(error).__name__}: {error}")
                raise TransportError(
                    f"push-type {push_type} request to {self._url} failed: "
                    f"{type(error).__name__}: {error}"
                ) from error
        try:
            result = interpret_response(
                response.status_code,
                response.content,
                response.headers,
                tokens,
                attempts=state.attempts,
            )
        except PushError as error:
            self._log_failure(tokens, state, f"{error.code} (HTTP {error.http_status})")
            raise
        logger.debug(
            "project %s: request %s, push-type %d, %d tokens from %s: code %s",
            self.project_id,
            result.request_id,
            push_type,
            len(tokens),
            _first(tokens),
            result.code,
        )
        return result

    def _log_failure(self, tokens: list[str], state: _CallState, what: str) -> None:
        logger.info(
            "project %s: attempt %d for %d tokens from %s failed: %s",
            self.project_id,
            state.attempts,
            len(tokens),
            _first(tokens),
            what,
        )


def _first(tokens: Sequence[str]) -> str:
    return shorten_token(tokens[0]) if tokens else "-"


def _checked_endpoint(endpoint: str) -> str:
    url = httpx2.URL(endpoint)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"endpoint must be an http(s) URL such as {DEFAULT_ENDPOINT}, got {endpoint!r}"
        )
    return endpoint.rstrip("/")


def _push_options(
    test_message: bool,
    ttl: int | None,
    bi_tag: str | None,
    receipt_id: str | None,
    collapse_key: int | None,
    background_mode: int | None,
) -> PushOptions | None:
    given: dict[str, Any] = {
        "test_message": test_message or None,
        "ttl": ttl,
        "bi_tag": bi_tag,
        "receipt_id": receipt_id,
        "collapse_key": collapse_key,
        "background_mode": background_mode,
    }
    chosen = {name: value for name, value in given.items() if value is not None}
    return PushOptions(**chosen) if chosen else None


def _batches(prepared: PreparedMessage, tokens: Iterable[str]) -> tuple[list[list[str]], int]:
    """The call's tokens, each once and in first-seen order, in batches; and how many repeats
    were dropped. (A careful caller expects one message per device per call; looking for
    repeats costs ~50 us per 1000 tokens, a few per cent of a 1000-token request's CPU.)"""
    given = tokens if isinstance(tokens, list) else list(tokens)
    # A set finds out whether there are repeats at half the cost of the ordered de-duplication.
    unique = given if len(set(given)) == len(given) else list(dict.fromkeys(given))
    if not unique:
        prepared.body_for(unique)  # raises the token-count refusal (80300010) with its text
    size = prepared.max_tokens_per_request
    batches = [unique[start : start + size] for start in range(0, len(unique), size)]
    return batches, len(given) - len(unique)


def _merge(
    batches: list[list[str]], results: list[BatchResult | BatchFailure | None], repeated: int
) -> SendResult:
    answered = [r for r in results if isinstance(r, BatchResult)]
    failed = [r for r in results if isinstance(r, BatchFailure)]
    not_sent = [
        token for batch, r in zip(batches, results, strict=True) if r is None for token in batch
    ]
    if failed and not answered:
        # Nothing was accepted: the refusal is the call's outcome, raised like a single request's.
        raise failed[0].error
    return SendResult(answered, failed, not_sent, repeated)
