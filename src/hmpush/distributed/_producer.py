"""The producer side: plan a token list into batch tasks, and collect the outcomes afterwards.

`enqueue_campaign` plans the list with the single-machine campaign's planning
(`hmpush.fanout.PlannedTokens`: streamed, repeats sent once, bad lines to
`rejected-lines.jsonl`) into a work directory, records the campaign's settings in Redis and
sends one task per batch, reading batches back one at a time (constant memory).
Running it again for the same campaign sends tasks only for batches without an outcome.

`collect_results` reads the batch records from Redis and, given the work directory, writes the
same result files a single-machine campaign writes: `outcomes.jsonl`, `invalid-tokens.txt`,
`unknown-tokens.txt`, plus `not-sent-tokens.txt` (refused or not sent yet) and `summary.json`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from celery import Celery  # type: ignore[import-untyped]

from hmpush.distributed._app import SEND_BATCH_TASK
from hmpush.distributed._rate import RedisRateLimiter
from hmpush.distributed._store import CampaignStore, check_campaign_id
from hmpush.errors import HmpushError
from hmpush.fanout import PlannedTokens, PlanReport, batch_outcome_lines
from hmpush.fanout._input import InputFormat, TokenInput
from hmpush.messages import PreparedMessage

PLACEHOLDER_TOKEN = "AAAAAAAA"  # the stored body's target; workers render each batch's own
RECORDS_PER_READ = 256
OUTCOMES_FILE = "outcomes.jsonl"
INVALID_TOKENS_FILE = "invalid-tokens.txt"
UNKNOWN_TOKENS_FILE = "unknown-tokens.txt"
NOT_SENT_TOKENS_FILE = "not-sent-tokens.txt"
SUMMARY_FILE = "summary.json"


class DistributedError(HmpushError):
    """A distributed campaign cannot be enqueued or collected as asked."""


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    """What `enqueue_campaign` did."""

    campaign_id: str
    plan: PlanReport
    tasks_sent: int
    batches_already_settled: int


def message_fingerprint(message: PreparedMessage) -> str:
    """A digest of the message and push-type, to refuse reusing a campaign id for another."""
    body = message.body_for([PLACEHOLDER_TOKEN])
    return hashlib.sha256(b"%d\n" % int(message.push_type) + body).hexdigest()


def enqueue_campaign(
    app: Celery,
    message: PreparedMessage,
    tokens: TokenInput,
    work_dir: str | os.PathLike[str],
    *,
    campaign_id: str,
    endpoint: str,
    key_file: str | os.PathLike[str] | None = None,
    key_env: str | None = None,
    rate: float | None = None,
    batch_size: int | None = None,
    timeout: float = 10.0,
    input_format: InputFormat = "auto",
) -> EnqueueReport:
    """Plan `tokens` in `work_dir` and send one `send_batch` task per batch; see the module doc.

    Workers find the credentials through `key_file` (a path they can read) or `key_env` (the
    name of an environment variable on the workers), exactly one of them: the key never enters
    the broker.
    """
    check_campaign_id(campaign_id)
    if (key_file is None) == (key_env is None):
        raise DistributedError("give exactly one of key_file (a path) or key_env (a variable name)")
    if rate is not None and rate <= 0:
        raise DistributedError(f"rate must be a positive number of tokens/s, got {rate}")
    size = batch_size or message.max_tokens_per_request
    if not 1 <= size <= message.max_tokens_per_request:
        raise DistributedError(
            f"batch_size must be 1-{message.max_tokens_per_request} for this message, got {size}"
        )
    store = CampaignStore(_redis(app), campaign_id)
    fingerprint = message_fingerprint(message)
    existing = store.config()
    if existing is not None and existing["fingerprint"] != fingerprint:
        raise DistributedError(
            f"campaign {campaign_id!r} exists with a different message; choose another id"
        )
    plan = _open_or_plan(existing, tokens, Path(work_dir), size, input_format)
    try:
        if plan.report.tokens == 0:
            raise DistributedError(f"no tokens to send: {plan.report.describe()}")
        if existing is None:
            store.save_config(
                {
                    "fingerprint": fingerprint,
                    "push_type": str(int(message.push_type)),
                    "body": message.body_for([PLACEHOLDER_TOKEN]).decode(),
                    "endpoint": endpoint,
                    "key_file": str(Path(key_file).resolve()) if key_file is not None else "",
                    "key_env": key_env or "",
                    "rate": repr(rate) if rate is not None else "",
                    "timeout": repr(timeout),
                    "batches": str(plan.report.batches),
                    "tokens": str(plan.report.tokens),
                    "created_at_ms": str(int(time.time() * 1000)),
                }
            )
        sent = settled = 0
        for chunk in _chunks(plan.batches()):
            records = store.records([batch for batch, _ in chunk])
            for (batch, batch_tokens), record in zip(chunk, records, strict=True):
                if record is not None:
                    settled += 1
                    continue
                app.send_task(SEND_BATCH_TASK, args=(campaign_id, batch, batch_tokens))
                sent += 1
        return EnqueueReport(campaign_id, plan.report, sent, settled)
    finally:
        plan.close()


def _open_or_plan(
    existing: dict[str, str] | None,
    tokens: TokenInput,
    work_dir: Path,
    batch_size: int,
    input_format: InputFormat,
) -> PlannedTokens:
    if existing is not None:
        plan = PlannedTokens.open(work_dir)
        if plan is None:
            raise DistributedError(
                f"the campaign exists in Redis but {work_dir} holds no plan for it; "
                "enqueue again from the work directory used the first time"
            )
        return plan
    return PlannedTokens.plan(tokens, work_dir, batch_size=batch_size, input_format=input_format)


def _chunks(
    batches: Iterator[tuple[int, list[str]]],
) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for item in batches:
        chunk.append(item)
        if len(chunk) >= RECORDS_PER_READ:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _redis(app: Celery) -> redis.Redis:
    return redis.Redis.from_url(str(app.conf.hmpush_state_url))


@dataclass(slots=True)
class _Totals:
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    in_flight: int = 0
    refused: int = 0
    not_sent: int = 0
    batches: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)

    def add(self, record: dict[str, Any] | None, size: int) -> None:
        state = record["state"] if record is not None else "not_sent"
        self.batches[state] += 1
        if record is None:
            self.not_sent += size
        elif state == "done":
            self.accepted += int(record["accepted"])
            self.failed += size - int(record["accepted"])
            self.reasons.update(record["failures"].values())
            self.request_ids.append(record["requestId"])
        elif state == "unknown":
            self.unknown += size
        elif state == "in_flight":
            self.in_flight += size
        else:
            self.refused += size
            self.refusals[str(record.get("code") or record.get("error"))] += 1


def collect_results(
    redis_url: str, campaign_id: str, work_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The campaign's summary from Redis; with the work directory, also its result files."""
    client = redis.Redis.from_url(redis_url)
    try:
        store = CampaignStore(client, campaign_id)
        config = store.config()
        if config is None:
            raise DistributedError(f"no campaign {campaign_id!r} in Redis")
        totals = _Totals()
        if work_dir is None:
            records = store.all_records()
            for record in records.values():
                totals.add(record, int(record["size"]))
            unclaimed = int(config["batches"]) - len(records)
            if unclaimed:
                totals.batches["not_sent"] += unclaimed
            totals.not_sent = int(config["tokens"]) - sum(
                int(record["size"]) for record in records.values()
            )
        else:
            _write_files(store, Path(work_dir), totals)
        limiter = RedisRateLimiter(
            client, campaign_id, float(config["rate"]) if config["rate"] else None
        )
        summary = _summary(campaign_id, config, totals, limiter.state())
        if work_dir is not None:
            (Path(work_dir) / SUMMARY_FILE).write_bytes(
                orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n"
            )
        return summary
    finally:
        client.close()


def _write_files(store: CampaignStore, work_dir: Path, totals: _Totals) -> None:
    plan = PlannedTokens.open(work_dir)
    if plan is None:
        raise DistributedError(f"{work_dir} holds no planned campaign (enqueue writes it)")
    with (
        plan,
        open(work_dir / OUTCOMES_FILE, "wb") as outcomes,
        open(work_dir / INVALID_TOKENS_FILE, "wb") as invalid,
        open(work_dir / UNKNOWN_TOKENS_FILE, "wb") as unknown,
        open(work_dir / NOT_SENT_TOKENS_FILE, "wb") as not_sent,
    ):
        for chunk in _chunks(plan.batches()):
            records = store.records([batch for batch, _ in chunk])
            for (batch, tokens), record in zip(chunk, records, strict=True):
                totals.add(record, len(tokens))
                state = record["state"] if record is not None else "not_sent"
                if state == "done":
                    assert record is not None
                    lines, bad = batch_outcome_lines(
                        batch, tokens, record["requestId"], record["failures"]
                    )
                    outcomes.write(lines)
                    invalid.write(bad)
                elif state in ("unknown", "in_flight"):
                    unknown.write("".join(token + "\n" for token in tokens).encode())
                else:
                    not_sent.write("".join(token + "\n" for token in tokens).encode())


def _summary(
    campaign_id: str, config: dict[str, str], totals: _Totals, bucket: dict[str, float]
) -> dict[str, Any]:
    batches = int(config["batches"])
    settled = batches - totals.batches["not_sent"] - totals.batches["in_flight"]
    return {
        "campaign": campaign_id,
        "complete": settled == batches,
        "tokens": int(config["tokens"]),
        "batches": dict(sorted(totals.batches.items())),
        "outcomes": {
            "accepted": totals.accepted,
            "failed": totals.failed,
            "unknown": totals.unknown,
            "inFlight": totals.in_flight,
            "refused": totals.refused,
            "notSent": totals.not_sent,
        },
        "failuresByReason": dict(sorted(totals.reasons.items())),
        "refusedByCode": dict(sorted(totals.refusals.items())),
        "requestIds": sorted(totals.request_ids),
        "rate": {
            "configuredTokensPerSecond": float(config["rate"]) if config["rate"] else None,
            "currentTokensPerSecond": bucket.get("rate"),
            "lowestTokensPerSecond": bucket.get("lowest"),
            "flowControlResponses": int(bucket.get("flow_control", 0)),
        },
    }
