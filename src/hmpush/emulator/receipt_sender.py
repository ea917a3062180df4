"""The local server's side of delivery receipts (spec §11): configurations, outbox, dispatch.

Receipt configurations belong to a project or to one of its apps; a message uses the config
its `pushOptions.receiptId` names, else its app's, else its project's (§11.1: app level wins).
Every final outcome of a message on a device becomes one V2 status, queued in outbox rows of at
most 100 statuses for one configuration (a 1000-token request writes 10 rows, not 1000);
`dispatch_due` posts them, packing small rows together up to 100 statuses per callback, signed
with `X-HUAWEI-CALLBACK-ID` when the configuration has a user name and secret; it retries with
exponential back-off while the receiver is down, and after `max_attempts` marks the rows
`failed` (kept, with the last error, for the admin API).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx2
import orjson
import pydantic

from hmpush.emulator.delivery_model import MessageFacts, Outcome
from hmpush.messages import PushType
from hmpush.receipts import (
    CALLBACK_HEADER,
    MAX_STATUSES_PER_BATCH,
    ReceiptBatch,
    ReceiptStatus,
    sign_callback,
)

__all__ = [
    "OUTBOX_STATES",
    "RECEIPT_SCHEMA",
    "DispatchReport",
    "DispatchSettings",
    "ReceiptConfig",
    "choose_config",
    "delete_config",
    "dispatch_due",
    "dispatch_settings",
    "has_configs",
    "message_fields",
    "new_receipt_id",
    "outbox",
    "project_configs",
    "queue_receipts",
    "release_claims",
    "save_config",
    "save_dispatch_settings",
    "status_json",
    "wall_clock_ms",
]

logger = logging.getLogger(__name__)

RECEIPT_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipt_configs (
    seq INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    app_id INTEGER,
    url TEXT NOT NULL,
    user_name TEXT,
    secret TEXT,
    secret_format TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipt_configs_project ON receipt_configs (project_id);
CREATE TABLE IF NOT EXISTS receipt_outbox (
    id INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL,
    statuses BLOB NOT NULL,
    status_count INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS receipt_outbox_due ON receipt_outbox (state, next_attempt_ms);
CREATE TABLE IF NOT EXISTS receipt_dispatch_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    max_attempts INTEGER NOT NULL,
    base_delay_ms INTEGER NOT NULL,
    max_delay_ms INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL
);
"""

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
MAX_FORM_ID = 2**31 - 1  # §11.2 formStatus.formId
OUTBOX_STATES = (PENDING, SENDING, SENT, FAILED)
SecretFormat = Literal["base64", "utf8"]


@dataclass(frozen=True, slots=True)
class ReceiptConfig:
    """Where and how receipts of a project (or of one app, `app_id`) are posted."""

    receipt_id: str
    project_id: str
    app_id: int | None
    url: str
    user_name: str | None = None
    secret: str | None = None
    secret_format: SecretFormat = "base64"

    def to_json(self) -> dict[str, Any]:
        """The admin API's view: everything but the secret itself."""
        data = asdict(self)
        data["secret"] = None
        data["has_secret"] = self.secret is not None
        return data

    def callback_header(self) -> str | None:
        """A freshly signed `X-HUAWEI-CALLBACK-ID` value, or None without user name and secret."""
        if not self.user_name or self.secret is None:
            return None
        return sign_callback(self.user_name, self.secret, secret_format=self.secret_format)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """How hard the server tries to post receipts to a receiver that is down."""

    max_attempts: int = 6
    base_delay_ms: int = 1_000
    max_delay_ms: int = 60_000
    timeout_ms: int = 5_000

    def delay_ms(self, attempts: int) -> int:
        """Back-off before the next attempt after `attempts` failed ones (doubling, capped)."""
        return int(min(self.max_delay_ms, self.base_delay_ms * 2 ** max(attempts - 1, 0)))

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of these settings."""
        return asdict(self)


# --- configurations -----------------------------------------------------------------------

_CONFIG_COLUMNS = "receipt_id, project_id, app_id, url, user_name, secret, secret_format"


def new_receipt_id() -> str:
    """A receipt id in the style of AGC's (letters and digits)."""
    return "RCP" + secrets.token_hex(8).upper()


def save_config(conn: sqlite3.Connection, config: ReceiptConfig) -> None:
    """Create or replace a receipt configuration."""
    conn.execute(
        f"INSERT INTO receipt_configs ({_CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (receipt_id) DO UPDATE SET project_id = excluded.project_id,"
        " app_id = excluded.app_id, url = excluded.url, user_name = excluded.user_name,"
        " secret = excluded.secret, secret_format = excluded.secret_format",
        (
            config.receipt_id,
            config.project_id,
            config.app_id,
            config.url,
            config.user_name,
            config.secret,
            config.secret_format,
        ),
    )


def delete_config(conn: sqlite3.Connection, receipt_id: str) -> bool:
    """Delete a configuration; False if there was none."""
    return (
        conn.execute("DELETE FROM receipt_configs WHERE receipt_id = ?", (receipt_id,)).rowcount > 0
    )


def has_configs(conn: sqlite3.Connection, project_id: str) -> bool:
    """Whether any receipt configuration could apply to a message of this project."""
    row = conn.execute(
        "SELECT 1 FROM receipt_configs WHERE project_id = ? LIMIT 1", (project_id,)
    ).fetchone()
    return row is not None


def project_configs(conn: sqlite3.Connection, project_ids: Iterable[str]) -> list[ReceiptConfig]:
    """Configurations of the projects, oldest first."""
    rows = conn.execute(
        f"SELECT {_CONFIG_COLUMNS} FROM receipt_configs"
        " WHERE project_id IN (SELECT value FROM json_each(?)) ORDER BY seq",
        (orjson.dumps(sorted(set(project_ids))),),
    )
    return [ReceiptConfig(*row) for row in rows]


def _configs_by_id(
    conn: sqlite3.Connection, receipt_ids: Iterable[str]
) -> dict[str, ReceiptConfig]:
    rows = conn.execute(
        f"SELECT {_CONFIG_COLUMNS} FROM receipt_configs"
        " WHERE receipt_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(sorted(set(receipt_ids))),),
    )
    return {row[0]: ReceiptConfig(*row) for row in rows}


def choose_config(
    configs: Sequence[ReceiptConfig], project_id: str, app_id: int, requested: str | None
) -> ReceiptConfig | None:
    """§11.1: the config `receiptId` names, else the app's, else the project's.

    Choice: a `receiptId` that names no usable config of this project (or another app's config)
    falls back to the defaults instead of losing the receipts.
    """
    mine = [c for c in configs if c.project_id == project_id and c.app_id in (None, app_id)]
    if requested is not None:
        for config in mine:
            if config.receipt_id == requested:
                return config
    for config in mine:
        if config.app_id == app_id:
            return config
    return mine[0] if mine else None


# --- outbox -------------------------------------------------------------------------------


def status_json(outcome: Outcome, common: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One V2 status for an outcome (§11.2): widget refreshes carry formStatus, others
    deliveryStatus. `common` is `message_fields(outcome.facts)`, computed once per message."""
    facts = outcome.facts
    status: dict[str, Any] = {
        "token": outcome.device.token,
        "appPackageName": outcome.device.bundle_name,
        **(common if common is not None else message_fields(facts)),
    }
    if facts.push_type == PushType.FORM_UPDATE:
        status["formStatus"] = {
            "formId": facts.form_id or 0,
            "result": outcome.result,
            "timestamp": outcome.at_ms,
        }
    else:
        status["deliveryStatus"] = {"result": outcome.result, "timestamp": outcome.at_ms}
    return status


def message_fields(facts: MessageFacts) -> dict[str, Any]:
    """The status fields every token of one message shares."""
    return {"pushType": facts.push_type, "biTag": facts.bi_tag, "requestId": facts.request_id}


def queue_receipts(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now_ms: int) -> int:
    """Queue a receipt for each outcome whose message has a receipt configuration."""
    if not outcomes:
        return 0
    configs = project_configs(conn, {outcome.facts.project_id for outcome in outcomes})
    if not configs:
        return 0
    chosen: dict[tuple[int, int], ReceiptConfig | None] = {}
    shared: dict[int, dict[str, Any]] = {}
    by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        facts = outcome.facts
        key = (facts.msg_id, outcome.device.app_id)
        if key not in chosen:
            chosen[key] = choose_config(
                configs, facts.project_id, outcome.device.app_id, facts.receipt_id
            )
            shared.setdefault(facts.msg_id, message_fields(facts))
        config = chosen[key]
        if config is None:
            continue
        if (
            outcome.facts.push_type == PushType.FORM_UPDATE
            and (outcome.facts.form_id or 0) > MAX_FORM_ID
        ):
            # The V2 format caps formId at 2^31-1 (device ids never exceed it), so a refresh
            # for a larger id (result 151) has no receipt that a receiver could accept.
            logger.warning("no receipt for widget refresh of formId %s", outcome.facts.form_id)
            continue
        by_config[config.receipt_id].append(status_json(outcome, shared[facts.msg_id]))
    rows = [
        (receipt_id, orjson.dumps(chunk), len(chunk), now_ms)
        for receipt_id, statuses in by_config.items()
        for chunk in _chunks(statuses, MAX_STATUSES_PER_BATCH)
    ]
    conn.executemany(
        "INSERT INTO receipt_outbox"
        " (receipt_id, statuses, status_count, state, attempts, next_attempt_ms)"
        f" VALUES (?, ?, ?, '{PENDING}', 0, ?)",
        rows,
    )
    return sum(row[2] for row in rows)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def outbox(
    conn: sqlite3.Connection, state: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Queued, sent or failed receipt rows (up to 100 statuses each), oldest first."""
    where, params = ("WHERE state = ?", [state]) if state else ("", [])
    rows = conn.execute(
        f"SELECT id, receipt_id, statuses, state, attempts, next_attempt_ms, last_error"
        f" FROM receipt_outbox {where} ORDER BY id LIMIT ?",
        (*params, limit),
    )
    return [
        {
            "id": row[0],
            "receipt_id": row[1],
            "statuses": orjson.loads(row[2]),
            "state": row[3],
            "attempts": row[4],
            "next_attempt_ms": row[5],
            "last_error": row[6],
        }
        for row in rows
    ]


def dispatch_settings(conn: sqlite3.Connection) -> DispatchSettings:
    """The stored dispatch settings (defaults when never set)."""
    row = conn.execute(
        "SELECT max_attempts, base_delay_ms, max_delay_ms, timeout_ms"
        " FROM receipt_dispatch_settings WHERE id = 1"
    ).fetchone()
    return DispatchSettings() if row is None else DispatchSettings(*row)


def save_dispatch_settings(conn: sqlite3.Connection, settings: DispatchSettings) -> None:
    """Store the dispatch settings."""
    conn.execute(
        "INSERT OR REPLACE INTO receipt_dispatch_settings"
        " (id, max_attempts, base_delay_ms, max_delay_ms, timeout_ms) VALUES (1, ?, ?, ?, ?)",
        (settings.max_attempts, settings.base_delay_ms, settings.max_delay_ms, settings.timeout_ms),
    )


def release_claims(conn: sqlite3.Connection, ids: Sequence[int] | None = None) -> None:
    """Return claimed receipts (`ids`, or all after a restart) to the queue."""
    if ids is None:
        conn.execute(f"UPDATE receipt_outbox SET state = '{PENDING}' WHERE state = '{SENDING}'")
        return
    conn.execute(
        f"UPDATE receipt_outbox SET state = '{PENDING}' WHERE state = '{SENDING}'"
        " AND id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(ids)),),
    )


# --- dispatch -----------------------------------------------------------------------------


@dataclass(slots=True)
class DispatchReport:
    """What one dispatch round did."""

    sent: int = 0  # statuses, not callbacks
    retrying: int = 0
    failed: int = 0

    def to_json(self) -> dict[str, int]:
        """The admin API's view of this report."""
        return asdict(self)


@dataclass(slots=True)
class _Callback:
    """Outbox rows of one configuration posted together (at most 100 statuses in all)."""

    receipt_id: str
    ids: list[int]
    statuses: list[Any]
    attempts: list[int]
    counts: list[int]


async def dispatch_due(
    store: Any, client: httpx2.AsyncClient, now_ms: int, *, limit: int = 100
) -> DispatchReport:
    """Post every due outbox row (at most `limit` rows) and record each callback's fate."""
    with store.transaction() as conn:
        rows = conn.execute(
            "UPDATE receipt_outbox SET state = ? WHERE id IN (SELECT id FROM receipt_outbox"
            " WHERE state = ? AND next_attempt_ms <= ? ORDER BY id LIMIT ?)"
            " RETURNING id, receipt_id, statuses, status_count, attempts",
            (SENDING, PENDING, now_ms, limit),
        ).fetchall()
        configs = _configs_by_id(conn, {row[1] for row in rows})
        settings = dispatch_settings(conn)
    report = DispatchReport()
    by_receiver: dict[str, list[_Callback]] = defaultdict(list)
    for callback in _callbacks(rows):
        by_receiver[callback.receipt_id].append(callback)

    async def post_in_order(callbacks: list[_Callback]) -> None:
        for callback in callbacks:
            error = await _post(client, configs.get(callback.receipt_id), callback, settings)
            with store.transaction() as conn:
                _record(conn, callback, error, settings, now_ms, report)
            if error is not None:
                return  # this receiver is down: the rest waits for a later round

    try:  # receivers are independent: one that hangs must not hold up the others
        await asyncio.gather(*(post_in_order(group) for group in by_receiver.values()))
    finally:  # rows not recorded (receiver down, or round cancelled) go back to the queue
        with store.transaction() as conn:
            release_claims(conn, [row[0] for row in rows])
    return report


def _callbacks(rows: Sequence[tuple[int, str, bytes, int, int]]) -> list[_Callback]:
    """Pack claimed rows into callbacks: same configuration, at most 100 statuses each."""
    packed: list[_Callback] = []
    open_callbacks: dict[str, _Callback] = {}
    for row_id, receipt_id, statuses, count, attempts in sorted(rows):
        callback = open_callbacks.get(receipt_id)
        if callback is None or len(callback.statuses) + count > MAX_STATUSES_PER_BATCH:
            callback = _Callback(receipt_id, [], [], [], [])
            open_callbacks[receipt_id] = callback
            packed.append(callback)
        callback.ids.append(row_id)
        callback.statuses.extend(orjson.loads(statuses))
        callback.attempts.append(attempts)
        callback.counts.append(count)
    return packed


class _Permanent(str):
    """An error that retrying cannot fix (the batch is marked failed at once)."""


async def _post(
    client: httpx2.AsyncClient,
    config: ReceiptConfig | None,
    callback: _Callback,
    settings: DispatchSettings,
) -> str | None:
    if config is None:
        return _Permanent("the receipt configuration was deleted")
    try:
        body = ReceiptBatch(
            statuses=[ReceiptStatus.model_validate(status) for status in callback.statuses]
        ).to_json()
    except pydantic.ValidationError as error:
        return _Permanent(f"receipt does not fit the V2 format: {error.errors()[0]['msg']}")
    headers = {"Content-Type": "application/json"}
    signature = config.callback_header()
    if signature is not None:
        headers[CALLBACK_HEADER] = signature
    try:
        response = await client.post(
            config.url, content=body, headers=headers, timeout=settings.timeout_ms / 1000
        )
    except httpx2.HTTPError as error:
        logger.info("receipt receiver %s unreachable: %s", config.url, type(error).__name__)
        return f"{type(error).__name__}: {error}"[:300]
    if response.is_success:
        return None
    logger.info("receipt receiver %s answered HTTP %d", config.url, response.status_code)
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _record(
    conn: sqlite3.Connection,
    batch: _Callback,
    error: str | None,
    settings: DispatchSettings,
    now_ms: int,
    report: DispatchReport,
) -> None:
    if error is None:
        conn.executemany(
            f"UPDATE receipt_outbox SET state = '{SENT}', attempts = attempts + 1,"
            " last_error = NULL WHERE id = ?",
            [(row_id,) for row_id in batch.ids],
        )
        report.sent += len(batch.statuses)
        return
    updates = []
    for row_id, attempts, count in zip(batch.ids, batch.attempts, batch.counts, strict=True):
        tried = attempts + 1
        if isinstance(error, _Permanent) or tried >= settings.max_attempts:
            updates.append((FAILED, tried, now_ms, error, row_id))
            report.failed += count
        else:
            updates.append((PENDING, tried, now_ms + settings.delay_ms(tried), error, row_id))
            report.retrying += count
    conn.executemany(
        "UPDATE receipt_outbox SET state = ?, attempts = ?, next_attempt_ms = ?, last_error = ?"
        " WHERE id = ?",
        updates,
    )


def wall_clock_ms() -> int:
    """Now in ms since the epoch (signatures use real time: receivers check a window)."""
    return time.time_ns() // 1_000_000
