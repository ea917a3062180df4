"""Callback signing and verification: known answers, every refusal kind, the nonce store."""

from __future__ import annotations

import pytest

from hmpush.receipts import (
    CallbackSecretError,
    MalformedCallbackHeaderError,
    MemoryNonceCache,
    MissingCallbackHeaderError,
    ReplayedNonceError,
    SignatureMismatchError,
    StaleCallbackError,
    parse_callback_header,
    sign_callback,
    verify_callback,
)

USER = "receipt-user"
TIMESTAMP = 1764400000000
NONCE = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
# Expected values computed independently with
#   printf '%s' "$TIMESTAMP$NONCE$USER" | openssl dgst -sha256 -hmac <key> -binary | base64
PLAIN_SECRET = "older-plain-secret"
PLAIN_VALUE = "ew43FEUbMRvmlwpZs/2Wd8g6W199HV1ajQAFg1H16jw="
BASE64_SECRET = "c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5"  # "secret-key-bytes-0123456789"
BASE64_VALUE = "kvMOpwWUam/9zp/Ecu06wHMK0I2uW+Gi1UHw/KGxJxQ="
WINDOW = 300_000


def test_sign_known_answer_base64_secret_is_decoded() -> None:
    header = sign_callback(
        USER, BASE64_SECRET, secret_format="base64", timestamp_ms=TIMESTAMP, nonce=NONCE
    )
    assert header == f"timestamp={TIMESTAMP};nonce={NONCE};value={BASE64_VALUE}"


def test_sign_known_answer_utf8_secret_uses_its_bytes() -> None:
    header = sign_callback(
        USER, PLAIN_SECRET, secret_format="utf8", timestamp_ms=TIMESTAMP, nonce=NONCE
    )
    assert header == f"timestamp={TIMESTAMP};nonce={NONCE};value={PLAIN_VALUE}"


def test_the_two_formats_give_different_signatures_for_the_same_text() -> None:
    as_base64 = sign_callback(
        USER, BASE64_SECRET, secret_format="base64", timestamp_ms=1, nonce=NONCE
    )
    as_utf8 = sign_callback(USER, BASE64_SECRET, secret_format="utf8", timestamp_ms=1, nonce=NONCE)
    assert as_base64 != as_utf8


def test_sign_defaults_to_now_and_a_fresh_uuid() -> None:
    first = parse_callback_header(sign_callback(USER, PLAIN_SECRET, secret_format="utf8"))
    second = parse_callback_header(sign_callback(USER, PLAIN_SECRET, secret_format="utf8"))
    assert first.nonce != second.nonce
    assert len(first.nonce) == 36
    assert first.timestamp_ms > 1_700_000_000_000


@pytest.mark.parametrize("secret", ["", "not base64 !", "===="])
def test_unusable_base64_secret_is_refused(secret: str) -> None:
    with pytest.raises(CallbackSecretError):
        sign_callback(USER, secret, secret_format="base64")


def _verify(header: str | None, **overrides: object) -> object:
    arguments: dict[str, object] = {
        "user_name": USER,
        "secret": BASE64_SECRET,
        "secret_format": "base64",
        "now_ms": TIMESTAMP + 1000,
        "window_ms": WINDOW,
        "nonce_cache": MemoryNonceCache(),
    }
    arguments.update(overrides)
    return verify_callback(header, **arguments)  # type: ignore[arg-type]


def _header(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "secret_format": "base64",
        "timestamp_ms": TIMESTAMP,
        "nonce": NONCE,
    }
    arguments.update(overrides)
    return sign_callback(USER, BASE64_SECRET, **arguments)  # type: ignore[arg-type]


def test_verify_accepts_a_good_header_and_returns_its_parts() -> None:
    parsed = _verify(_header())
    assert parsed == parse_callback_header(_header())


def test_verify_accepts_parts_in_any_order_with_spaces() -> None:
    header = f" value={BASE64_VALUE} ; nonce={NONCE};timestamp={TIMESTAMP}"
    _verify(header)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_refused(header: str | None) -> None:
    with pytest.raises(MissingCallbackHeaderError):
        _verify(header)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"timestamp={TIMESTAMP};nonce={NONCE}",
        f"timestamp={TIMESTAMP};nonce={NONCE};value={BASE64_VALUE};extra=1",
        f"timestamp={TIMESTAMP};timestamp={TIMESTAMP};nonce={NONCE};value={BASE64_VALUE}",
        f"timestamp=12.5;nonce={NONCE};value={BASE64_VALUE}",
        f"timestamp=-5;nonce={NONCE};value={BASE64_VALUE}",
        f"timestamp={TIMESTAMP};nonce=short;value={BASE64_VALUE}",
        f"timestamp={TIMESTAMP};nonce=has space in it;value={BASE64_VALUE}",
        f"timestamp={TIMESTAMP};nonce={NONCE};value=not-base64!",
        f"timestamp={TIMESTAMP};nonce={NONCE};value=c2hvcnQ=",
    ],
)
def test_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(MalformedCallbackHeaderError):
        _verify(header)


def test_wrong_secret_user_or_format_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatchError):
        _verify(_header(), secret="b3RoZXItc2VjcmV0")
    with pytest.raises(SignatureMismatchError):
        _verify(_header(), user_name="someone-else")
    with pytest.raises(SignatureMismatchError):
        _verify(_header(), secret_format="utf8")


def test_tampered_timestamp_or_nonce_is_a_signature_mismatch() -> None:
    tampered = f"timestamp={TIMESTAMP + 1};nonce={NONCE};value={BASE64_VALUE}"
    with pytest.raises(SignatureMismatchError):
        _verify(tampered)
    tampered = f"timestamp={TIMESTAMP};nonce={NONCE[:-1]}0;value={BASE64_VALUE}"
    with pytest.raises(SignatureMismatchError):
        _verify(tampered)


@pytest.mark.parametrize("offset", [WINDOW + 1, -(WINDOW + 1)])
def test_timestamp_outside_the_window_is_stale(offset: int) -> None:
    with pytest.raises(StaleCallbackError):
        _verify(_header(), now_ms=TIMESTAMP + offset)


def test_timestamp_at_the_window_edge_is_accepted() -> None:
    _verify(_header(), now_ms=TIMESTAMP + WINDOW)


def test_replayed_nonce_is_refused() -> None:
    cache = MemoryNonceCache()
    _verify(_header(), nonce_cache=cache)
    with pytest.raises(ReplayedNonceError):
        _verify(_header(), nonce_cache=cache)


def test_without_a_nonce_cache_replays_are_not_detected() -> None:
    _verify(_header(), nonce_cache=None)
    _verify(_header(), nonce_cache=None)


def test_memory_cache_forgets_nonces_that_left_the_window() -> None:
    cache = MemoryNonceCache()
    cache.remember("nonce-0001", 1_000, now_ms=1_000, window_ms=100)
    cache.remember("nonce-0002", 1_150, now_ms=1_150, window_ms=100)
    assert len(cache) == 1


def test_full_memory_cache_raises_a_floor_instead_of_reopening_replays() -> None:
    cache = MemoryNonceCache(max_entries=2)
    now = 10_000
    cache.remember("nonce-0001", 9_000, now_ms=now, window_ms=WINDOW)
    cache.remember("nonce-0002", 9_100, now_ms=now, window_ms=WINDOW)
    cache.remember("nonce-0003", 9_200, now_ms=now, window_ms=WINDOW)
    assert len(cache) == 2
    # nonce-0001 was forgotten; replaying it must still fail (now as stale).
    with pytest.raises(StaleCallbackError):
        cache.remember("nonce-0001", 9_000, now_ms=now, window_ms=WINDOW)
    with pytest.raises(ReplayedNonceError):
        cache.remember("nonce-0003", 9_200, now_ms=now, window_ms=WINDOW)
    cache.remember("nonce-0004", 9_050 + 100, now_ms=now, window_ms=WINDOW)


@pytest.mark.parametrize(
    ("timestamp_ms", "nonce"), [(-1, NONCE), (TIMESTAMP, "has;semicolon"), (TIMESTAMP, "short")]
)
def test_sign_refuses_what_a_receiver_would_call_malformed(timestamp_ms: int, nonce: str) -> None:
    with pytest.raises(ValueError):
        sign_callback(
            USER, PLAIN_SECRET, secret_format="utf8", timestamp_ms=timestamp_ms, nonce=nonce
        )
