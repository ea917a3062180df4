"""Typed exceptions: one family per kind of failure, each carrying the Huawei code.

`error_for_code` is the one place that maps a business code (from `hmpush.codes`) to an exception
class, so the client, the local validation and the emulator agree on what a code means.
"""

from __future__ import annotations

from hmpush import codes
from hmpush.codes import BusinessCode, Family

__all__ = [
    "AuthError",
    "CredentialsError",
    "HmpushError",
    "PayloadError",
    "PermissionDeniedError",
    "PushError",
    "QuotaError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_for_code",
]


class HmpushError(Exception):
    """Base class of every exception hmpush raises on purpose."""


class CredentialsError(HmpushError):
    """A service-account file or key that cannot be used (missing field, bad PEM, weak key)."""


class PushError(HmpushError):
    """A request the Push server (or the local rules) refused, with its Huawei code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed."""
        entry = codes.business_code(self.code)
        if entry is not None:
            return entry.retryable
        return self.http_status in (500, 502, 503)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"http_status={self.http_status!r}, request_id={self.request_id!r})"
        )


class PayloadError(PushError):
    """The request body or its parameters break a rule (80100001, 80100003, 80300008, ...)."""


class ValidationError(PayloadError):
    """Local validation refused a message before any I/O; `field` is the JSON path at fault."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(code, message, http_status=None, request_id=None)
        self.field = field

    @classmethod
    def from_entry(
        cls, entry: BusinessCode, detail: str | None, *, field: str | None = None
    ) -> ValidationError:
        """Build from a table entry and a detail naming the field and the rule."""
        return cls(entry.code, entry.format(detail), field=field)


class AuthError(PushError):
    """The JWT was refused (80200001, 80200005, 80300036)."""


class PermissionDeniedError(PushError):
    """The project may not send (80300002, 80300037)."""


class QuotaError(PushError):
    """Flow control or a quota (HTTP 503, 80300029); `retry_after` is in seconds when known."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, http_status=http_status, request_id=request_id)
        self.retry_after = retry_after


class ServerError(PushError):
    """The Push server failed (HTTP 500/502, 81000001); usually worth retrying."""


class TransportError(HmpushError):
    """The request did not complete: connection refused or dropped, or a timeout."""


_FAMILY_EXCEPTIONS: dict[Family, type[PushError]] = {
    Family.PAYLOAD: PayloadError,
    Family.ALL_INVALID: PayloadError,
    Family.AUTH: AuthError,
    Family.PERMISSION: PermissionDeniedError,
    Family.QUOTA: QuotaError,
    Family.SERVER: ServerError,
}


def error_for_code(
    code: str,
    message: str,
    *,
    http_status: int | None = None,
    request_id: str | None = None,
) -> PushError:
    """The typed exception for a refused request, chosen by the code's family in `hmpush.codes`."""
    entry = codes.business_code(code)
    if entry is None and http_status is not None:
        entry = codes.HTTP_ONLY_CODES.get(http_status)
    family = entry.family if entry is not None else _family_for_status(http_status)
    exception_class = _FAMILY_EXCEPTIONS.get(family, PushError)
    return exception_class(code, message, http_status=http_status, request_id=request_id)


def _family_for_status(http_status: int | None) -> Family:
    if http_status == 401:
        return Family.AUTH
    if http_status == 403:
        return Family.PERMISSION
    if http_status == 503:
        return Family.QUOTA
    if http_status is not None and http_status >= 500:
        return Family.SERVER
    return Family.PAYLOAD
