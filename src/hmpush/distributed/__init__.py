"""Distributed sending on Celery with a Redis broker, for campaigns one machine cannot carry.

```python
from hmpush.distributed import collect_results, enqueue_campaign, make_celery_app

app = make_celery_app("redis://127.0.0.1:6379/0")       # workers: `hmpush distributed worker`
enqueue_campaign(app, prepare(payload), "tokens.txt", "work/", campaign_id="spring",
                 endpoint=DEFAULT_ENDPOINT, key_file="key.json", rate=20_000)
summary = collect_results("redis://127.0.0.1:6379/0", "spring", "work/")
```

One task per batch (≤ 1000 tokens); a batch is sent at most once however often its task is
delivered (`_store`); all workers share one rate limit, a token bucket in Redis that halves on
HTTP 503 (`_rate`). Needs the `celery` extra: ``pip install 'hmpush[celery]'``.
"""

from __future__ import annotations

from hmpush.distributed._app import SEND_BATCH_TASK, make_celery_app
from hmpush.distributed._batch import WorkerContext, send_batch
from hmpush.distributed._producer import (
    DistributedError,
    EnqueueReport,
    collect_results,
    enqueue_campaign,
)
from hmpush.distributed._rate import RedisRateLimiter
from hmpush.distributed._store import CampaignStore

__all__ = [
    "SEND_BATCH_TASK",
    "CampaignStore",
    "DistributedError",
    "EnqueueReport",
    "RedisRateLimiter",
    "WorkerContext",
    "collect_results",
    "enqueue_campaign",
    "make_celery_app",
    "send_batch",
]
