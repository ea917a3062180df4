"""Campaign throughput and memory: tokens/s, CPU seconds per million tokens, peak RSS.

Scenarios (each campaign runs in its own process, which reports its own CPU time and peak RSS):

* `sink-1m`: 1,000,000 tokens to a bare sink, a minimal real HTTP/1.1 server (asyncio, its own
  process) that reads each request and answers `80000000`, so the figure is the campaign's own
  cost: reading and planning the list, rendering bodies, HTTP, state and result files;
* `server-1m`: 1,000,000 tokens to the local Push server (`hmpush emulator`, file-backed), with
  1,000,000 registered devices, so every token is checked, accepted and delivered to an inbox;
* `sink-100k` and `sink-10m`: peak RSS for 100,000 versus 10,000,000 tokens to the bare sink.

Tokens/s is reported end to end (planning the list + sending) and for the sending phase alone.

Run: `.venv/bin/python benchmarks/campaign.py [--scenarios sink-1m,server-1m,sink-100k,sink-10m]`.
Goals: at least 300,000 tokens/s to the bare sink; peak RSS for 10M within 10 % of 100k.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

SCENARIOS = ("sink-1m", "server-1m", "sink-100k", "sink-10m")
SIZES = {"sink-1m": 1_000_000, "server-1m": 1_000_000, "sink-100k": 100_000, "sink-10m": 10_000_000}
RATE = 10_000_000  # tokens/s: high enough never to be the limit
CONCURRENCY = 8
DEVICES_PER_CALL = 100_000


# --- the bare sink ----------------------------------------------------------------------------


class _SinkProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive: read each request's headers and body, answer a fixed success."""

    count = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = bytearray()
        self.needed: int | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.needed is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.needed = end + 4 + _content_length(bytes(self.buffer[:end]))
            if len(self.buffer) < self.needed:
                return
            del self.buffer[: self.needed]
            self.needed = None
            _SinkProtocol.count += 1
            body = b'{"code":"80000000","msg":"Success","requestId":"%d"}' % _SinkProtocol.count
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def serve_sink(port: int) -> None:
    """Run the sink until killed."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_SinkProtocol, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the campaign process -----------------------------------------------------------------------


def run_campaign(key: str, endpoint: str, tokens: str, out: str) -> None:
    """Run one campaign and print its figures as JSON (this process's own CPU and peak RSS)."""
    from hmpush.client import AsyncPushClient
    from hmpush.fanout import Campaign
    from hmpush.messages import AlertPayload, ClickAction, Notification, prepare

    message = prepare(
        AlertPayload(
            notification=Notification(
                category="MARKETING",
                title="Spring sale",
                body="Everything half price today.",
                click_action=ClickAction(action_type=0),
            )
        )
    )

    async def main() -> Any:
        async with AsyncPushClient(
            key,
            endpoint=endpoint,
            retry=Campaign.client_retry_policy(),
            max_concurrency=CONCURRENCY,
            timeout=120,
        ) as client:
            campaign = Campaign(client, message, tokens, out, rate=RATE, concurrency=CONCURRENCY)
            return await campaign.run()

    started = time.perf_counter()
    summary = asyncio.run(main())
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    durations = summary.data["durations"]
    print(
        orjson.dumps(
            {
                "accepted": summary.accepted,
                "failed": summary.failed,
                "complete": summary.complete,
                "seconds": elapsed,
                "planningSeconds": durations["planningSeconds"],
                "sendingSeconds": durations["sendingSeconds"],
                "cpuSeconds": usage.ru_utime + usage.ru_stime,
                "peakRssMiB": _peak_rss_mib(),
            }
        ).decode()
    )


def _peak_rss_mib() -> float:
    """This process's own peak RSS: VmHWM, which (unlike `ru_maxrss`) is not inherited from the
    parent at fork, so a big parent cannot inflate the figure."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- orchestration ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def _synthetic_tokens(path: Path, count: int) -> None:
    """Plausible, unique tokens shaped like the local server's (`MAMzLg…`, 130 characters)."""
    seed = os.urandom(16)
    with open(path, "wb", buffering=1 << 20) as handle:
        for index in range(count):
            tail = base64.urlsafe_b64encode(seed + index.to_bytes(8, "big") * 10).rstrip(b"=")
            handle.write(b"MAMzLgEAAAA" + tail[: 130 - 11] + b"\n")


def _key_file(directory: Path) -> Path:
    from hmpush.auth import generate_service_account, write_service_account

    path = directory / "key.json"
    if not path.exists():
        write_service_account(generate_service_account("100000000000001", bits=2048), path)
    return path


def _campaign_process(key: Path, endpoint: str, tokens: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--campaign", str(key), endpoint, str(tokens), str(out)]
    finished = subprocess.run(command, capture_output=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"campaign failed: {finished.stderr.decode()[-2000:]}")
    figures: dict[str, Any] = orjson.loads(finished.stdout.splitlines()[-1])
    return figures


def bench_sink(work: Path, size: int) -> dict[str, Any]:
    """A campaign of `size` tokens to the bare sink."""
    port = _free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    try:
        _wait_for_port(port)
        tokens = work / f"tokens-{size}.txt"
        if not tokens.exists():
            _synthetic_tokens(tokens, size)
        out = work / f"out-sink-{size}"
        shutil.rmtree(out, ignore_errors=True)
        figures = _campaign_process(_key_file(work), f"http://127.0.0.1:{port}", tokens, out)
        shutil.rmtree(out, ignore_errors=True)
        return figures
    finally:
        sink.kill()
        sink.wait()


def bench_server(work: Path, size: int) -> dict[str, Any]:
    """A campaign of `size` tokens to the local Push server, every token a registered device."""
    from hmpush.testing import EmulatorServer, server_handle

    data_dir = work / "emulator-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    with EmulatorServer(data_dir) as server:
        handle, close = server_handle(server.base_url)
        try:
            tokens: list[str] = []
            while len(tokens) < size:
                count = min(DEVICES_PER_CALL, size - len(tokens))
                answer = handle.admin("POST", f"/apps/{handle.app_id}/devices", {"count": count})
                tokens.extend(answer["tokens"])
            tokens_file = work / "tokens-server.txt"
            tokens_file.write_text("\n".join(tokens) + "\n")
            del tokens
            from hmpush.auth import write_service_account

            key = work / "server-key.json"
            key.unlink(missing_ok=True)
            write_service_account(handle.service_account, key)
            out = work / "out-server"
            shutil.rmtree(out, ignore_errors=True)
            return _campaign_process(key, server.base_url, tokens_file, out)
        finally:
            close()


def _report(name: str, size: int, figures: dict[str, Any]) -> None:
    per_million = figures["cpuSeconds"] / size * 1_000_000
    print(
        f"{name:10s} {size:>10,} tokens  accepted {figures['accepted']:>10,}  "
        f"end-to-end {size / figures['seconds']:>9,.0f} tokens/s  "
        f"sending {size / max(figures['sendingSeconds'], 1e-9):>9,.0f} tokens/s  "
        f"(plan {figures['planningSeconds']:.1f} s, send {figures['sendingSeconds']:.1f} s)  "
        f"CPU {per_million:.2f} s/M tokens  peak RSS {figures['peakRssMiB']:.1f} MiB",
        flush=True,
    )


def main() -> None:
    """Run the chosen scenarios and print one line of figures per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--work-dir", default=None, help="Where token files and results go.")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--campaign", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink(args.sink)
        return
    if args.campaign:
        run_campaign(*args.campaign)
        return
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="hmpush-campaign-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rss: dict[str, float] = {}
    try:
        for name in args.scenarios.split(","):
            size = SIZES[name]
            figures = bench_server(work, size) if name == "server-1m" else bench_sink(work, size)
            _report(name, size, figures)
            rss[name] = figures["peakRssMiB"]
        if "sink-100k" in rss and "sink-10m" in rss:
            growth = (rss["sink-10m"] / rss["sink-100k"] - 1) * 100
            print(f"peak RSS 10M vs 100k: {growth:+.1f} %")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
