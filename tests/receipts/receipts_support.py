"""Shared by the receipts tests: building batches and running `hmpush receipts serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hmpush.receipts import DeliveryStatus, FormStatus, ReceiptBatch, ReceiptStatus

HMPUSH = [sys.executable, "-c", "from hmpush.cli import main; main()"]


def status(
    token: str,
    result: int = 0,
    *,
    timestamp: int = 1_764_400_000_000,
    request_id: str = "req-1",
    bi_tag: str = "",
    form_id: int | None = None,
) -> ReceiptStatus:
    """One receipt status (a widget one when `form_id` is given)."""
    if form_id is not None:
        return ReceiptStatus(
            token=token,
            push_type=1,
            app_package_name="com.example.app",
            bi_tag=bi_tag,
            request_id=request_id,
            form_status=FormStatus(form_id=form_id, result=result, timestamp=timestamp),
        )
    return ReceiptStatus(
        token=token,
        push_type=0,
        app_package_name="com.example.app",
        bi_tag=bi_tag,
        request_id=request_id,
        delivery_status=DeliveryStatus(result=result, timestamp=timestamp),
    )


def batch(*statuses: ReceiptStatus) -> ReceiptBatch:
    """A batch of the given statuses."""
    return ReceiptBatch(statuses=list(statuses))


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningReceiver:
    """A `hmpush receipts serve` process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str
    db: Path
    log: Path


@contextmanager
def receipts_server(
    db: Path, arguments: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Iterator[RunningReceiver]:
    """Run `hmpush receipts serve` on a free loopback port until the block ends."""
    port = free_port()
    command = [*HMPUSH, "receipts", "serve", "--port", str(port), "--db", str(db), *arguments]
    log = db.with_suffix(".log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_listening(process, port, log)
        yield RunningReceiver(process, f"http://127.0.0.1:{port}/", db, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"receipts server exited with {process.returncode}: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("receipts server did not start listening within 30 s")
