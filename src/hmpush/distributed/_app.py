"""The Celery app: one task, `hmpush.send_batch`, that sends one batch of a campaign.

Tasks are acknowledged late (after they ran), rejected back to the queue when their worker
process dies, and fetched one at a time, so a lost worker's batch is delivered to another
worker; the batch records in Redis (`_store`) make that second delivery send nothing twice.
A task message holds only the campaign id, the batch number and its tokens: the message and
where to find the credentials are in Redis, the credentials themselves only on the workers.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task  # type: ignore[import-untyped]
from celery.signals import (  # type: ignore[import-untyped]
    worker_process_shutdown,
    worker_shutdown,
)

from hmpush.distributed._batch import WorkerContext, send_batch

SEND_BATCH_TASK = "hmpush.send_batch"
DEFAULT_QUEUE = "hmpush"
# How long a task taken but not acknowledged stays invisible to other workers (Redis transport).
DEFAULT_VISIBILITY_TIMEOUT = 3600.0


def make_celery_app(
    broker_url: str,
    *,
    result_backend: str | None = None,
    state_url: str | None = None,
    queue: str = DEFAULT_QUEUE,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    **settings: Any,
) -> Celery:
    """A Celery app whose `send_batch` task sends one batch; state lives in Redis at `state_url`.

    `state_url` defaults to the broker's URL (which must then be a Redis URL). Extra keyword
    arguments are Celery settings (`worker_concurrency=4`, ...).
    """
    app = Celery("hmpush", broker=broker_url, backend=result_backend)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=result_backend is None,
        broker_transport_options={"visibility_timeout": visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        hmpush_state_url=state_url or broker_url,
    )
    app.conf.update(settings)  # the caller's settings win
    context = WorkerContext(str(app.conf.hmpush_state_url))

    @app.task(name=SEND_BATCH_TASK, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def send_batch_task(self: Task, campaign_id: str, batch: int, tokens: list[str]) -> str:
        """Send batch `batch` of campaign `campaign_id` at most once; its state afterwards."""
        return send_batch(context, campaign_id, batch, tokens)

    def close_clients(sender: Any = None, **_kwargs: Any) -> None:
        # worker_shutdown comes from every worker of the process; close only this app's.
        if getattr(sender, "app", app) is app:
            context.close()

    worker_process_shutdown.connect(close_clients, weak=False)
    worker_shutdown.connect(close_clients, weak=False)
    app.hmpush_context = context
    return app
