"""SQLite state of the local Push server: one writer connection, WAL, short indexed keys.

Every write happens inside `Store.transaction()` (BEGIN IMMEDIATE … COMMIT) under one lock, so
the server has exactly one writer. Reads use `Store.read()`: a per-thread connection on a file
database (WAL lets it read while the writer writes), the writer's connection in memory.
Never `await` while holding either context: the lock is a thread lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CORE_TABLES", "Store"]

# Tables the core owns; every other table belongs to `hmpush.emulator.delivery` and its helpers.
CORE_TABLES = ("projects", "service_account_keys", "apps", "devices", "requests")

_CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    push_enabled INTEGER NOT NULL DEFAULT 1,
    penalty INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS service_account_keys (
    key_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    sub_account TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS apps (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    bundle_name TEXT NOT NULL,
    push_types TEXT NOT NULL,
    categories TEXT NOT NULL,
    live_view_events TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    app_id INTEGER NOT NULL REFERENCES apps (id),
    project_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    push_type INTEGER NOT NULL,
    test_message INTEGER NOT NULL,
    code TEXT NOT NULL,
    msg TEXT NOT NULL,
    success INTEGER NOT NULL,
    failure INTEGER NOT NULL,
    bi_tag TEXT,
    payload BLOB NOT NULL,
    push_options BLOB NOT NULL,
    accepted_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_project ON requests (project_id, seq);
"""


class Store:
    """The server's SQLite database: a file (WAL) or memory."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._local = threading.local()
        self._writer = self._connect()
        if path is not None:
            self._writer.execute("PRAGMA journal_mode=WAL")
        self.run_script(_CORE_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        # No fsync at all: commits survive the server crashing or being killed, and only an
        # operating-system crash or power loss could lose or damage recent writes. That is the
        # right trade for a development server: the checkpoint fsyncs of NORMAL tripled the
        # wall-clock cost of a 1-token send.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    def run_script(self, script: str) -> None:
        """Run a schema script (CREATE … IF NOT EXISTS) outside any transaction."""
        with self._lock:
            self._writer.executescript(script)

    def install(self, installer: Callable[[sqlite3.Connection], None]) -> None:
        """Let another module create its tables on the writer connection."""
        with self._lock:
            installer(self._writer)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""
        with self._lock:
            conn = self._writer
            if conn.in_transaction:  # nested use on the same thread joins the outer transaction
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (autocommit; wrap several statements in BEGIN if needed)."""
        if self.path is None:
            with self._lock:
                yield self._writer
            return
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        yield conn

    def close(self) -> None:
        """Close the writer connection (readers close with their threads)."""
        with self._lock:
            self._writer.close()
