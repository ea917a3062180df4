"""Messages waiting for offline devices (spec §3.2 ttl and collapseKey, §14, result 15).

A held message waits until the device comes online or its ttl runs out. Only the newest message
of a collapse group is kept; a device holds at most 120 messages and drops the oldest beyond.
Choice: a message that leaves the cache undelivered (collapsed, overflowed or expired) gets
receipt 15, so a sender learns about every token eventually.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from hmpush.codes import ReceiptResult
from hmpush.emulator.delivery_model import MessageFacts, Outcome, TargetDevice, load_facts
from hmpush.emulator.quotas import OFFLINE_CACHE_MAX_MESSAGES

__all__ = ["OFFLINE_SCHEMA", "expire", "hold", "release"]

OFFLINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS offline_queue (
    device_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    token TEXT NOT NULL,
    app_id INTEGER NOT NULL,
    bundle_name TEXT NOT NULL,
    category TEXT,
    collapse_key INTEGER,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS offline_queue_expiry ON offline_queue (expires_at_ms);
"""

_ROW = "device_id, msg_id, token, app_id, bundle_name, category"
# One held copy: device_id, msg_id, token, app_id, bundle_name, category.
_Row = tuple[int, int, str, int, str, str | None]
_DROPPED = ReceiptResult.OFFLINE_MESSAGE_CONTROL


def hold(
    conn: sqlite3.Connection, facts: MessageFacts, devices: Sequence[TargetDevice], now_ms: int
) -> list[Outcome]:
    """Keep `facts` for offline devices; returns the outcomes of the messages it displaced."""
    if not devices:
        return []
    device_ids = orjson.dumps([device.device_id for device in devices])
    displaced: list[_Row] = []
    if facts.collapse_key is not None:
        displaced += conn.execute(
            f"DELETE FROM offline_queue WHERE collapse_key = ?"
            f" AND device_id IN (SELECT value FROM json_each(?)) RETURNING {_ROW}",
            (facts.collapse_key, device_ids),
        ).fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO offline_queue (device_id, msg_id, token, app_id, bundle_name,"
        " category, collapse_key, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                device.device_id,
                facts.msg_id,
                device.token,
                device.app_id,
                device.bundle_name,
                device.effective_category,
                facts.collapse_key,
                facts.expires_at_ms,
            )
            for device in devices
        ],
    )
    displaced += _overflow(conn, device_ids)
    return _outcomes(conn, displaced, _DROPPED, now_ms)


def _overflow(conn: sqlite3.Connection, device_ids: bytes) -> list[_Row]:
    full = conn.execute(
        "SELECT device_id, count(*) FROM offline_queue"
        " WHERE device_id IN (SELECT value FROM json_each(?))"
        " GROUP BY device_id HAVING count(*) > ?",
        (device_ids, OFFLINE_CACHE_MAX_MESSAGES),
    ).fetchall()
    dropped: list[_Row] = []
    for device_id, count in full:
        dropped += conn.execute(
            f"DELETE FROM offline_queue WHERE device_id = ? AND msg_id IN"
            f" (SELECT msg_id FROM offline_queue WHERE device_id = ? ORDER BY msg_id LIMIT ?)"
            f" RETURNING {_ROW}",
            (device_id, device_id, count - OFFLINE_CACHE_MAX_MESSAGES),
        ).fetchall()
    return dropped


def release(
    conn: sqlite3.Connection, device_id: int, now_ms: int
) -> tuple[list[tuple[MessageFacts, TargetDevice]], list[Outcome]]:
    """Empty a device's cache: messages still within ttl (oldest first) and expired outcomes."""
    rows = conn.execute(
        f"DELETE FROM offline_queue WHERE device_id = ? RETURNING {_ROW}, expires_at_ms",
        (device_id,),
    ).fetchall()
    rows.sort(key=lambda row: row[1])
    live: list[_Row] = [row[:6] for row in rows if row[6] > now_ms]
    expired: list[_Row] = [row[:6] for row in rows if row[6] <= now_ms]
    facts = load_facts(conn, (row[1] for row in live))
    pending = [(facts[row[1]], _device(row)) for row in live]
    return pending, _outcomes(conn, expired, _DROPPED, now_ms)


def expire(conn: sqlite3.Connection, now_ms: int) -> list[Outcome]:
    """Drop every held message whose ttl has run out."""
    rows = conn.execute(
        f"DELETE FROM offline_queue WHERE expires_at_ms <= ? RETURNING {_ROW}", (now_ms,)
    ).fetchall()
    return _outcomes(conn, rows, _DROPPED, now_ms)


def held(conn: sqlite3.Connection, device_id: int) -> list[dict[str, object]]:
    """What waits for a device, oldest first (admin view)."""
    rows = conn.execute(
        "SELECT q.msg_id, m.request_id, m.push_type, q.collapse_key, q.expires_at_ms"
        " FROM offline_queue q JOIN delivered_messages m ON m.msg_id = q.msg_id"
        " WHERE q.device_id = ? ORDER BY q.msg_id",
        (device_id,),
    )
    return [
        {
            "request_id": row[1],
            "push_type": row[2],
            "collapse_key": row[3],
            "expires_at_ms": row[4],
        }
        for row in rows
    ]


def _device(row: _Row) -> TargetDevice:
    device_id, _, token, app_id, bundle_name, category = row
    return TargetDevice(device_id, token, app_id, bundle_name, category)


def _outcomes(
    conn: sqlite3.Connection, rows: Sequence[_Row], result: ReceiptResult, now_ms: int
) -> list[Outcome]:
    if not rows:
        return []
    facts = load_facts(conn, (row[1] for row in rows))
    return [Outcome(facts[row[1]], _device(row), result, now_ms) for row in rows]
