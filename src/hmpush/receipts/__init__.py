"""Delivery receipts (spec section 11): models, callback signing and checks, receiver, store.

```python
store = ReceiptStore("receipts.db")
app = create_receiver_app(store, user_name="cb-user", secret=secret, callbacks=[on_batch])
# serve `app` with any ASGI server, or run `hmpush receipts serve`; later:
drop(tokens_to_delete(store))  # latest result 2, 5, 6 or 10
```

The receiver app needs FastAPI (the `emulator` extra), so its names load on first use and
`import hmpush.receipts` works with the core dependencies alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from hmpush.receipts._store import ReceiptStore, ReceiptStoreError, ResultCount, tokens_to_delete

if TYPE_CHECKING:
    from hmpush.receipts._receiver import (
        MAX_CALLBACK_BODY_BYTES,
        SUCCESS_REPLY,
        ReceiptCallback,
        create_receiver_app,
    )

_RECEIVER_NAMES = frozenset(
    {"MAX_CALLBACK_BODY_BYTES", "SUCCESS_REPLY", "ReceiptCallback", "create_receiver_app"}
)

__all__ = [
    "CALLBACK_HEADER",
    "DEFAULT_WINDOW_MS",
    "MAX_CALLBACK_BODY_BYTES",
    "MAX_STATUSES_PER_BATCH",
    "SUCCESS_REPLY",
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
    "ReceiptCallback",
    "ReceiptStatus",
    "ReceiptStore",
    "ReceiptStoreError",
    "ReplayedNonceError",
    "ResultCount",
    "SecretFormat",
    "SignatureMismatchError",
    "StaleCallbackError",
    "callback_key",
    "check_callback_signature",
    "create_receiver_app",
    "parse_callback_header",
    "sign_callback",
    "tokens_to_delete",
    "verify_callback",
]


def __getattr__(name: str) -> Any:
    if name in _RECEIVER_NAMES:
        from hmpush.receipts import _receiver

        return getattr(_receiver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
