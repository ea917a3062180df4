"""Receipt receiver throughput: signed 100-status batches per second over real HTTP.

Starts `hmpush receipts serve` (Granian, one worker, a SQLite file in a temporary directory, a
callback user name and secret) on 127.0.0.1 and posts freshly signed batches of 100 statuses
from `--concurrency` async senders over keep-alive connections, as Huawei's receipt dispatcher
would. Each accepted batch is verified (HMAC, window, nonce recorded in SQLite) and stored in one
transaction. Also times the two in-process steps on their own: `verify_callback` with the
in-memory nonce cache, and `ReceiptStore.save_batch` of 100 statuses with a nonce on a file.

Run: `.venv/bin/python benchmarks/receipts.py [--batches 2000] [--concurrency 8]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from hmpush.receipts import (
    CALLBACK_HEADER,
    DeliveryStatus,
    MemoryNonceCache,
    ReceiptBatch,
    ReceiptStatus,
    ReceiptStore,
    parse_callback_header,
    sign_callback,
    verify_callback,
)

USER = "bench-user"
SECRET = "YmVuY2htYXJrLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"


def _batch(number: int) -> ReceiptBatch:
    now_ms = int(time.time() * 1000)
    return ReceiptBatch(
        statuses=[
            ReceiptStatus(
                token=f"MAMzLg{number:08d}{index:03d}" + "x" * 100,
                push_type=0,
                app_package_name="com.example.bench",
                bi_tag="bench",
                request_id=f"req-{number}",
                delivery_status=DeliveryStatus(result=0 if index % 10 else 2, timestamp=now_ms),
            )
            for index in range(100)
        ]
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-c", "from hmpush.cli import main; main()", "receipts", "serve",
        "--port", str(port), "--db", str(db), "--user-name", USER,
        "--secret-env", "BENCH_RECEIPT_SECRET",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_RECEIPT_SECRET": SECRET}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the receipts server did not start")


async def _post_all(url: str, bodies: list[bytes], concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def sender(client: httpx2.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            header = sign_callback(USER, SECRET, secret_format="base64")
            response = await client.post(url, content=body, headers={CALLBACK_HEADER: header})
            if response.status_code != 200:
                raise SystemExit(f"receiver answered {response.status_code}: {response.text}")

    async with httpx2.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - started


def _time_verify(rounds: int) -> float:
    cache = MemoryNonceCache()
    headers = [sign_callback(USER, SECRET, secret_format="base64") for _ in range(rounds)]
    started = time.perf_counter()
    for header in headers:
        verify_callback(
            header, user_name=USER, secret=SECRET, secret_format="base64", nonce_cache=cache
        )
    return (time.perf_counter() - started) / rounds


def _time_store(directory: Path, rounds: int) -> float:
    batches = [_batch(number) for number in range(rounds)]
    headers = [
        parse_callback_header(sign_callback(USER, SECRET, secret_format="base64"))
        for _ in range(rounds)
    ]
    with ReceiptStore(directory / "store-only.db") as store:
        started = time.perf_counter()
        for batch, header in zip(batches, headers, strict=True):
            store.save_batch(batch, nonce=header)
        return (time.perf_counter() - started) / rounds


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()

    print(f"verify_callback: {_time_verify(20_000) * 1e6:.1f} µs per header")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        print(f"save_batch (100 statuses + nonce, WAL file): {_time_store(path, 500) * 1e3:.2f} ms")
        bodies = [_batch(number).to_json() for number in range(options.batches)]
        port = _free_port()
        server = _start_server(path / "receipts.db", port)
        try:
            elapsed = asyncio.run(
                _post_all(f"http://127.0.0.1:{port}/", bodies, options.concurrency)
            )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)
        with ReceiptStore(path / "receipts.db") as store:
            stored = store.count()
    rate = options.batches / elapsed
    print(
        f"receiver over HTTP: {options.batches} signed batches x 100 statuses, "
        f"concurrency {options.concurrency}: {rate:.0f} batches/s = {rate * 100:.0f} receipts/s "
        f"({elapsed:.2f} s); stored {stored}"
    )
    if stored != options.batches * 100:
        raise SystemExit("the store does not hold every posted receipt")


if __name__ == "__main__":
    main()
