"""The delivery pipeline: from an accepted message to inbox rows, held copies and receipts.

For each target device: the standing state may refuse the message at once (2, 5, 10), the
project's test-message quota may be spent (256), an offline device holds it (ttl, collapseKey,
15), and an online device applies its own rules (`device_rules.arrive`). Every final outcome is
queued as a receipt when a receipt configuration applies.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import httpx2
import orjson

from hmpush.codes import ReceiptResult
from hmpush.emulator import device_rules, offline_cache, quotas, receipt_sender
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

__all__ = ["bring_online", "deliver", "inbox", "run_background", "tick"]

logger = logging.getLogger(__name__)

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered_messages (
    msg_id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    push_type INTEGER NOT NULL,
    payload BLOB NOT NULL,
    push_options BLOB NOT NULL,
    accepted_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    device_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    category TEXT,
    PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
"""

_TEST_COUNTER = "test_requests"
BACKGROUND_INTERVAL_SECONDS = 0.2


def deliver(
    conn: sqlite3.Connection, message: AcceptedMessage, devices: Sequence[TargetDevice]
) -> None:
    """Record what each target device receives for one accepted message, and queue receipts."""
    now_ms = message.accepted_at_ms
    facts = store_message(conn, message)
    states = load_states(conn, [device.device_id for device in devices])
    outcomes: list[Outcome] = []
    travelling = _standing_refusals(facts, devices, states, now_ms, outcomes)
    if facts.test_message and travelling and _test_quota_spent(conn, facts, now_ms):
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
            outcomes += offline_cache.hold(conn, facts, offline, now_ms)
    delivered, arrived = device_rules.arrive(conn, facts, online, states, now_ms)
    _record_inbox(conn, facts, delivered, now_ms)
    outcomes += arrived
    receipt_sender.queue_receipts(conn, outcomes, now_ms)


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
    conn.executemany(
        "INSERT OR IGNORE INTO inbox (device_id, msg_id, received_at_ms, category)"
        " VALUES (?, ?, ?, ?)",
        [(d.device_id, facts.msg_id, now_ms, d.effective_category) for d in devices],
    )


def bring_online(conn: sqlite3.Connection, device_id: int, now_ms: int) -> dict[str, int]:
    """Deliver what waited for a device that just came online (oldest first)."""
    pending, outcomes = offline_cache.release(conn, device_id, now_ms)
    state = load_state(conn, device_id)
    states = {} if state is DEFAULT_DEVICE_STATE else {device_id: state}
    delivered = 0
    for facts, device in pending:
        shown, arrived = device_rules.arrive(conn, facts, [device], states, now_ms)
        _record_inbox(conn, facts, shown, now_ms)
        delivered += len(shown)
        outcomes += arrived
    receipt_sender.queue_receipts(conn, outcomes, now_ms)
    dropped = sum(1 for outcome in outcomes if outcome.result != ReceiptResult.DELIVERED)
    return {"delivered": delivered, "not_delivered": dropped}


def inbox(conn: sqlite3.Connection, token: str) -> list[dict[str, Any]]:
    """What the device holding `token` received, oldest first."""
    rows = conn.execute(
        "SELECT m.request_id, m.push_type, m.payload, m.push_options, i.received_at_ms,"
        " i.category"
        " FROM devices d JOIN inbox i ON i.device_id = d.id"
        " JOIN delivered_messages m ON m.msg_id = i.msg_id"
        " WHERE d.token = ? ORDER BY i.received_at_ms, i.msg_id",
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


def clock_ms(emulator: Any) -> int:
    """The emulator's notion of now in ms (its `clock_ms()` if it has one, else wall time)."""
    clock = getattr(emulator, "clock_ms", None)
    return int(clock()) if callable(clock) else receipt_sender.wall_clock_ms()


def expire_offline(conn: sqlite3.Connection, now_ms: int) -> int:
    """Drop held messages whose ttl ran out (receipt 15) and old quota counters."""
    outcomes = offline_cache.expire(conn, now_ms)
    receipt_sender.queue_receipts(conn, outcomes, now_ms)
    quotas.forget_old_counters(conn, now_ms)
    return len(outcomes)


async def tick(emulator: Any, client: httpx2.AsyncClient) -> dict[str, int]:
    """One round of background work: expire offline messages, then post due receipts."""
    now_ms = clock_ms(emulator)
    with emulator.store.transaction() as conn:
        expired = expire_offline(conn, now_ms)
    report = await receipt_sender.dispatch_due(emulator.store, client, now_ms)
    return {"expired": expired, **report.to_json()}


async def run_background(emulator: Any) -> None:
    """Expire offline messages and post receipts until cancelled."""
    with emulator.store.transaction() as conn:
        receipt_sender.release_claims(conn)
    async with httpx2.AsyncClient() as client:
        while True:
            try:
                await tick(emulator, client)
            except Exception:  # one bad round must not stop receipts for the server's lifetime
                logger.exception("delivery background round failed; retrying")
            await asyncio.sleep(BACKGROUND_INTERVAL_SECONDS)
