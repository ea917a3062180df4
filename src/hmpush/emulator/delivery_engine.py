"""The delivery pipeline: from an accepted message to inbox rows, held copies and receipts.

For each target device: the standing state may refuse the message at once (2, 5, 10), the
project's test-message quota may be spent (256), an offline device holds it (ttl, collapseKey,
15), and an online device applies its own rules (`device_rules.arrive`). Every final outcome is
queued as a receipt when a receipt configuration applies.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import httpx2
import orjson

from hmpush.codes import ReceiptResult
from hmpush.emulator import device_clock, device_rules, offline_cache, quotas, receipt_sender
from hmpush.emulator.delivery_model import (
    AcceptedMessage,
    MessageFacts,
    Outcome,
    TargetDevice,
    store_message,
)
from hmpush.emulator.device_state import (
    DEFAULT_DEVICE_STATE,
    DeviceState,
    load_state,
    load_states,
    test_message_daily_quota,
)

__all__ = [
    "CHUNK_ROWS",
    "INBOX_SCHEMA",
    "MOVE_ROWS",
    "bring_online",
    "deliver",
    "expire_offline",
    "inbox",
    "index_inbox",
    "run_background",
    "tick",
]

logger = logging.getLogger(__name__)

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered_messages (
    msg_id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    push_type INTEGER NOT NULL,
    category TEXT,
    payload BLOB NOT NULL,
    push_options BLOB NOT NULL,
    accepted_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox_log (
    msg_id INTEGER NOT NULL,
    device_id INTEGER NOT NULL,
    late_ms INTEGER NOT NULL,
    category TEXT,
    PRIMARY KEY (msg_id, device_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    chunk INTEGER NOT NULL,
    device_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    late_ms INTEGER NOT NULL,
    category TEXT,
    PRIMARY KEY (chunk, device_id, msg_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox_chunks (
    chunk INTEGER PRIMARY KEY,
    row_count INTEGER NOT NULL
);
"""
# Inbox rows are kept tiny because a 1000-token request writes 1000 of them: `late_ms` is how
# long after acceptance the device received the message (0, stored in no bytes, unless it waited
# offline) and `category` is NULL unless the device's app got another category than requested.
#
# Writing each request's rows straight into one device-ordered table touches one B-tree page per
# token and gets slower as inboxes grow (measured: 2 ms per 1000-token request on an empty file
# database, over 60 ms at 600k rows). So a request appends its rows to `inbox_log` in message
# order, at the same cost however large the inboxes are, and the background moves the log into
# `inbox` sorted by device within chunks of at most `CHUNK_ROWS` rows: filling a chunk rewrites
# only that chunk, and reading a device's inbox is one index seek per chunk plus the log.
CHUNK_ROWS = 50_000
# Rows moved per transaction: bounds how long one move holds the writer (senders wait for it).
MOVE_ROWS = 10_000

_TEST_COUNTER = "test_requests"
BACKGROUND_INTERVAL_SECONDS = 0.2
_ROUNDS_BETWEEN_COUNTER_CLEANUPS = 3000  # about ten minutes


def deliver(
    conn: sqlite3.Connection, message: AcceptedMessage, devices: Sequence[TargetDevice]
) -> None:
    """Record what each target device receives for one accepted message, and queue receipts."""
    now_ms = message.accepted_at_ms  # already on the devices' clock (see `device_clock`)
    facts = store_message(conn, message)
    states = load_states(conn, [device.device_id for device in devices])
    with_receipts = receipt_sender.has_configs(conn, facts.project_id)
    outcomes: list[Outcome] = []
    travelling = _standing_refusals(facts, devices, states, now_ms, outcomes)
    if facts.test_message and _test_quota_spent(conn, facts, now_ms):
        # §3.2 / §13: beyond the project's daily test quota every token gets 256.
        outcomes += [
            Outcome(facts, d, ReceiptResult.SCENARIO_FREQUENCY_LIMIT, now_ms) for d in travelling
        ]
        travelling = []
    online = travelling
    if states:
        offline = [
            d for d in travelling if not states.get(d.device_id, DEFAULT_DEVICE_STATE).online
        ]
        if offline:
            online = [d for d in travelling if states.get(d.device_id, DEFAULT_DEVICE_STATE).online]
            outcomes += offline_cache.hold(
                conn, facts, offline, now_ms, with_outcomes=with_receipts
            )
    delivered, arrived = device_rules.arrive(
        conn, facts, online, states, now_ms, delivered_outcomes=with_receipts
    )
    _record_inbox(conn, facts, delivered, now_ms)
    if with_receipts:
        receipt_sender.queue_receipts(conn, outcomes + arrived, now_ms)


def _standing_refusals(
    facts: MessageFacts,
    devices: Sequence[TargetDevice],
    states: dict[int, DeviceState],
    now_ms: int,
    outcomes: list[Outcome],
) -> list[TargetDevice]:
    if not states:
        return list(devices)
    travelling: list[TargetDevice] = []
    for device in devices:
        refusal = device_rules.before_transit(states.get(device.device_id, DEFAULT_DEVICE_STATE))
        if refusal is None:
            travelling.append(device)
        else:
            outcomes.append(Outcome(facts, device, refusal, now_ms))
    return travelling


def _test_quota_spent(conn: sqlite3.Connection, facts: MessageFacts, now_ms: int) -> bool:
    used = quotas.bump_project_count(
        conn, facts.project_id, _TEST_COUNTER, quotas.day_start(now_ms)
    )
    return used > test_message_daily_quota(conn, facts.project_id)


def _record_inbox(
    conn: sqlite3.Connection, facts: MessageFacts, devices: Sequence[TargetDevice], now_ms: int
) -> None:
    if not devices:
        return
    late_ms = now_ms - facts.accepted_at_ms
    requested = facts.category
    as_requested = [d.device_id for d in devices if d.effective_category == requested]
    conn.execute(
        "INSERT OR IGNORE INTO inbox_log (msg_id, device_id, late_ms, category)"
        " SELECT ?, value, ?, NULL FROM json_each(?)",
        (facts.msg_id, late_ms, orjson.dumps(as_requested)),
    )
    if len(as_requested) < len(devices):
        conn.executemany(
            "INSERT OR IGNORE INTO inbox_log (device_id, msg_id, late_ms, category)"
            " VALUES (?, ?, ?, ?)",
            [
                (d.device_id, facts.msg_id, late_ms, d.effective_category)
                for d in devices
                if d.effective_category != requested
            ],
        )


def bring_online(conn: sqlite3.Connection, device_id: int, now_ms: int) -> dict[str, int]:
    """Deliver what waited for a device that just came online (oldest first)."""
    pending, outcomes = offline_cache.release(conn, device_id, now_ms)
    state = load_state(conn, device_id)
    states = {} if state is DEFAULT_DEVICE_STATE else {device_id: state}
    refusal = device_rules.before_transit(state)  # e.g. uninstalled while it was offline
    delivered = 0
    for facts, device in pending:
        if refusal is not None:
            outcomes.append(Outcome(facts, device, refusal, now_ms))
            continue
        shown, arrived = device_rules.arrive(
            conn, facts, [device], states, now_ms, delivered_outcomes=True
        )
        _record_inbox(conn, facts, shown, now_ms)
        delivered += len(shown)
        outcomes += arrived
    receipt_sender.queue_receipts(conn, outcomes, now_ms)
    dropped = sum(1 for outcome in outcomes if outcome.result != ReceiptResult.DELIVERED)
    return {"delivered": delivered, "not_delivered": dropped}


def index_inbox(
    conn: sqlite3.Connection, max_rows: int = MOVE_ROWS, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Move up to `max_rows` logged inbox rows, whole messages at a time (the oldest message
    alone if it is larger), into the newest chunk that has room for `chunk_rows` rows."""
    latest = conn.execute(
        "SELECT chunk, row_count FROM inbox_chunks ORDER BY chunk DESC LIMIT 1"
    ).fetchone()
    if latest is None or latest[1] >= chunk_rows:
        chunk, room = (1 if latest is None else latest[0] + 1), min(max_rows, chunk_rows)
    else:
        chunk, room = latest[0], min(max_rows, chunk_rows - latest[1])
    boundary = conn.execute(
        "SELECT msg_id FROM inbox_log ORDER BY msg_id LIMIT 1 OFFSET ?", (room,)
    ).fetchone()
    params: tuple[int, ...] = ()
    if boundary is None:
        where = ""
    else:
        oldest = conn.execute("SELECT min(msg_id) FROM inbox_log").fetchone()[0]
        where, params = "WHERE msg_id < ?", (max(boundary[0], oldest + 1),)
    moved = int(
        conn.execute(
            "INSERT OR IGNORE INTO inbox (chunk, device_id, msg_id, late_ms, category)"
            f" SELECT ?, device_id, msg_id, late_ms, category FROM inbox_log {where}"
            " ORDER BY device_id, msg_id",
            (chunk, *params),
        ).rowcount
    )
    if moved:
        conn.execute(
            "INSERT INTO inbox_chunks (chunk, row_count) VALUES (?, ?)"
            " ON CONFLICT (chunk) DO UPDATE SET row_count = row_count + excluded.row_count",
            (chunk, moved),
        )
    conn.execute(f"DELETE FROM inbox_log {where}", params)
    return moved


def inbox(conn: sqlite3.Connection, token: str) -> list[dict[str, Any]]:
    """What the device holding `token` received, oldest first (works on read-only connections)."""
    rows = conn.execute(
        "WITH device AS (SELECT id FROM devices WHERE token = ?),"
        " received AS ("
        "  SELECT i.msg_id, i.late_ms, i.category FROM inbox_chunks c"  # CROSS JOIN: one seek
        "  CROSS JOIN inbox i ON i.chunk = c.chunk AND i.device_id = (SELECT id FROM device)"
        "  UNION ALL"
        "  SELECT msg_id, late_ms, category FROM inbox_log"
        "  WHERE device_id = (SELECT id FROM device))"
        " SELECT m.request_id, m.push_type, m.payload, m.push_options,"
        " m.accepted_at_ms + r.late_ms AS received_at_ms, coalesce(r.category, m.category)"
        " FROM received r JOIN delivered_messages m ON m.msg_id = r.msg_id"
        " ORDER BY received_at_ms, r.msg_id",
        (token,),
    ).fetchall()
    return [_inbox_entry(row) for row in rows]


def _inbox_entry(row: Sequence[Any]) -> dict[str, Any]:
    request_id, push_type, payload, push_options, received_at_ms, category = row
    options = orjson.loads(push_options)
    return {
        "requestId": request_id,
        "pushType": push_type,
        "biTag": options.get("biTag"),
        "category": category,
        "receivedAtMs": received_at_ms,
        "payload": orjson.loads(payload),
        "pushOptions": options,
    }


# --- the background side ------------------------------------------------------------------


def expire_offline(conn: sqlite3.Connection, now_ms: int) -> int:
    """Drop held messages whose ttl ran out (receipt 15)."""
    outcomes = offline_cache.expire(conn, now_ms)
    receipt_sender.queue_receipts(conn, outcomes, now_ms)
    return len(outcomes)


_INDEX_MOVES_PER_ROUND = 8


async def tick(emulator: Any, client: httpx2.AsyncClient) -> dict[str, int]:
    """One round of background work: index inboxes, expire offline messages, post receipts."""
    indexed = 0
    for _ in range(_INDEX_MOVES_PER_ROUND):  # short moves, so senders wait little
        with emulator.store.transaction() as conn:
            moved = index_inbox(conn)
        indexed += moved
        if moved == 0:
            break
        await asyncio.sleep(0)
    with emulator.store.transaction() as conn:
        now_ms = device_clock.device_now_ms(conn, emulator)
        expired = expire_offline(conn, now_ms)
    report = await receipt_sender.dispatch_due(emulator.store, client, now_ms)
    return {"indexed": indexed, "expired": expired, **report.to_json()}


async def run_background(emulator: Any) -> None:
    """Expire offline messages and post receipts until cancelled."""
    with emulator.store.transaction() as conn:
        receipt_sender.release_claims(conn)
    async with httpx2.AsyncClient() as client:
        for round_number in itertools.count():
            try:
                if round_number % _ROUNDS_BETWEEN_COUNTER_CLEANUPS == 0:
                    with emulator.store.transaction() as conn:
                        quotas.forget_old_counters(conn, device_clock.device_now_ms(conn, emulator))
                await tick(emulator, client)
            except Exception:  # one bad round must not stop receipts for the server's lifetime
                logger.exception("delivery background round failed; retrying")
            await asyncio.sleep(BACKGROUND_INTERVAL_SECONDS)
