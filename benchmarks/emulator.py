"""Local Push server throughput: requests/s and p50/p99 latency of `messages:send`.

One Granian worker serves the emulator app (file-backed SQLite in WAL mode, as `hmpush emulator`
runs it) pinned to one CPU; a load generator in a separate process, pinned to the other CPU,
keeps `--concurrency` HTTP/1.1 keep-alive connections busy for `--duration` seconds per
scenario. The generator is a small raw-socket client so that it is not the bottleneck.

Scenarios, in the same run against the same server process:

* bare, FastAPI route: a route on the same FastAPI app that reads the body and answers a fixed
  200 — the cost of the stack (Granian + FastAPI routing + reading the body);
* bare, ASGI: the same answer from an ASGI middleware of the same app, before any routing —
  the strictest baseline, since `messages:send` is itself answered from such a middleware
  (also with the 1000-token body, to show what receiving 137 kB costs);
* send, 1 token: a full `messages:send` — JWT check, shared validation, the per-token lookup,
  the request record and the inbox rows, committed to SQLite;
* send, 1000 tokens: the same with 1000 registered devices per request.

Every send answer is checked to be `80000000`; the run fails otherwise. Besides the measured
rate, each scenario reports "per CPU-s": requests answered per second of CPU time the server
process used (its own and its worker's), which is what one dedicated core would sustain; on a
shared, busy machine it is the steadier figure.

Scenarios take turns in `--rounds` rounds; request rates are medians over the rounds, latency
percentiles are over all requests.

Run: `.venv/bin/python benchmarks/emulator.py [--duration 3] [--rounds 3] [--concurrency 8]`.
Goals: the 1-token send reaches at least 50 % of the bare rate, and the 1000-token send at
least 200 accepted requests/s on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request, Response

BARE_PATH = "/bench/bare"
BARE_ASGI_PATH = "/bench/bare-asgi"
_BARE_ANSWER = b'{"code":"80000000","msg":"Success","requestId":"0"}'
_SUCCESS = b'"code":"80000000"'


def bench_app() -> Any:
    """Granian factory: the emulator app plus the bare route."""

    from hmpush.emulator import create_app
    from hmpush.emulator.serve import config_from_environment

    app = create_app(config_from_environment())

    @app.post(BARE_PATH, include_in_schema=False)
    async def bare(request: Request) -> Response:
        await request.body()
        return Response(_BARE_ANSWER, 200, media_type="application/json")

    app.add_middleware(_BareAsgi)
    return app


class _BareAsgi:
    """Answers `BARE_ASGI_PATH` before any routing, as the send fast path does."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != BARE_ASGI_PATH:
            await self.app(scope, receive, send)
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BARE_ANSWER)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _BARE_ANSWER})


def _serve(port: int) -> None:
    """Run inside the server subprocess: one worker, on CPU 0 when the machine allows."""
    from granian import Granian
    from granian.constants import Interfaces

    _pin(0)
    Granian(
        "emulator:bench_app",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        working_dir=Path(__file__).resolve().parent,
        log_enabled=False,
    ).serve()


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


# --- the load generator (separate process) ---------------------------------------------------


@dataclass
class Result:
    """One scenario's outcome."""

    name: str
    completed: int
    failed: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.completed / self.seconds

    @property
    def per_core(self) -> float:
        """Requests the server could answer per second of its own CPU time."""
        return self.completed / self.server_cpu_seconds if self.server_cpu_seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def _connection(
    port: int, request: bytes, deadline: float, check: bool, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failed = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200" or (check and _SUCCESS not in body):
                failed += 1
    finally:
        writer.close()
    return failed


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"response without Content-Length: {head[:200]!r}")


def _load(port: int, request: bytes, seconds: float, concurrency: int, check: bool) -> Any:
    _pin(1)

    async def run() -> tuple[list[float], int, float]:
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + seconds
        failures = await asyncio.gather(
            *(_connection(port, request, deadline, check, latencies) for _ in range(concurrency))
        )
        return latencies, sum(failures), time.perf_counter() - started

    return asyncio.run(run())


def _server_cpu_seconds(server_pid: int) -> float:
    """User + system CPU time of the server and its worker processes so far."""
    import psutil

    root = psutil.Process(server_pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _settled_cpu_seconds(server_pid: int) -> float:
    """Server CPU time once its background work (inbox indexing, receipts) has caught up, so
    that work is charged to the scenario that caused it."""
    used = _server_cpu_seconds(server_pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1.5)  # longer than the background round's interval
        now, before = _server_cpu_seconds(server_pid), used
        used = now
        if now - before < 0.02:
            break
    return used


def _run_scenario(
    name: str,
    port: int,
    server_pid: int,
    request: bytes,
    seconds: float,
    concurrency: int,
    check: bool,
) -> Result:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        cpu_before = _server_cpu_seconds(server_pid)
        latencies, failed, elapsed = pool.apply(_load, (port, request, seconds, concurrency, check))
        cpu_used = _settled_cpu_seconds(server_pid) - cpu_before
    return Result(name, len(latencies), failed, elapsed, latencies, cpu_used)


# --- set-up ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    import httpx2

    from hmpush.emulator import EmulatorConfig
    from hmpush.emulator.serve import config_to_environment

    env = {**os.environ, **config_to_environment(EmulatorConfig(data_dir=data_dir))}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], env=env, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/admin/health").status_code == 200:
                return server
        except httpx2.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def _raw_request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def _requests(port: int) -> dict[str, bytes]:
    import httpx2

    from hmpush.auth import JwtSigner, ServiceAccount

    admin = f"http://127.0.0.1:{port}/admin"
    created = httpx2.post(f"{admin}/projects", json={}).json()
    account = ServiceAccount.from_dict(created["service_account"])
    app = httpx2.post(f"{admin}/projects/{account.project_id}/apps", json={}).json()
    tokens = httpx2.post(
        f"{admin}/apps/{app['app_id']}/devices", json={"count": 1000}, timeout=60
    ).json()["tokens"]
    headers = {"Authorization": f"Bearer {JwtSigner(account).token()}", "push-type": "0"}
    send_path = f"/v3/{account.project_id}/messages:send"

    def body(batch: list[str]) -> bytes:
        notification = {
            "category": "IM",
            "title": "Benchmark",
            "body": "One message for many devices",
            "clickAction": {"actionType": 0},
        }
        return orjson.dumps({"payload": {"notification": notification}, "target": {"token": batch}})

    one = body(tokens[:1])
    return {
        "bare, FastAPI route": _raw_request(port, BARE_PATH, one, headers),
        "bare, ASGI": _raw_request(port, BARE_ASGI_PATH, one, headers),
        "bare, ASGI, 1000 tokens": _raw_request(port, BARE_ASGI_PATH, body(tokens), headers),
        "send, 1 token": _raw_request(port, send_path, one, headers),
        "send, 1000 tokens": _raw_request(port, send_path, body(tokens), headers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; rates are medians")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="hmpush-bench-") as data:
        server = _start_server(port, Path(data))
        try:
            requests = _requests(port)
            rounds = [
                [
                    _run_scenario(
                        name,
                        port,
                        server.pid,
                        raw,
                        args.duration,
                        args.concurrency,
                        name.startswith("send"),
                    )
                    for name, raw in requests.items()
                ]
                for _ in range(args.rounds)
            ]
        finally:
            server.terminate()
            server.wait(30)
    _report(rounds, args)


def _report(rounds: list[list[Result]], args: argparse.Namespace) -> None:
    print(
        f"one Granian worker on one CPU; {args.concurrency} connections; {args.rounds} rounds of "
        f"{args.duration:g} s per scenario; python {sys.version.split()[0]}"
    )
    print(
        f"{'scenario':<24}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'per CPU-s':>11}{'failed':>8}"
    )
    rates: dict[str, float] = {}
    per_core: dict[str, float] = {}
    for index, first in enumerate(rounds[0]):
        runs = [results[index] for results in rounds]
        rates[first.name] = statistics.median(run.rate for run in runs)
        per_core[first.name] = statistics.median(run.per_core for run in runs)
        pooled = Result(
            first.name,
            sum(run.completed for run in runs),
            sum(run.failed for run in runs),
            sum(run.seconds for run in runs),
            [latency for run in runs for latency in run.latencies],
        )
        print(
            f"{first.name:<24}{rates[first.name]:>12.0f}{pooled.percentile(0.5):>10.2f}"
            f"{pooled.percentile(0.99):>10.2f}{per_core[first.name]:>11.0f}{pooled.failed:>8}"
        )
    for bare in ("bare, FastAPI route", "bare, ASGI"):
        print(
            f"1-token send / {bare}: {rates['send, 1 token'] / rates[bare]:.0%} measured, "
            f"{per_core['send, 1 token'] / per_core[bare]:.0%} per CPU-s (goal >= 50%)"
        )
    thousand_runs = [
        run for results in rounds for run in results if run.name == "send, 1000 tokens"
    ]
    inbox_rows = 0
    steps = []
    for run in thousand_runs:
        steps.append(f"{run.per_core:.0f} (after {inbox_rows / 1e6:.1f}M inbox rows)")
        inbox_rows += run.completed * 1000
    print("1000-token sends per CPU-s, round by round: " + ", ".join(steps))
    thousand = rates["send, 1000 tokens"]
    print(
        f"1000-token sends: {thousand:.0f}/s measured, {per_core['send, 1000 tokens']:.0f} per "
        "second of server CPU (goal >= 200/s on one core)"
    )
    if any(result.failed for results in rounds for result in results):
        raise SystemExit("some requests were not answered 200 / 80000000")


if __name__ == "__main__":
    main()
