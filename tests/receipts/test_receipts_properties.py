"""Properties: signing round-trips, and no input makes parsing fail with an unexpected error."""

from __future__ import annotations

import base64
import json

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from hmpush.receipts import (
    CallbackAuthError,
    MemoryNonceCache,
    ReceiptBatch,
    parse_callback_header,
    sign_callback,
    verify_callback,
)
from hmpush.receipts._receiver import describe_validation_error

NONCES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:",
    min_size=8,
    max_size=128,
)
SECRETS = st.binary(min_size=1, max_size=64)


@given(
    user_name=st.text(min_size=1, max_size=64),
    key=SECRETS,
    timestamp_ms=st.integers(min_value=0, max_value=10**15),
    nonce=NONCES,
)
def test_every_signed_header_verifies(
    user_name: str, key: bytes, timestamp_ms: int, nonce: str
) -> None:
    secret = base64.b64encode(key).decode()
    header = sign_callback(
        user_name, secret, secret_format="base64", timestamp_ms=timestamp_ms, nonce=nonce
    )
    parsed = verify_callback(
        header,
        user_name=user_name,
        secret=secret,
        secret_format="base64",
        now_ms=timestamp_ms,
        window_ms=1,
        nonce_cache=MemoryNonceCache(),
    )
    assert (parsed.timestamp_ms, parsed.nonce) == (timestamp_ms, nonce)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_header_text_is_parsed_or_refused_with_a_callback_error(header: str) -> None:
    try:
        parsed = parse_callback_header(header)
    except CallbackAuthError as error:
        assert error.reason in {"missing_signature", "malformed_signature"}
    else:
        assert parsed.nonce in header and parsed.value in header


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["statuses", "token", "pushType", "deliveryStatus", "result"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_body_is_parsed_or_refused_with_a_validation_error(body: bytes) -> None:
    try:
        batch = ReceiptBatch.from_json(body)
    except pydantic.ValidationError as error:
        assert describe_validation_error(error)
    else:
        assert ReceiptBatch.from_json(batch.to_json()) == batch
