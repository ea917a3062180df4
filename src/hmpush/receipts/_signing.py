"""The `X-HUAWEI-CALLBACK-ID` header: signing (for the sending side) and verification.

Spec 11.2: ``timestamp=<ms>;nonce=<UUID>;value=<Base64(HMAC-SHA256(key, timestamp + nonce +
userName))>``. The key is the Base64-decoded secret for newer receipt configs, or the secret's
UTF-8 bytes for older ones. The signature does not cover the body, so a captured header could be
replayed with another body: the nonce store is what stops that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from hmpush.errors import CredentialsError, HmpushError

__all__ = [
    "CALLBACK_HEADER",
    "DEFAULT_WINDOW_MS",
    "CallbackAuthError",
    "CallbackHeader",
    "CallbackSecretError",
    "MalformedCallbackHeaderError",
    "MissingCallbackHeaderError",
    "NonceCache",
    "ReplayedNonceError",
    "SecretFormat",
    "SignatureMismatchError",
    "StaleCallbackError",
    "callback_key",
    "check_callback_signature",
    "parse_callback_header",
    "sign_callback",
    "verify_callback",
]

CALLBACK_HEADER = "X-HUAWEI-CALLBACK-ID"
# Choice (the spec gives no window): five minutes either side of the receiver's clock.
DEFAULT_WINDOW_MS = 5 * 60 * 1000

SecretFormat = Literal["base64", "utf8"]

_SIGNATURE_BYTES = hashlib.sha256().digest_size
# Choice: the spec says the nonce is a UUID; any short token without separators or spaces is
# accepted so a differently formatted UUID is not refused, while the nonce store stays small.
_NONCE_PATTERN = re.compile(r"[A-Za-z0-9_\-.:]{8,128}")
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,16}")
_HEADER_FIELDS = ("timestamp", "nonce", "value")


class CallbackSecretError(CredentialsError):
    """The configured callback secret cannot be used (empty, or not Base64 for base64 format)."""


class CallbackAuthError(HmpushError):
    """A callback whose `X-HUAWEI-CALLBACK-ID` header is refused; `reason` is a short slug."""

    reason = "unauthorised"


class MissingCallbackHeaderError(CallbackAuthError):
    """The callback carries no `X-HUAWEI-CALLBACK-ID` header although a secret is configured."""

    reason = "missing_signature"


class MalformedCallbackHeaderError(CallbackAuthError):
    """The header is not ``timestamp=<ms>;nonce=<id>;value=<Base64 HMAC-SHA256>``."""

    reason = "malformed_signature"


class SignatureMismatchError(CallbackAuthError):
    """The header's `value` is not the HMAC of its timestamp, nonce and the user name."""

    reason = "signature_mismatch"


class StaleCallbackError(CallbackAuthError):
    """The header's timestamp lies outside the accepted window around the receiver's clock."""

    reason = "stale_timestamp"


class ReplayedNonceError(CallbackAuthError):
    """The header's nonce was already used within the window."""

    reason = "replayed_nonce"


@dataclass(frozen=True, slots=True)
class CallbackHeader:
    """The three parts of a parsed `X-HUAWEI-CALLBACK-ID` header."""

    timestamp_ms: int
    nonce: str
    value: str


class NonceCache(Protocol):
    """Remembers nonces for the length of the timestamp window (replay protection)."""

    def remember(self, nonce: str, timestamp_ms: int, *, now_ms: int, window_ms: int) -> None:
        """Record `nonce`; raise `ReplayedNonceError` if seen, `StaleCallbackError` if too old."""
        ...


def callback_key(secret: str, secret_format: SecretFormat) -> bytes:
    """The HMAC key for a callback secret: Base64-decoded (newer configs) or UTF-8 (older)."""
    if not secret:
        raise CallbackSecretError("the callback secret is empty")
    if secret_format == "utf8":
        return secret.encode("utf-8")
    if secret_format != "base64":
        raise CallbackSecretError(
            f"secret format {secret_format!r} is not one of 'base64' and 'utf8'"
        )
    try:
        key = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CallbackSecretError(
            "the callback secret is not valid Base64 (use secret format 'utf8' for older configs)"
        ) from None
    if not key:
        raise CallbackSecretError("the callback secret decodes to zero bytes")
    return key


def sign_callback(
    user_name: str,
    secret: str,
    *,
    secret_format: SecretFormat,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> str:
    """The `X-HUAWEI-CALLBACK-ID` value for `user_name` and `secret` (default: now, a new UUID)."""
    if timestamp_ms is None:
        timestamp_ms = int(time.time() * 1000)
    if nonce is None:
        nonce = str(uuid.uuid4())
    # Refuse what the receiving side would refuse as malformed, rather than sign it.
    if not _TIMESTAMP_PATTERN.fullmatch(str(timestamp_ms)):
        raise ValueError(f"timestamp_ms must be a non-negative integer, not {timestamp_ms!r}")
    if not _NONCE_PATTERN.fullmatch(nonce):
        raise ValueError("nonce must be 8 to 128 letters, digits or -_.: (a UUID)")
    value = _signature(callback_key(secret, secret_format), str(timestamp_ms), nonce, user_name)
    return f"timestamp={timestamp_ms};nonce={nonce};value={value}"


def parse_callback_header(header: str | None) -> CallbackHeader:
    """Split the header into its parts; raise `MissingCallbackHeaderError` or `Malformed…`."""
    if header is None or not header.strip():
        raise MissingCallbackHeaderError(f"the {CALLBACK_HEADER} header is missing")
    parts: dict[str, str] = {}
    for item in header.split(";"):
        name, equals, value = item.strip().partition("=")
        if not equals or name not in _HEADER_FIELDS:
            raise MalformedCallbackHeaderError(
                f"{CALLBACK_HEADER} must be timestamp=<ms>;nonce=<UUID>;value=<signature>; "
                f"unexpected part {_clip(item)!r}"
            )
        if name in parts:
            raise MalformedCallbackHeaderError(f"{CALLBACK_HEADER} repeats {name!r}")
        parts[name] = value.strip()
    missing = [name for name in _HEADER_FIELDS if name not in parts]
    if missing:
        raise MalformedCallbackHeaderError(f"{CALLBACK_HEADER} lacks {', '.join(missing)}")
    return CallbackHeader(
        timestamp_ms=_parse_timestamp(parts["timestamp"]),
        nonce=_checked_nonce(parts["nonce"]),
        value=_checked_value(parts["value"]),
    )


def check_callback_signature(
    header: str | None,
    *,
    user_name: str,
    secret: str,
    secret_format: SecretFormat,
    now_ms: int | None = None,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> CallbackHeader:
    """Parse the header, compare its signature in constant time and check its timestamp window.

    Does not consult a nonce store: `verify_callback` does all three, and the receiver records the
    nonce in the same transaction that stores the receipts.
    """
    key = callback_key(secret, secret_format)
    parsed = parse_callback_header(header)
    expected = _signature(key, str(parsed.timestamp_ms), parsed.nonce, user_name)
    if not hmac.compare_digest(expected.encode("ascii"), parsed.value.encode("ascii")):
        raise SignatureMismatchError(
            f"{CALLBACK_HEADER} signature does not match the configured user name and secret"
        )
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    if abs(now_ms - parsed.timestamp_ms) > window_ms:
        raise StaleCallbackError(
            f"{CALLBACK_HEADER} timestamp {parsed.timestamp_ms} is more than {window_ms} ms "
            f"from the receiver's clock ({now_ms})"
        )
    return parsed


def verify_callback(
    header: str | None,
    *,
    user_name: str,
    secret: str,
    secret_format: SecretFormat,
    now_ms: int | None = None,
    window_ms: int = DEFAULT_WINDOW_MS,
    nonce_cache: NonceCache | None,
) -> CallbackHeader:
    """Check signature and window, then record the nonce in `nonce_cache` (refusing replays)."""
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    parsed = check_callback_signature(
        header,
        user_name=user_name,
        secret=secret,
        secret_format=secret_format,
        now_ms=now_ms,
        window_ms=window_ms,
    )
    if nonce_cache is not None:
        nonce_cache.remember(parsed.nonce, parsed.timestamp_ms, now_ms=now_ms, window_ms=window_ms)
    return parsed


def _signature(key: bytes, timestamp: str, nonce: str, user_name: str) -> str:
    message = f"{timestamp}{nonce}{user_name}".encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def _parse_timestamp(text: str) -> int:
    if not _TIMESTAMP_PATTERN.fullmatch(text):
        raise MalformedCallbackHeaderError(
            f"{CALLBACK_HEADER} timestamp must be milliseconds since the epoch (digits only)"
        )
    return int(text)


def _checked_nonce(text: str) -> str:
    if not _NONCE_PATTERN.fullmatch(text):
        raise MalformedCallbackHeaderError(
            f"{CALLBACK_HEADER} nonce must be 8 to 128 letters, digits or -_.: (a UUID)"
        )
    return text


def _checked_value(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedCallbackHeaderError(f"{CALLBACK_HEADER} value is not Base64") from None
    if len(raw) != _SIGNATURE_BYTES:
        raise MalformedCallbackHeaderError(
            f"{CALLBACK_HEADER} value must be a Base64 HMAC-SHA256 ({_SIGNATURE_BYTES} bytes)"
        )
    return text


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
