"""Inbox rows written by `deliver` against a real SQLite connection."""

from __future__ import annotations

import sqlite3

from hmpush.emulator.delivery import AcceptedMessage, TargetDevice, deliver, inbox, install_schema


def _connection() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE devices (id INTEGER PRIMARY KEY, token TEXT UNIQUE)")
    install_schema(conn)
    return conn


def test_every_target_device_gets_one_inbox_entry() -> None:
    conn = _connection()
    conn.executemany("INSERT INTO devices (id, token) VALUES (?, ?)", [(1, "tokA"), (2, "tokB")])
    message = AcceptedMessage(
        request_id="r1",
        project_id="p1",
        push_type=0,  # type: ignore[arg-type]
        payload={"notification": {"title": "t"}},
        push_options={"biTag": "tag"},
        body=b"{}",
        accepted_at_ms=1000,
    )
    targets = [TargetDevice(i, t, 1, "com.example", "IM") for i, t in ((1, "tokA"), (2, "tokB"))]
    deliver(conn, message, targets)
    entries = inbox(conn, "tokA")
    assert [(e["requestId"], e["biTag"], e["category"]) for e in entries] == [("r1", "tag", "IM")]
    assert inbox(conn, "unknown") == []


def test_a_device_whose_app_lacks_the_category_shows_marketing() -> None:
    conn = _connection()
    conn.executemany("INSERT INTO devices (id, token) VALUES (?, ?)", [(1, "tokA"), (2, "tokB")])
    targets = [
        TargetDevice(1, "tokA", 1, "com.example", "IM"),
        TargetDevice(2, "tokB", 2, "com.example.other", "MARKETING"),  # downgraded by the core
    ]
    for number in range(3):
        message = AcceptedMessage(
            request_id=f"r{number}",
            project_id="p1",
            push_type=0,  # type: ignore[arg-type]
            payload={"notification": {"category": "IM", "title": "t"}},
            push_options={},
            body=b"{}",
            accepted_at_ms=1000 + number,
        )
        deliver(conn, message, targets)
    assert [entry["category"] for entry in inbox(conn, "tokA")] == ["IM"] * 3
    # The downgraded device shows MARKETING and meets its quota of 2 per day.
    assert [entry["category"] for entry in inbox(conn, "tokB")] == ["MARKETING"] * 2
