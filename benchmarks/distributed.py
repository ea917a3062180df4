"""Distributed sending throughput: Celery workers, a real Redis, and a target server.

For each scenario (workers × threads), the script queues one campaign of `--tokens`
130-character tokens with `enqueue_campaign` and lets `hmpush distributed worker` processes
send it, then reports:

* sending tokens/s, from the first batch a worker claimed to the moment every batch is done;
* enqueue tokens/s (planning the list and queueing one task per 1000-token batch);
* CPU seconds per million tokens of the workers (and their pool children), of redis-server
  and of the target, measured with psutil over the campaign (worker start-up excluded).

Everything runs on 127.0.0.1: a `redis-server` on a free port in a temporary directory without
persistence, the target (`sink`: the bare HTTP sink of `benchmarks/campaign.py`, answering
`80000000` to every request; `emulator`: `hmpush emulator` with one registered device per
token) and the workers. Every process started is stopped at the end, on error or on Ctrl-C.

Run: `.venv/bin/python benchmarks/distributed.py [--tokens 200000] [--scenarios 1x8,2x4]
[--pool threads] [--target sink|emulator]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

HERE = Path(__file__).resolve().parent
CAMPAIGN_BENCHMARK = HERE / "campaign.py"  # its `--sink PORT` mode is the bare sink
HMPUSH = (sys.executable, "-c", "from hmpush.cli import main; main()")
START_SECONDS = 60.0
POLL_SECONDS = 0.02
FIRST_CLAIM_POLL_SECONDS = 0.002
STOP_SECONDS = 20.0
RATE = 10_000_000.0  # tokens/s: high enough never to be the limit
DEVICES_PER_CALL = 100_000
MAX_TOKENS = 2_000_000
MAX_WORKERS = 8
MAX_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class Scenario:
    """`workers` worker processes of `concurrency` each."""

    workers: int
    concurrency: int

    @property
    def name(self) -> str:
        return f"{self.workers}x{self.concurrency}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the workers send: base URL, key file, the token list, and the server's process."""

    endpoint: str
    key_file: Path
    tokens_file: Path
    process: psutil.Process


# --- processes ----------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(ready: Any, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {START_SECONDS:.0f} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one process we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _started(command: list[str], log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in its own session (Ctrl-C reaches only this script), stopped on exit."""
    with ExitStack() as files:
        output = files.enter_context(open(log, "wb")) if log else subprocess.DEVNULL
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


@contextmanager
def redis_server(directory: Path) -> Iterator[tuple[str, psutil.Process]]:
    """A redis-server on a free loopback port without persistence; its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    options = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
    command = [binary, *options, "--save", "", "--appendonly", "no"]
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    with _started(command) as process:
        _wait_until(answers, "redis-server", process)
        yield url, psutil.Process(process.pid)


def _listens(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _synthetic_tokens(path: Path, count: int) -> None:
    """Unique, plausible 130-character tokens, shaped like the local server's."""
    import base64
    import os

    seed = os.urandom(16)
    with open(path, "wb", buffering=1 << 20) as handle:
        for index in range(count):
            tail = base64.urlsafe_b64encode(seed + index.to_bytes(8, "big") * 10).rstrip(b"=")
            handle.write(b"MAMzLgEAAAA" + tail[: 130 - 11] + b"\n")


@contextmanager
def sink_target(work: Path, count: int) -> Iterator[Target]:
    """The bare sink of `benchmarks/campaign.py` in its own process, and synthetic tokens."""
    from hmpush.auth import generate_service_account, write_service_account

    key = work / "key.json"
    write_service_account(generate_service_account("100000000000001", bits=2048), key)
    tokens = work / "tokens.txt"
    _synthetic_tokens(tokens, count)
    port = _free_port()
    command = [sys.executable, str(CAMPAIGN_BENCHMARK), "--sink", str(port)]
    with _started(command) as process:
        _wait_until(lambda: _listens(port), "the bare sink", process)
        yield Target(f"http://127.0.0.1:{port}", key, tokens, psutil.Process(process.pid))


@contextmanager
def emulator_target(work: Path, count: int) -> Iterator[Target]:
    """`hmpush emulator` (file-backed) with one registered device per token."""
    from hmpush.auth import write_service_account
    from hmpush.testing import EmulatorServer, server_handle

    data_dir = work / "emulator-data"
    data_dir.mkdir()
    with EmulatorServer(data_dir) as server:
        handle, close = server_handle(server.base_url)
        try:
            tokens: list[str] = []
            while len(tokens) < count:
                batch = min(DEVICES_PER_CALL, count - len(tokens))
                answer = handle.admin("POST", f"/apps/{handle.app_id}/devices", {"count": batch})
                tokens.extend(answer["tokens"])
            tokens_file = work / "tokens.txt"
            tokens_file.write_text("".join(f"{token}\n" for token in tokens))
            key = work / "key.json"
            write_service_account(handle.service_account, key)
            assert server._process is not None  # started by the `with`
            yield Target(server.base_url, key, tokens_file, psutil.Process(server._process.pid))
        finally:
            close()


@contextmanager
def workers(
    broker: str, scenario: Scenario, pool: str, logs: Path
) -> Iterator[list[psutil.Process]]:
    """`scenario.workers` `hmpush distributed worker` processes, each waited for until ready."""
    with ExitStack() as stack:
        started: list[tuple[subprocess.Popen[bytes], Path]] = []
        for index in range(scenario.workers):
            log = logs / f"worker-{scenario.name}-{index}.log"
            command = [
                *HMPUSH,
                "distributed",
                "worker",
                "--broker",
                broker,
                "--concurrency",
                str(scenario.concurrency),
                "--pool",
                pool,
                "--loglevel",
                "INFO",  # for the "ready." line; two lines per 1000-token task
            ]
            started.append((stack.enter_context(_started(command, log)), log))
        for process, log in started:
            _wait_until(lambda log=log: b" ready." in log.read_bytes(), "a worker", process)
        yield [psutil.Process(process.pid) for process, _ in started]


# --- measuring ----------------------------------------------------------------------------------


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU of `processes` and their living children (prefork pool processes)."""
    total = 0.0
    seen: set[int] = set()
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            if member.pid in seen:
                continue
            seen.add(member.pid)
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def _message() -> Any:
    from hmpush.messages import AlertPayload, ClickAction, Notification, prepare

    return prepare(
        AlertPayload(
            notification=Notification(
                category="MARKETING",
                title="Spring sale",
                body="Everything half price today.",
                click_action=ClickAction(action_type=0),
            )
        )
    )


class FirstClaimWatch:
    """Polls the campaign's batch records from another thread; the time of the first claim.

    A finished batch's record no longer holds its claim time, so the watch starts before the
    campaign is queued and reads the first claim while it is in flight (within one poll).
    """

    def __init__(self, redis_url: str, campaign_id: str) -> None:
        from hmpush.distributed import CampaignStore

        self._client = redis.Redis.from_url(redis_url)
        self._store = CampaignStore(self._client, campaign_id)
        self._stop = threading.Event()
        self.first_claim_ms: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self._client.hlen(self._store.batches_key):
                seen_ms = time.time() * 1000
                claims = [
                    r["sentAtMs"] for r in self._store.all_records().values() if "sentAtMs" in r
                ]
                self.first_claim_ms = min([seen_ms, *claims])
                return
            time.sleep(FIRST_CLAIM_POLL_SECONDS)

    def close(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join()
        self._client.close()


def _wait_settled(store: Any, batches: int, timeout: float, name: str) -> float:
    """Poll until every batch has a final record; the wall-clock time (ms) it was seen."""
    deadline = time.monotonic() + timeout
    while True:
        records = store.all_records()
        if len(records) == batches and all(r["state"] != "in_flight" for r in records.values()):
            return time.time() * 1000
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{name}: only {len(records)} of {batches} batches claimed or settled "
                f"after {timeout:g} s"
            )
        time.sleep(POLL_SECONDS)


def run_scenario(
    scenario: Scenario,
    target: Target,
    broker: tuple[str, psutil.Process],
    args: argparse.Namespace,
    work: Path,
) -> dict[str, Any]:
    """Start the workers, queue the campaign, wait until every batch is settled; the figures."""
    from hmpush.distributed import (
        CampaignStore,
        collect_results,
        enqueue_campaign,
        make_celery_app,
    )

    redis_url, redis_process = broker
    with closing(redis.Redis.from_url(redis_url)) as client:
        client.flushdb()
    campaign_id = f"bench{scenario.workers}x{scenario.concurrency}"
    with workers(redis_url, scenario, args.pool, work) as worker_processes, ExitStack() as stack:
        watched = {
            "workers": worker_processes,
            "redis": [redis_process],
            "target": [target.process],
        }
        cpu_before = {name: _cpu_seconds(group) for name, group in watched.items()}
        app = make_celery_app(redis_url)
        stack.callback(app.close)
        watch = FirstClaimWatch(redis_url, campaign_id)
        stack.callback(watch.close)
        enqueue_started = time.perf_counter()
        report = enqueue_campaign(
            app,
            _message(),
            target.tokens_file,
            work / f"work-{scenario.name}",
            campaign_id=campaign_id,
            endpoint=target.endpoint,
            key_file=target.key_file,
            rate=RATE,
            timeout=120.0,
        )
        enqueue_seconds = time.perf_counter() - enqueue_started
        store = CampaignStore(
            stack.enter_context(closing(redis.Redis.from_url(redis_url))), campaign_id
        )
        finished_ms = _wait_settled(store, report.plan.batches, args.timeout, scenario.name)
        cpu = {name: _cpu_seconds(group) - cpu_before[name] for name, group in watched.items()}
    assert watch.first_claim_ms is not None  # every batch was claimed
    summary = collect_results(redis_url, campaign_id)
    return {
        "tokens": report.plan.tokens,
        "accepted": summary["outcomes"]["accepted"],
        "sending_seconds": (finished_ms - watch.first_claim_ms) / 1000,
        "enqueue_seconds": enqueue_seconds,
        "cpu": cpu,
    }


def _report(scenario: Scenario, pool: str, figures: dict[str, Any]) -> None:
    tokens = figures["tokens"]
    per_million = {name: seconds / tokens * 1e6 for name, seconds in figures["cpu"].items()}
    print(
        f"{scenario.workers} worker(s) × {scenario.concurrency} {pool}: "
        f"accepted {figures['accepted']:,}/{tokens:,}  "
        f"sending {tokens / figures['sending_seconds']:,.0f} tokens/s "
        f"({figures['sending_seconds']:.2f} s)  "
        f"enqueue {tokens / figures['enqueue_seconds']:,.0f} tokens/s "
        f"({figures['enqueue_seconds']:.2f} s)  "
        f"CPU s per 1M tokens: workers {per_million['workers']:.2f}, "
        f"redis {per_million['redis']:.2f}, target {per_million['target']:.2f}",
        flush=True,
    )


def _scenarios(text: str) -> list[Scenario]:
    scenarios = []
    for item in text.split(","):
        count, _, threads = item.strip().partition("x")
        try:
            scenario = Scenario(int(count), int(threads))
        except ValueError:
            raise SystemExit(f"--scenarios: {item!r} is not WORKERSxCONCURRENCY") from None
        if not (
            1 <= scenario.workers <= MAX_WORKERS and 1 <= scenario.concurrency <= MAX_CONCURRENCY
        ):
            raise SystemExit(
                f"--scenarios: {item!r}: 1-{MAX_WORKERS} workers of 1-{MAX_CONCURRENCY} each"
            )
        scenarios.append(scenario)
    return scenarios


def main() -> None:
    """Run each scenario against one Redis and one target; one line of figures each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200_000, help="Tokens per campaign.")
    parser.add_argument("--scenarios", default="1x8,2x4", help="WORKERSxCONCURRENCY, ...")
    parser.add_argument("--pool", choices=("threads", "prefork", "solo"), default="threads")
    parser.add_argument("--target", choices=("sink", "emulator"), default="sink")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="Seconds each campaign may take."
    )
    args = parser.parse_args()
    if not 1 <= args.tokens <= MAX_TOKENS:
        raise SystemExit(f"--tokens must be 1-{MAX_TOKENS:,}")
    scenarios = _scenarios(args.scenarios)
    work = Path(tempfile.mkdtemp(prefix="hmpush-distributed-bench-"))
    target_for = {"sink": sink_target, "emulator": emulator_target}[args.target]
    try:
        with (
            redis_server(work) as (redis_url, redis_process),
            target_for(work, args.tokens) as target,
        ):
            print(f"{args.tokens:,} tokens → {args.target} at {target.endpoint}", flush=True)
            for scenario in scenarios:
                figures = run_scenario(scenario, target, (redis_url, redis_process), args, work)
                _report(scenario, args.pool, figures)
    except KeyboardInterrupt:
        print("interrupted; every process started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
    except (RuntimeError, OSError, redis.RedisError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
