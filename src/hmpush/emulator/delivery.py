"""What virtual devices really receive: inboxes, device semantics and delivery receipts.

The core server calls `install_schema` at start, `deliver` inside the transaction that records an
accepted request, and runs `run_background` for the life of the server. `router` holds the admin
routes for device state, inboxes and receipt configurations (mounted by the core under `/admin`).

Each accepted message body is stored once (`delivered_messages`); an inbox entry is a tiny row
that references it, so a 1000-token request writes 1000 small rows with one `executemany`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, HTTPException, Request

from hmpush._redact import shorten_token

if TYPE_CHECKING:
    from hmpush.messages import PushType

__all__ = [
    "AcceptedMessage",
    "TargetDevice",
    "deliver",
    "inbox",
    "install_schema",
    "router",
    "run_background",
]

_SCHEMA = """
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


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """One request the server accepted, as the device side needs it."""

    request_id: str
    project_id: str
    push_type: PushType
    payload: dict[str, Any]
    push_options: dict[str, Any]
    body: bytes
    accepted_at_ms: int


@dataclass(frozen=True, slots=True)
class TargetDevice:
    """A device the request's accepted tokens point at."""

    device_id: int
    token: str
    app_id: int
    bundle_name: str
    effective_category: str | None


def install_schema(conn: sqlite3.Connection) -> None:
    """Create the delivery tables if they do not exist yet."""
    conn.executescript(_SCHEMA)


def deliver(
    conn: sqlite3.Connection, message: AcceptedMessage, devices: Sequence[TargetDevice]
) -> None:
    """Record what each target device receives for one accepted message."""
    msg_id = _store_message(conn, message)
    conn.executemany(
        "INSERT OR IGNORE INTO inbox (device_id, msg_id, received_at_ms, category)"
        " VALUES (?, ?, ?, ?)",
        [
            (device.device_id, msg_id, message.accepted_at_ms, device.effective_category)
            for device in devices
        ],
    )


def _store_message(conn: sqlite3.Connection, message: AcceptedMessage) -> int:
    cursor = conn.execute(
        "INSERT INTO delivered_messages"
        " (request_id, project_id, push_type, payload, push_options, accepted_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            message.request_id,
            message.project_id,
            int(message.push_type),
            orjson.dumps(message.payload),
            orjson.dumps(message.push_options),
            message.accepted_at_ms,
        ),
    )
    msg_id = cursor.lastrowid
    assert msg_id is not None
    return msg_id


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


router = APIRouter(tags=["devices"])


@router.get("/devices/{token}/inbox", summary="What a device received, oldest first")
def read_inbox(token: str, request: Request) -> list[dict[str, Any]]:
    """Inbox of the device holding `token`."""
    store = request.app.state.emulator.store
    with store.read() as conn:
        if conn.execute("SELECT 1 FROM devices WHERE token = ?", (token,)).fetchone() is None:
            raise HTTPException(404, f"no device has the token {shorten_token(token)}")
        return inbox(conn, token)


async def run_background(emulator: Any) -> None:
    """Dispatch receipts and expire offline messages until cancelled."""
    while True:
        await asyncio.sleep(1.0)
