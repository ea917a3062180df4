"""Sending v3 messages: `AsyncPushClient` and its synchronous twin `PushClient`.

Layout (private modules behind this small surface):

* `_protocol`: the request's URL and headers and the reading of answers, without I/O;
* `_retry`: `RetryPolicy` and what is worth retrying (tenacity does the waiting);
* `_results`: `BatchResult`, `SendResult`, `TokenOutcome`, `HttpRequestPreview`;
* `_async_client`: the one implementation of sending (pool, JWT, retries, batching);
* `_sync_client`: `PushClient`, which runs that implementation on a private event-loop thread
  (why: see that module's docstring).

Besides the clients, two functions serve code that drives `send_prepared` itself (campaigns):
`may_have_been_accepted(error)` says whether a failed request may still have been accepted, and
`result_from_answer(answer, tokens)` reads a recorded answer exactly as a live one.

```python
async with AsyncPushClient("service-account.json") as client:
    result = await client.send(message, tokens)
    drop(result.invalid_tokens)
```
"""

from __future__ import annotations

from hmpush.client._async_client import AsyncPushClient, Credentials
from hmpush.client._protocol import DEFAULT_ENDPOINT, result_from_answer
from hmpush.client._results import (
    NOT_SENT,
    TRANSPORT_FAILURE,
    BatchFailure,
    BatchResult,
    HttpRequestPreview,
    SendResult,
    TokenOutcome,
)
from hmpush.client._retry import RetryPolicy, may_have_been_accepted
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
    "may_have_been_accepted",
    "result_from_answer",
]
