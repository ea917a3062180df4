"""What virtual devices really receive: inboxes, device semantics and delivery receipts.

The core server calls `install_schema` at start, `deliver` inside the transaction that records an
accepted request, and runs `run_background` for the life of the server. `router` holds the admin
routes for device state, inboxes, quotas and receipt configurations (mounted under `/admin`).

The work is split by concern:

- `delivery_model`: the message, target-device and outcome records;
- `delivery_engine`: the pipeline (standing state → test quota → offline cache → device rules),
  inbox rows and the background round;
- `device_state`: device flags and app/project quota settings;
- `device_rules`: what a device does on arrival (profiles, notification switch, quotas, widgets,
  live views), one small function per rule with its spec section;
- `quotas`: every limit in one table, and the counters;
- `offline_cache`: ttl, collapseKey and the 120-message cache;
- `receipt_sender`: receipt configurations, the outbox and signed, retried dispatch;
- `device_clock`: the devices' clock, which tests can move forward;
- `delivery_admin`: the admin routes.
"""

from __future__ import annotations

import sqlite3

from hmpush.emulator.delivery_admin import router
from hmpush.emulator.delivery_engine import (
    INBOX_SCHEMA,
    bring_online,
    deliver,
    inbox,
    run_background,
    tick,
)
from hmpush.emulator.delivery_model import AcceptedMessage, TargetDevice
from hmpush.emulator.device_clock import CLOCK_SCHEMA
from hmpush.emulator.device_rules import RULES_SCHEMA
from hmpush.emulator.device_state import STATE_SCHEMA
from hmpush.emulator.offline_cache import OFFLINE_SCHEMA
from hmpush.emulator.quotas import COUNTER_SCHEMA
from hmpush.emulator.receipt_sender import RECEIPT_SCHEMA

__all__ = [
    "AcceptedMessage",
    "TargetDevice",
    "bring_online",
    "deliver",
    "inbox",
    "install_schema",
    "router",
    "run_background",
    "tick",
]

_SCHEMAS = (
    INBOX_SCHEMA,
    STATE_SCHEMA,
    RULES_SCHEMA,
    COUNTER_SCHEMA,
    OFFLINE_SCHEMA,
    RECEIPT_SCHEMA,
    CLOCK_SCHEMA,
)


def install_schema(conn: sqlite3.Connection) -> None:
    """Create the delivery tables if they do not exist yet."""
    for schema in _SCHEMAS:
        conn.executescript(schema)
