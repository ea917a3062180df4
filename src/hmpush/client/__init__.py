"""Sending v3 messages: `AsyncPushClient` and its synchronous twin `PushClient`.

Layout (private modules behind this small surface):

* `_protocol`: the request's URL and headers and the reading of answers, without I/O;
* `_retry`: `RetryPolicy` and what is worth retrying (tenacity does the waiting);
* `_results`: `BatchResult`, `SendResult`, `TokenOutcome`, `HttpRequestPreview`;
* `_async_client`: the one implementation of sending (pool, JWT, retries, batching);
* `_sync_client`: `PushClient`, which runs that implementation on a private event-loop thread
  (why: see that module's docstring).

```python
async with AsyncPushClient("service-account.json") as client:
    result = await client.send(message, tokens)
    drop(result.invalid_tokens)
```
"""

from __future__ import annotations

from hmpush.client._async_client import AsyncPushClient, Credentials
from hmpush.client._protocol import DEFAULT_ENDPOINT
from hmpush.client._results import (
    NOT_SENT,
    TRANSPORT_FAILURE,
    BatchFailure,
    BatchResult,
    HttpRequestPreview,
    SendResult,
    TokenOutcome,
)
from hmpush.client._retry import RetryPolicy
from hmpush.client._sync_client import PushClient

__all__ = [
    "DEFAULT_ENDPOINT",
    "NOT_SENT",
    "TRANSPORT_FAILURE",
    "AsyncPushClient",
    "BatchFailure",
    "BatchResult",
    "Credentials",
    "HttpRequestPreview",
    "PushClient",
    "RetryPolicy",
    "SendResult",
    "TokenOutcome",
]
