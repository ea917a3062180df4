"""Cost of the device side of an accepted 1000-token request, and whether it grows with inboxes.

Calls `hmpush.emulator.delivery.deliver` directly on the local server's real store (an SQLite
file in WAL mode, as `hmpush emulator --data DIR` uses), the way the server does inside the
transaction that records a request, and moves the inbox log into device order every 50 requests
as the background does. Prints the median per request at the start and at the end of the run.

    .venv/bin/python benchmarks/emulator_devices.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmpush.emulator import delivery, registry
from hmpush.emulator.delivery_engine import index_inbox
from hmpush.emulator.store import Store
from hmpush.messages import PushType

TOKENS = 1000
INDEX_EVERY = 50


def _notification(category: str) -> dict[str, Any]:
    return {
        "notification": {
            "category": category,
            "title": "Benchmark",
            "body": "One message to a thousand devices",
            "clickAction": {"actionType": 0},
        }
    }


def _setup(store: Store, *, receipts: bool = False, offline: bool = False) -> tuple[str, list[Any]]:
    with store.transaction() as conn:
        project_id = registry.new_project_id()
        registry.insert_project(conn, project_id)
        app = registry.insert_app(conn, project_id, bundle_name="com.example.bench")
        devices = registry.insert_devices(conn, app.app_id, TOKENS)
        if receipts:
            conn.execute(
                "INSERT INTO receipt_configs (receipt_id, project_id, url, secret_format)"
                " VALUES (?, ?, 'http://127.0.0.1:9/', 'base64')",
                (f"bench-{project_id}", project_id),
            )
        if offline:
            conn.executemany(
                "INSERT INTO device_state VALUES (?, 1, 1, 1, 1, 0, NULL, '[]')",
                [(device.device_id,) for device in devices],
            )
    return project_id, devices


def run(label: str, requests: int, category: str, **setup: bool) -> None:
    """Time `requests` deliveries of one scenario and print start/end medians."""
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory) / "bench.db")
        store.install(delivery.install_schema)
        project_id, devices = _setup(store, **setup)
        targets = [
            delivery.TargetDevice(d.device_id, d.token, d.app_id, "com.example.bench", category)
            for d in devices
        ]
        payload = _notification(category)
        per_request: list[float] = []
        indexing = 0.0
        start_ms = int(time.time() * 1000)
        for number in range(requests):
            message = delivery.AcceptedMessage(
                request_id=f"{label}-{number}",
                project_id=project_id,
                push_type=PushType.NOTIFICATION,
                payload=payload,
                push_options={"ttl": 3600},
                body=b"",
                accepted_at_ms=start_ms + number,
            )
            began = time.perf_counter()
            with store.transaction() as conn:
                delivery.deliver(conn, message, targets)
            per_request.append(time.perf_counter() - began)
            if (number + 1) % INDEX_EVERY == 0:
                indexing += _timed(lambda: _index_all(store))
        with store.transaction() as conn:
            began = time.perf_counter()
            received = len(delivery.inbox(conn, devices[TOKENS // 2].token))
            read_ms = (time.perf_counter() - began) * 1000
        store.close()
    window = max(requests // 10, 1)
    first = statistics.median(per_request[:window]) * 1000
    last = statistics.median(per_request[-window:]) * 1000
    print(
        f"| {label} | {first:.2f} ms | {last:.2f} ms | {indexing / requests * 1000:.2f} ms |"
        f" {requests * TOKENS / 1e6:.1f} M | {read_ms:.1f} ms ({received} entries) |"
    )


def _index_all(store: Store) -> None:
    while True:
        with store.transaction() as conn:
            if index_inbox(conn) == 0:
                return


def _timed(work: Callable[[], None]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def main() -> None:
    """Run every scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    requests = parser.parse_args().requests
    print(
        "| scenario (1000 tokens per request) | deliver, first 10 % | deliver, last 10 % |"
        " background indexing per request | tokens in total | one device's inbox, read at end |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    run("IM notification, no receipt config", requests, "IM")
    run("MARKETING (quota counters; 256 after 2/day)", requests, "MARKETING")
    run("IM with a receipt config (outbox)", requests, "IM", receipts=True)
    run("offline devices (held, ttl 1 h)", max(requests // 10, 10), "IM", offline=True)


if __name__ == "__main__":
    main()
