"""When and how long to wait before sending a refused or unanswered request again.

The policy is data (`RetryPolicy`); `build_retrying` turns it into a tenacity `AsyncRetrying`
for one call. What is worth retrying is decided here and nowhere else:

* a whole-request refusal the code table marks retryable (HTTP 503 flow control, 502, 500,
  `81000001`), waiting at least as long as the server's `Retry-After`;
* a request that never reached the server (connection refused, connect or pool timeout, an error
  while writing the body): the server cannot have acted on it; except a server certificate that
  fails verification, which would fail again;
* a request the server received but never answered (read timeout, connection dropped before the
  answer) only when `RetryPolicy.retry_unanswered` is set. Such a request may have been
  accepted, so sending it again can deliver it twice; by default the client keeps its promise
  that a token is sent twice in one call only after the server refused the whole request, and
  raises `TransportError` instead (`may_have_been_accepted(error)` is then true). Huawei's API
  has no idempotency key, so no client can retry such a request safely.

Everything else (payload, auth, permission and quota refusals, per-token failures) is permanent
and never retried. `80200005` is handled before this module is consulted: the client re-signs its
JWT once and sends again at once.
"""

from __future__ import annotations

import email.utils
import logging
import math
import ssl
import time
from dataclasses import dataclass

import httpx2
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from hmpush.errors import PushError, TransportError

__all__ = ["RetryPolicy", "build_retrying", "may_have_been_accepted", "parse_retry_after"]

logger = logging.getLogger("hmpush.client")

# Transport failures after which the server cannot have processed the request.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.WriteError,
    httpx2.WriteTimeout,
)
# Transport failures after which the server may or may not have processed the request.
_UNANSWERED_ERRORS: tuple[type[Exception], ...] = (
    httpx2.ReadError,
    httpx2.ReadTimeout,
    httpx2.RemoteProtocolError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry limits: at most `max_attempts` requests and `max_total_seconds` per batch.

    `retry_unanswered=True` also resends requests that may have been accepted (a read timeout,
    a connection dropped mid-request): never lost, but possibly delivered twice.
    """

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    retry_unanswered: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.max_total_seconds <= 0 or self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy durations must be positive")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that sends every request exactly once."""
        return cls(max_attempts=1)

    def allows_retry(self, error: BaseException) -> bool:
        """Whether the request that failed with `error` is worth another attempt."""
        if isinstance(error, PushError):
            return error.retryable  # never for an unreadable 2xx answer (see `_protocol`)
        if isinstance(error, TransportError):
            cause = error.__cause__
            if _is_certificate_failure(cause):
                return False  # the same certificate will fail the same way
            if isinstance(cause, _NOT_SENT_ERRORS):
                return True
            return self.retry_unanswered and isinstance(cause, _UNANSWERED_ERRORS)
        return False


def may_have_been_accepted(error: BaseException) -> bool:
    """Whether the request that failed with `error` may still have been accepted by the server.

    True when the server received the request but no answer could be read: the connection
    dropped or timed out while waiting for the answer, or a 2xx answer was not a Push Kit
    answer. Sending such a request again may deliver it twice.
    """
    if isinstance(error, PushError):
        return error.http_status is not None and 200 <= error.http_status < 300
    if isinstance(error, TransportError):
        return isinstance(error.__cause__, _UNANSWERED_ERRORS)
    return False


def _is_certificate_failure(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 10:  # httpx wraps httpcore, which wraps ssl
        if isinstance(error, ssl.SSLCertVerificationError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class _BackoffHonouringRetryAfter:
    """Full-jitter exponential back-off, never shorter than the server's `Retry-After`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(
            multiplier=policy.initial_backoff, max=policy.max_backoff
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff: float = self._jitter(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            return max(backoff, float(retry_after))
        return backoff


class _StopWhenOutOfTime(stop_base):
    """Stop when the next wait would end past the deadline (`time.monotonic()` seconds)."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep >= self._deadline


def build_retrying(policy: RetryPolicy, what: str, started: float) -> AsyncRetrying:
    """A fresh tenacity controller for one batch (tenacity objects keep per-call state).

    `started` is when the batch's first attempt began (`time.monotonic()`); `what` names the
    batch in log lines (project and a shortened first token, never a JWT).
    """

    def log_retry(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        logger.warning(
            "%s: attempt %d failed (%s); retrying in %.3f s",
            what,
            retry_state.attempt_number,
            _describe(error),
            retry_state.upcoming_sleep,
        )

    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts)
        | _StopWhenOutOfTime(started + policy.max_total_seconds),
        wait=_BackoffHonouringRetryAfter(policy),
        retry=retry_if_exception(policy.allows_retry),
        before_sleep=log_retry,
        reraise=True,
    )


def _describe(error: BaseException | None) -> str:
    if isinstance(error, PushError):
        return f"{error.code}, HTTP {error.http_status}"
    if error is not None and error.__cause__ is not None:
        return type(error.__cause__).__name__
    return type(error).__name__
