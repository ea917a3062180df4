"""What one task does: send ONE batch at most once and record its outcome in Redis.

1. The batch's record is looked up first: a batch that is done, unknown or refused is left alone.
2. Wait for the shared rate limit, claim the batch (``in_flight``, see `_store`), send it with
   `send_prepared` and a policy that never resends a request that may have been accepted.
3. Record: ``done`` with the request id and per-token failures; ``unknown`` when the request may
   have been accepted but no answer was read (reported, never resent); ``refused`` when the
   server refused the whole request for good. A 503 lowers the shared rate and, like 5xx and
   connection failures (nothing accepted), releases the claim and tries again.

Workers keep one `PushClient` per credentials and endpoint per process (its JWT is signed once
per ~55 minutes) and one prepared message per campaign.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from hmpush._redact import shorten_token
from hmpush.auth import ServiceAccount
from hmpush.client import PushClient, RetryPolicy, may_have_been_accepted
from hmpush.distributed._rate import RedisRateLimiter
from hmpush.distributed._store import CampaignStore
from hmpush.errors import PushError, QuotaError, TransportError
from hmpush.messages import PreparedMessage, prepare, validate_request

logger = logging.getLogger("hmpush.distributed")

# One attempt per call; a request that may have been accepted is never resent.
SEND_ONCE = RetryPolicy(max_attempts=1, retry_unanswered=False)
# What is worth another attempt after nothing was accepted (5xx, connection refused, ...).
WORTH_RETRYING = RetryPolicy(retry_unanswered=False)
MAX_FLOW_CONTROL_RETRIES = 60
MAX_ERROR_RETRIES = 6
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """A campaign's settings as workers read them from Redis."""

    campaign_id: str
    message: PreparedMessage
    endpoint: str
    key_file: str | None
    key_env: str | None
    rate: float | None
    timeout: float


class WorkerContext:
    """Per-process caches of a worker: Redis, clients, campaign settings (thread-safe)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._lock = threading.Lock()
        self._pid = -1
        self._redis: redis.Redis | None = None
        self._clients: dict[tuple[str, str | None, str | None, float], PushClient] = {}
        self._settings: dict[tuple[str, str], CampaignSettings] = {}

    def redis(self) -> redis.Redis:
        """This process's Redis connection pool (a forked child makes its own)."""
        with self._lock:
            if self._redis is None or self._pid != os.getpid():
                self._redis = redis.Redis.from_url(self.redis_url)
                self._clients = {}
                self._pid = os.getpid()
            return self._redis

    def settings(self, campaign_id: str) -> CampaignSettings:
        """The campaign's settings (parsed once per process and enqueueing of the campaign)."""
        store = CampaignStore(self.redis(), campaign_id)
        version = store.version()
        cached = self._settings.get((campaign_id, version))
        if cached is not None:
            return cached
        config = store.config()
        if config is None:
            raise LookupError(f"campaign {campaign_id!r} has no settings in Redis")
        checked = validate_request(int(config["push_type"]), config["body"].encode())
        settings = CampaignSettings(
            campaign_id=campaign_id,
            message=prepare(checked.payload, checked.push_options),
            endpoint=config["endpoint"],
            key_file=config.get("key_file") or None,
            key_env=config.get("key_env") or None,
            rate=float(config["rate"]) if config.get("rate") else None,
            timeout=float(config.get("timeout") or 10.0),
        )
        self._settings[(campaign_id, version)] = settings
        return settings

    def client(self, settings: CampaignSettings) -> PushClient:
        """A client for the campaign's credentials and endpoint, shared by this process."""
        key = (settings.endpoint, settings.key_file, settings.key_env, settings.timeout)
        self.redis()  # resets the caches in a freshly forked child
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = PushClient(
                    _credentials(settings),
                    endpoint=settings.endpoint,
                    timeout=settings.timeout,
                    retry=SEND_ONCE,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        """Close every client (worker shutdown)."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients = {}


def _credentials(settings: CampaignSettings) -> ServiceAccount:
    if settings.key_file:
        return ServiceAccount.from_file(settings.key_file)
    assert settings.key_env is not None
    return ServiceAccount.from_env(settings.key_env)


def send_batch(context: WorkerContext, campaign_id: str, batch: int, tokens: list[str]) -> str:
    """Send one batch at most once (see the module docstring); the batch's state afterwards."""
    store = CampaignStore(context.redis(), campaign_id)
    existing = store.record(batch)
    # Done, unknown or refused: nothing to do. In flight under another execution: the claim
    # below turns it into unknown (its request may have been accepted).
    if existing is not None and existing["state"] != "in_flight":
        logger.info("campaign %s batch %d already %s", campaign_id, batch, existing["state"])
        return str(existing["state"])
    settings = context.settings(campaign_id)
    limiter = RedisRateLimiter(context.redis(), campaign_id, settings.rate)
    owner = uuid.uuid4().hex
    flow_control = errors = 0
    while True:
        if existing is None:
            limiter.acquire(len(tokens))
        claim = store.claim(batch, owner, len(tokens), int(time.time() * 1000))
        if claim != "claimed":
            logger.warning("campaign %s batch %d not sent: %s", campaign_id, batch, claim)
            return claim
        try:
            result = context.client(settings).send_prepared(
                settings.message, tokens, retry=SEND_ONCE
            )
        except (PushError, TransportError) as error:
            if _is_flow_control(error):
                flow_control += 1
                limiter.on_flow_control(getattr(error, "retry_after", None))
                if flow_control <= MAX_FLOW_CONTROL_RETRIES:
                    store.release(batch, owner)
                    continue
            elif may_have_been_accepted(error):
                logger.warning("campaign %s batch %d: no answer: %s", campaign_id, batch, error)
                store.finish(batch, owner, _unknown(len(tokens), error))
                return "unknown"
            elif WORTH_RETRYING.allows_retry(error) and errors < MAX_ERROR_RETRIES:
                errors += 1
                store.release(batch, owner)
                time.sleep(min(MAX_BACKOFF_SECONDS, 0.5 * 2.0 ** (errors - 1)))
                continue
            logger.error("campaign %s batch %d refused: %s", campaign_id, batch, error)
            store.finish(batch, owner, _refused(len(tokens), error))
            return "refused"
        store.finish(
            batch,
            owner,
            {
                "state": "done",
                "size": len(tokens),
                "requestId": result.request_id,
                "code": result.code,
                "accepted": len(tokens) - len(result.failures),
                "failures": result.failures,
            },
        )
        limiter.on_accepted()
        logger.debug("campaign %s batch %d from %s done", campaign_id, batch, _first(tokens))
        return "done"


def _is_flow_control(error: BaseException) -> bool:
    return isinstance(error, QuotaError) and error.http_status == 503


def _unknown(size: int, error: BaseException) -> dict[str, Any]:
    return {"state": "unknown", "size": size, "error": str(error)}


def _refused(size: int, error: BaseException) -> dict[str, Any]:
    code = error.code if isinstance(error, PushError) else None
    return {"state": "refused", "size": size, "code": code, "error": str(error)}


def _first(tokens: list[str]) -> str:
    return shorten_token(tokens[0]) if tokens else "-"
