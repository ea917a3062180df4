"""Distributed campaigns over real parts: redis-server, Celery workers, the local Push server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from hmpush.distributed import (
    CampaignStore,
    DistributedError,
    RedisRateLimiter,
    collect_results,
    enqueue_campaign,
    send_batch,
)
from hmpush.messages import AlertPayload, ClickAction, Notification, PreparedMessage, prepare
from hmpush.testing import EmulatorHandle

WAIT_SECONDS = 20.0
HMPUSH = (sys.executable, "-c", "from hmpush.cli import main; main()", "distributed")


def im_message() -> PreparedMessage:
    """An IM notification (no daily quota on the devices)."""
    return prepare(
        AlertPayload(
            notification=Notification(
                category="IM",
                title="Ada",
                body="Lunch at noon?",
                click_action=ClickAction(action_type=0),
            )
        )
    )


def write_tokens(path: Path, tokens: list[str]) -> Path:
    path.write_text("".join(f"{token}\n" for token in tokens))
    return path


@contextmanager
def thread_worker(app: Celery, concurrency: int = 4) -> Iterator[None]:
    """A real Celery worker in this process: a consumer with a pool of `concurrency` threads."""
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=15,
        loglevel="WARNING",
    ):
        yield


@contextmanager
def command_worker(redis_url: str) -> Iterator[None]:
    """`hmpush distributed worker` in its own process (a thread pool of 2), stopped after."""
    worker = subprocess.Popen(
        [*HMPUSH, "worker", "--broker", redis_url, "--concurrency", "2", "--pool", "threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_settled(redis_url: str, campaign_id: str, batches: int) -> dict[int, dict[str, Any]]:
    """Poll Redis until every batch has a final record; the records."""
    store = CampaignStore(redis.Redis.from_url(redis_url), campaign_id)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        records = store.all_records()
        if len(records) == batches and all(r["state"] != "in_flight" for r in records.values()):
            return records
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(records)} of {batches} batches settled in {WAIT_SECONDS} s")
        time.sleep(0.05)


def enqueue(
    app: Celery,
    server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
    tokens: list[str],
    *,
    campaign_id: str = "spring",
    rate: float | None = 100_000,
    batch_size: int | None = None,
    key_env: str | None = None,
) -> Path:
    """Queue a campaign of `tokens` to the local server; the work directory."""
    work = tmp_path / "work"
    enqueue_campaign(
        app,
        im_message(),
        write_tokens(tmp_path / "tokens.txt", tokens),
        work,
        campaign_id=campaign_id,
        endpoint=server.base_url,
        key_file=None if key_env else key_file,
        key_env=key_env,
        rate=rate,
        batch_size=batch_size,
    )
    return work


def hmpush(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `hmpush distributed ARGS` as users do, in its own process."""
    return subprocess.run(
        [*HMPUSH, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def received_counts(server: EmulatorHandle, tokens: list[str]) -> list[int]:
    """How many messages each token's device holds, asked of the server's inboxes."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda token: len(server.inbox(token)), tokens))


@pytest.mark.timeout(60)
def test_every_token_is_delivered_exactly_once_by_two_workers(
    celery_app: Celery,
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
) -> None:
    tokens = hmpush_emulator_server.create_devices(2000)
    work = enqueue(
        celery_app, hmpush_emulator_server, key_file, tmp_path, tokens + tokens[:50], batch_size=100
    )
    # A second worker in its own process, started by the command users run.
    with command_worker(redis_url), thread_worker(celery_app, concurrency=4):
        records = wait_settled(redis_url, "spring", 20)
    assert {record["state"] for record in records.values()} == {"done"}
    requests = hmpush_emulator_server.requests()
    assert len(requests) == 20 and sum(request["success"] for request in requests) == 2000
    assert received_counts(hmpush_emulator_server, tokens) == [1] * 2000

    summary = collect_results(redis_url, "spring", work)
    assert summary["complete"] and summary["outcomes"]["accepted"] == 2000
    assert sorted(summary["requestIds"]) == sorted(r["requestId"] for r in requests)
    lines = [orjson.loads(line) for line in (work / "outcomes.jsonl").read_bytes().splitlines()]
    assert sorted(line["token"] for line in lines) == sorted(tokens)
    assert orjson.loads((work / "summary.json").read_bytes()) == summary


@pytest.mark.timeout(60)
def test_a_task_delivered_twice_sends_its_batch_once(
    celery_app: Celery,
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
) -> None:
    tokens = hmpush_emulator_server.create_devices(30)
    enqueue(celery_app, hmpush_emulator_server, key_file, tmp_path, tokens, batch_size=10)
    # Before any worker runs: batch 0 executed twice by hand, then its task queued twice more.
    context = celery_app.hmpush_context
    assert send_batch(context, "spring", 0, tokens[:10]) == "done"
    assert send_batch(context, "spring", 0, tokens[:10]) == "done"
    celery_app.send_task("hmpush.send_batch", args=("spring", 1, tokens[10:20]))
    with thread_worker(celery_app):
        wait_settled(redis_url, "spring", 3)
    assert len(hmpush_emulator_server.requests()) == 3
    assert received_counts(hmpush_emulator_server, tokens) == [1] * 30


@pytest.mark.timeout(60)
def test_a_batch_found_in_flight_is_reported_unknown_not_resent(
    celery_app: Celery,
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
) -> None:
    tokens = hmpush_emulator_server.create_devices(20)
    work = enqueue(celery_app, hmpush_emulator_server, key_file, tmp_path, tokens, batch_size=10)
    # A worker claimed batch 1, wrote its request and died (acks_late redelivers the task).
    store = CampaignStore(redis.Redis.from_url(redis_url), "spring")
    assert store.claim(1, "worker-that-died", 10, 0) == "claimed"
    with thread_worker(celery_app):
        records = wait_settled(redis_url, "spring", 2)
    assert records[0]["state"] == "done" and records[1]["state"] == "unknown"
    assert len(hmpush_emulator_server.requests()) == 1
    assert received_counts(hmpush_emulator_server, tokens[10:]) == [0] * 10

    summary = collect_results(redis_url, "spring", work)
    assert summary["outcomes"] == {
        "accepted": 10,
        "failed": 0,
        "unknown": 10,
        "inFlight": 0,
        "refused": 0,
        "notSent": 0,
    }
    assert (work / "unknown-tokens.txt").read_text().split() == tokens[10:]
    # Without the work directory, Redis alone gives the same counts.
    assert collect_results(redis_url, "spring") == summary
    # The dead worker's answer, if it ever came, would still be recorded as its own.
    assert store.finish(1, "worker-that-died", {"state": "done", "size": 10}) is True


@pytest.mark.timeout(60)
def test_the_shared_rate_holds_for_all_workers_together(
    celery_app: Celery,
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
) -> None:
    rate = 1000
    tokens = hmpush_emulator_server.create_devices(3000)
    enqueue(
        celery_app, hmpush_emulator_server, key_file, tmp_path, tokens, rate=rate, batch_size=100
    )
    with thread_worker(celery_app, concurrency=6):
        wait_settled(redis_url, "spring", 30)
    granted = RedisRateLimiter(redis.Redis.from_url(redis_url), "spring", rate)
    per_second = granted.granted_per_second()
    assert sum(per_second.values()) == 3000
    # A bucket of one second's tokens: any k whole seconds (Redis clock) carry at most
    # capacity + rate * k tokens, whatever the number of workers.
    first, last = min(per_second), max(per_second)
    for start in range(first, last + 1):
        for end in range(start, last + 1):
            window = sum(per_second.get(second, 0) for second in range(start, end + 1))
            assert window <= rate + rate * (end - start + 1), (start, end, per_second)
    assert last - first >= 1  # 3000 tokens at 1000/s cannot fit in one second


def test_the_token_bucket_grants_a_second_of_rate_then_makes_callers_wait(
    redis_url: str,
) -> None:
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), "bucket", 500)
    assert limiter.try_acquire(300) == 0.0
    assert limiter.try_acquire(200) == 0.0
    wait = limiter.try_acquire(400)
    assert 0 < wait <= 400 / 500
    # 503 with Retry-After 5: every worker pauses, and the shared rate halves.
    assert limiter.on_flow_control(5.0) > 4
    assert limiter.try_acquire(1) > 4
    assert limiter.state()["rate"] == 250 and limiter.state()["flow_control"] == 1
    with pytest.raises(ValueError, match="rate must be a positive"):
        RedisRateLimiter(redis.Redis.from_url(redis_url), "bucket", 0)


@pytest.mark.timeout(60)
def test_flow_control_is_retried_and_lowers_the_shared_rate(
    celery_app: Celery,
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The workers read the key JSON from their environment; the broker only sees the name.
    monkeypatch.setenv("HMPUSH_TEST_WORKER_KEY", key_file.read_text())
    tokens = hmpush_emulator_server.create_devices(40)
    hmpush_emulator_server.add_fault(status=503, retry_after=1, times=2)
    work = enqueue(
        celery_app,
        hmpush_emulator_server,
        key_file,
        tmp_path,
        tokens,
        batch_size=10,
        key_env="HMPUSH_TEST_WORKER_KEY",
    )
    with thread_worker(celery_app, concurrency=2):
        records = wait_settled(redis_url, "spring", 4)
    assert {record["state"] for record in records.values()} == {"done"}
    assert received_counts(hmpush_emulator_server, tokens) == [1] * 40
    summary = collect_results(redis_url, "spring", work)
    assert summary["outcomes"]["accepted"] == 40
    assert summary["rate"]["flowControlResponses"] == 2
    assert summary["rate"]["lowestTokensPerSecond"] < 100_000


@pytest.mark.timeout(60)
def test_the_three_commands_run_a_campaign_and_collect_invalid_tokens(
    redis_url: str,
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
) -> None:
    good = hmpush_emulator_server.create_devices(15)
    bad = [f"MAMzLgEAAAAnobodyEverHeldThisToken{index:010d}" for index in range(5)]
    message = tmp_path / "message.json"
    message.write_bytes(
        orjson.dumps(
            {
                "pushType": 0,
                "payload": {
                    "notification": {
                        "category": "IM",
                        "title": "Ada",
                        "body": "Lunch?",
                        "clickAction": {"actionType": 0},
                    }
                },
            }
        )
    )
    work = tmp_path / "work"
    queued = hmpush(
        "enqueue",
        "--broker",
        redis_url,
        "--key",
        str(key_file),
        "--message",
        str(message),
        "--tokens",
        str(write_tokens(tmp_path / "tokens.txt", [*good, *bad, "x"])),
        "--rate",
        "5000",
        "--campaign",
        "spring",
        "--out",
        str(work),
        "--endpoint",
        hmpush_emulator_server.base_url,
        "--batch-size",
        "10",
    )
    assert queued.returncode == 0, queued.stderr
    assert "20 tokens in 2 requests" in queued.stdout and "2 tasks queued" in queued.stdout
    with command_worker(redis_url):  # the only worker: the commands alone do the campaign
        wait_settled(redis_url, "spring", 2)
    done = hmpush("status", "--broker", redis_url, "--campaign", "spring", "--out", str(work))
    assert done.returncode == 3, done.stderr  # some tokens failed
    assert "accepted 15" in done.stdout and "tokenFormatError: 5" in done.stdout
    assert (work / "invalid-tokens.txt").read_text().split() == bad
    rejected = (work / "rejected-lines.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["text"] for line in rejected] == ["x"]


def test_credentials_and_campaign_ids_are_checked_before_anything_is_queued(
    celery_app: Celery, redis_url: str, tmp_path: Path
) -> None:
    tokens = write_tokens(tmp_path / "tokens.txt", ["MAMzLgEAAAAtoken000000001"])
    common: dict[str, Any] = {"endpoint": "http://127.0.0.1:9", "rate": 10.0}
    with pytest.raises(DistributedError, match="exactly one of key_file"):
        enqueue_campaign(
            celery_app, im_message(), tokens, tmp_path / "w", campaign_id="a", **common
        )
    with pytest.raises(ValueError, match="campaign id"):
        enqueue_campaign(
            celery_app,
            im_message(),
            tokens,
            tmp_path / "w",
            campaign_id="../etc",
            key_env="HMPUSH_SERVICE_ACCOUNT",
            **common,
        )
    enqueue_campaign(
        celery_app, im_message(), tokens, tmp_path / "w", campaign_id="a", key_env="KEY", **common
    )
    config = CampaignStore(redis.Redis.from_url(redis_url), "a").config()
    assert config is not None and config["key_env"] == "KEY" and "PRIVATE" not in str(config)
    with pytest.raises(DistributedError, match="different message"):
        enqueue_campaign(
            celery_app,
            prepare(
                AlertPayload(
                    notification=Notification(
                        category="IM",
                        title="Other",
                        body="x",
                        click_action=ClickAction(action_type=0),
                    )
                )
            ),
            tokens,
            tmp_path / "w",
            campaign_id="a",
            key_env="KEY",
            **common,
        )
