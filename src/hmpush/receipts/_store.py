"""SQLite storage of received receipts and of callback nonces (stdlib sqlite3, WAL)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hmpush.codes import ReceiptResult
from hmpush.errors import HmpushError
from hmpush.receipts._models import DeliveryStatus, FormStatus, ReceiptBatch, ReceiptStatus
from hmpush.receipts._signing import (
    DEFAULT_WINDOW_MS,
    CallbackHeader,
    ReplayedNonceError,
    StaleCallbackError,
)

__all__ = [
    "DEFAULT_MAX_STORED_NONCES",
    "ReceiptStore",
    "ReceiptStoreError",
    "ResultCount",
    "tokens_to_delete",
]

DEFAULT_MAX_STORED_NONCES = 1_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    token TEXT NOT NULL,
    push_type INTEGER NOT NULL,
    app_package_name TEXT NOT NULL,
    bi_tag TEXT NOT NULL,
    result INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    form_id INTEGER,
    received_at_ms INTEGER NOT NULL
);
-- A receipt delivered twice (Huawei retrying a callback) is stored once. This index also serves
-- look-ups by requestId, being its first column.
CREATE UNIQUE INDEX IF NOT EXISTS receipts_once
    ON receipts (request_id, token, IFNULL(form_id, -1), result, timestamp_ms);
CREATE INDEX IF NOT EXISTS receipts_by_bi_tag ON receipts (bi_tag);
CREATE INDEX IF NOT EXISTS receipts_by_token ON receipts (token, timestamp_ms);
CREATE TABLE IF NOT EXISTS callback_nonces (
    nonce TEXT PRIMARY KEY,
    timestamp_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS callback_nonces_by_age ON callback_nonces (timestamp_ms);
-- nonce_floor_ms: callbacks not newer than this are refused (see MemoryNonceCache);
-- nonce_count: rows in callback_nonces.
CREATE TABLE IF NOT EXISTS receiver_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_INSERT_RECEIPT = """
INSERT OR IGNORE INTO receipts (request_id, token, push_type, app_package_name, bi_tag, result,
                                timestamp_ms, form_id, received_at_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_RECEIPT_COLUMNS = (
    "token, push_type, app_package_name, bi_tag, request_id, result, timestamp_ms, form_id"
)


class ReceiptStoreError(HmpushError):
    """The receipt store's file cannot be opened or is not a receipt store."""


@dataclass(frozen=True, slots=True)
class ResultCount:
    """How many receipts of one requestId and biTag reported one result."""

    request_id: str
    bi_tag: str
    result: int
    count: int


class ReceiptStore:
    """Receipts and callback nonces in one SQLite file (or in memory when `path` is None).

    Safe to share between threads; each write is one `BEGIN IMMEDIATE` transaction, so several
    processes may share a file. Nonces persist, so restarting a receiver does not reopen the
    replay window.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_nonces: int = DEFAULT_MAX_STORED_NONCES,
    ) -> None:
        if max_nonces < 1:
            raise ValueError("max_nonces must be at least 1")
        self.path = Path(path) if path is not None else None
        self.max_nonces = max_nonces
        self._lock = threading.Lock()
        self._conn = _open(self.path)

    def __enter__(self) -> ReceiptStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def save_batch(
        self,
        batch: ReceiptBatch,
        *,
        nonce: CallbackHeader | None = None,
        now_ms: int | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
    ) -> int:
        """Store every status of `batch` (and record `nonce`) in one transaction; new rows count.

        A replayed or too-old nonce raises and stores nothing; repeats of stored receipts are
        skipped.
        """
        if now_ms is None:
            now_ms = _now_ms()
        rows = [_row(status, now_ms) for status in batch.statuses]
        with self._transaction() as conn:
            if nonce is not None:
                self._remember(conn, nonce.nonce, nonce.timestamp_ms, now_ms, window_ms)
            before = conn.total_changes
            conn.executemany(_INSERT_RECEIPT, rows)
            return conn.total_changes - before

    def remember(self, nonce: str, timestamp_ms: int, *, now_ms: int, window_ms: int) -> None:
        """Record `nonce` (the `NonceCache` protocol); raises on a replay or a too-old callback."""
        with self._transaction() as conn:
            self._remember(conn, nonce, timestamp_ms, now_ms, window_ms)

    def receipts(
        self,
        *,
        request_id: str | None = None,
        bi_tag: str | None = None,
        token: str | None = None,
    ) -> list[ReceiptStatus]:
        """Stored receipts in arrival order, optionally only one requestId, biTag or token."""
        where, parameters = _filters(request_id=request_id, bi_tag=bi_tag, token=token)
        query = f"SELECT {_RECEIPT_COLUMNS} FROM receipts {where} ORDER BY id"
        with self._lock:
            rows = self._conn.execute(query, parameters).fetchall()
        return [_status(row) for row in rows]

    def count(self) -> int:
        """How many receipts are stored."""
        with self._lock:
            (total,) = self._conn.execute("SELECT COUNT(*) FROM receipts").fetchone()
        return int(total)

    def latest_results(self, only: Iterable[int] | None = None) -> dict[str, int]:
        """Each token's latest result (by receipt timestamp, then arrival order).

        With `only`, just the tokens whose latest result is one of those codes.
        """
        query = """
            SELECT token, result FROM (
                SELECT token, result, ROW_NUMBER() OVER (
                    PARTITION BY token ORDER BY timestamp_ms DESC, id DESC) AS recency
                FROM receipts)
            WHERE recency = 1
        """
        parameters: list[int] = []
        if only is not None:
            parameters = sorted(set(only))
            query += f" AND result IN ({', '.join('?' * len(parameters)) or 'NULL'})"
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY token", parameters).fetchall()
        return {token: result for token, result in rows}

    def summary(
        self, *, request_id: str | None = None, bi_tag: str | None = None
    ) -> list[ResultCount]:
        """Counts of receipts by requestId, biTag and result, optionally for one of each."""
        where, parameters = _filters(request_id=request_id, bi_tag=bi_tag)
        query = f"""
            SELECT request_id, bi_tag, result, COUNT(*) FROM receipts {where}
            GROUP BY request_id, bi_tag, result
            ORDER BY request_id, bi_tag, result
        """
        with self._lock:
            rows = self._conn.execute(query, parameters).fetchall()
        return [ResultCount(*row) for row in rows]

    def _remember(
        self, conn: sqlite3.Connection, nonce: str, timestamp_ms: int, now_ms: int, window_ms: int
    ) -> None:
        # Nonces older than the window need no memory: their timestamps are refused anyway.
        pruned = conn.execute(
            "DELETE FROM callback_nonces WHERE timestamp_ms < ?", (now_ms - window_ms,)
        ).rowcount
        if timestamp_ms <= _state(conn, "nonce_floor_ms", -1):
            raise StaleCallbackError(
                "callback is older than the oldest nonce the receiver still remembers"
            )
        inserted = conn.execute(
            "INSERT OR IGNORE INTO callback_nonces (nonce, timestamp_ms) VALUES (?, ?)",
            (nonce, timestamp_ms),
        ).rowcount
        if inserted == 0:
            raise ReplayedNonceError(f"nonce {nonce!r} was already used")
        # A running count, because COUNT(*) over a large table would cost more than the rest.
        stored = max(_state(conn, "nonce_count", 0) - pruned, 0) + 1
        if stored > self.max_nonces:
            _forget_oldest_nonces(conn, stored - self.max_nonces)
            stored = self.max_nonces
        _set_state(conn, "nonce_count", stored)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._lock)


class _Transaction:
    """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` on error) under the store's lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


def _forget_oldest_nonces(conn: sqlite3.Connection, excess: int) -> None:
    # Raise the floor to the newest forgotten timestamp, so that forgetting never lets a
    # replay through (same rule as MemoryNonceCache).
    (newest_forgotten,) = conn.execute(
        "SELECT MAX(timestamp_ms) FROM (SELECT timestamp_ms FROM callback_nonces "
        "ORDER BY timestamp_ms LIMIT ?)",
        (excess,),
    ).fetchone()
    conn.execute(
        "DELETE FROM callback_nonces WHERE nonce IN (SELECT nonce FROM callback_nonces "
        "ORDER BY timestamp_ms LIMIT ?)",
        (excess,),
    )
    _set_state(conn, "nonce_floor_ms", max(_state(conn, "nonce_floor_ms", -1), newest_forgotten))


def _state(conn: sqlite3.Connection, name: str, default: int) -> int:
    row = conn.execute("SELECT value FROM receiver_state WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row is not None else default


def _set_state(conn: sqlite3.Connection, name: str, value: int) -> None:
    conn.execute(
        "INSERT INTO receiver_state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


_DELETE_RESULTS = frozenset(int(result) for result in ReceiptResult if result.means_delete_token)


def tokens_to_delete(source: ReceiptStore | Iterable[ReceiptStatus]) -> list[str]:
    """Tokens whose latest receipt says 2, 5, 6 or 10 (Huawei's advice: stop sending to them)."""
    if isinstance(source, ReceiptStore):
        return list(source.latest_results(only=_DELETE_RESULTS))
    return sorted(token for token, result in _latest(source).items() if result in _DELETE_RESULTS)


def _latest(statuses: Iterable[ReceiptStatus]) -> dict[str, int]:
    newest: dict[str, tuple[int, int]] = {}
    for status in statuses:
        seen = newest.get(status.token)
        # Later in the iterable wins a tie, like arrival order in the store.
        if seen is None or status.timestamp >= seen[0]:
            newest[status.token] = (status.timestamp, status.result)
    return {token: result for token, (_, result) in newest.items()}


def _open(path: Path | None) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            isolation_level=None,
            check_same_thread=False,
            timeout=10.0,
        )
        if path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except sqlite3.Error as error:
        raise ReceiptStoreError(f"cannot open the receipt store {path}: {error}") from None
    return conn


def _filters(**values: str | None) -> tuple[str, list[str]]:
    chosen = {column: value for column, value in values.items() if value is not None}
    if not chosen:
        return "", []
    return "WHERE " + " AND ".join(f"{column} = ?" for column in chosen), list(chosen.values())


def _row(status: ReceiptStatus, received_at_ms: int) -> tuple[object, ...]:
    return (
        status.request_id,
        status.token,
        status.push_type,
        status.app_package_name,
        status.bi_tag,
        status.result,
        status.timestamp,
        status.form_id,
        received_at_ms,
    )


def _status(row: tuple[str, int, str, str, str, int, int, int | None]) -> ReceiptStatus:
    token, push_type, package, bi_tag, request_id, result, timestamp_ms, form_id = row
    delivery_status = form_status = None
    if form_id is None:
        delivery_status = DeliveryStatus(result=result, timestamp=timestamp_ms)
    else:
        form_status = FormStatus(form_id=form_id, result=result, timestamp=timestamp_ms)
    return ReceiptStatus(
        token=token,
        push_type=push_type,
        app_package_name=package,
        bi_tag=bi_tag,
        request_id=request_id,
        delivery_status=delivery_status,
        form_status=form_status,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)
