"""Delivery receipts (spec section 11): models, callback signing and checks, receiver, store."""

from __future__ import annotations

from hmpush.receipts._models import (
    MAX_STATUSES_PER_BATCH,
    DeliveryStatus,
    FormStatus,
    ReceiptBatch,
    ReceiptStatus,
)
from hmpush.receipts._nonces import MemoryNonceCache
from hmpush.receipts._signing import (
    CALLBACK_HEADER,
    DEFAULT_WINDOW_MS,
    CallbackAuthError,
    CallbackHeader,
    CallbackSecretError,
    MalformedCallbackHeaderError,
    MissingCallbackHeaderError,
    NonceCache,
    ReplayedNonceError,
    SecretFormat,
    SignatureMismatchError,
    StaleCallbackError,
    callback_key,
    check_callback_signature,
    parse_callback_header,
    sign_callback,
    verify_callback,
)

__all__ = [
    "CALLBACK_HEADER",
    "DEFAULT_WINDOW_MS",
    "MAX_STATUSES_PER_BATCH",
    "CallbackAuthError",
    "CallbackHeader",
    "CallbackSecretError",
    "DeliveryStatus",
    "FormStatus",
    "MalformedCallbackHeaderError",
    "MemoryNonceCache",
    "MissingCallbackHeaderError",
    "NonceCache",
    "ReceiptBatch",
    "ReceiptStatus",
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
