"""The campaign's durable state: one SQLite file (SQLAlchemy Core) beside the result files.

Tables:
- `campaign`: one row; what the campaign is (message fingerprint, token source), what planning
  found, and how far the result files are known to be complete (`outcomes_bytes`,
  `invalid_bytes`, written in the same transaction as the batches they cover).
- `batches`: one row per request's worth of tokens and its
  state: PLANNED → IN_FLIGHT → DONE, or UNKNOWN when a request's outcome could not be learned.
  A DONE batch carries its outcome (request id, code, counts and the failed tokens with their
  reasons) written in the one transaction that marks it DONE.
- the token lists themselves live beside the database in `tokens.spool`: each batch's tokens,
  newline-joined in input order, appended once while planning (and fsynced before the plan is
  marked complete); `batches` holds each list's offset and length. Inside SQLite a 130 kB list
  cost twice: written to the WAL and again at checkpoint, and rewritten with its row (overflow
  pages and all) on every state change (~1 ms each).
- `duplicates`: during planning only, the positions of repeated tokens found after reading.

Everything per token lives in the batch rows, so the database stays small and every statement on
the sending path touches one row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

STATE_FILE = "campaign.sqlite"
SPOOL_FILE = "tokens.spool"
SCHEMA_VERSION = 1

metadata = sa.MetaData()

campaign_table = sa.Table(
    "campaign",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String, nullable=False),
    sa.Column("campaign_id", sa.String, nullable=False),
    sa.Column("push_type", sa.Integer, nullable=False),
    sa.Column("source_name", sa.String, nullable=False),
    sa.Column("source_size", sa.BigInteger),
    sa.Column("planned", sa.Boolean, nullable=False, default=False),
    sa.Column("lines", sa.BigInteger, nullable=False, default=0),
    sa.Column("blank_lines", sa.BigInteger, nullable=False, default=0),
    sa.Column("header_lines", sa.BigInteger, nullable=False, default=0),
    sa.Column("rejected_lines", sa.BigInteger, nullable=False, default=0),
    sa.Column("duplicate_tokens", sa.BigInteger, nullable=False, default=0),
    sa.Column("tokens", sa.BigInteger, nullable=False, default=0),
    sa.Column("batches", sa.BigInteger, nullable=False, default=0),
    sa.Column("outcomes_bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("invalid_bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("planning_seconds", sa.Float, nullable=False, default=0.0),
    sa.Column("sending_seconds", sa.Float, nullable=False, default=0.0),
    sa.Column("runs", sa.Integer, nullable=False, default=0),
    sa.Column("flow_control_responses", sa.BigInteger, nullable=False, default=0),
    # Batches found IN_FLIGHT (answer lost) and how they were settled, over all runs.
    sa.Column("lost_answers_recorded", sa.BigInteger, nullable=False, default=0),
    sa.Column("lost_answers_resent", sa.BigInteger, nullable=False, default=0),
    sa.Column("lost_answers_unknown", sa.BigInteger, nullable=False, default=0),
    sa.Column("finished_at_ms", sa.BigInteger),
)

batches_table = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("spool_offset", sa.BigInteger, nullable=False),
    sa.Column("spool_length", sa.Integer, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("sent_at_ms", sa.BigInteger),
    sa.Column("done_at_ms", sa.BigInteger),
    sa.Column("request_id", sa.String),
    sa.Column("code", sa.String),
    sa.Column("accepted", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.LargeBinary),  # orjson {token: reason}, NULL when none failed
    sa.Column("duration_ms", sa.Integer),
    sa.Index("batches_state", "state", "id"),
)

duplicates_table = sa.Table(
    "duplicates",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
)


class BatchState(IntEnum):
    """Where a batch is on its way: planned, on the wire, done, or of unknown outcome."""

    PLANNED = 0
    IN_FLIGHT = 1
    DONE = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the server answered for one batch, as the state records it."""

    request_id: str | None
    code: str | None
    accepted: int
    failures: bytes | None
    failed: int
    duration_ms: int


def now_ms() -> int:
    """Wall-clock milliseconds, the unit every timestamp in the state uses."""
    return time.time_ns() // 1_000_000


def open_engine(out_dir: Path) -> Engine:
    """The engine for `out_dir`'s state file (WAL, synchronous=NORMAL, a bounded page cache)."""
    engine = sa.create_engine(
        f"sqlite:///{out_dir / STATE_FILE}",
        connect_args={"check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL + NORMAL: a commit survives the process being killed (kill -9); only a power cut
        # may lose the last commits, and those are then re-resolved like any in-flight batch.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A fixed page cache keeps memory flat whatever the campaign's size.
        cursor.execute("PRAGMA cache_size=-8000")
        cursor.execute("PRAGMA temp_store=FILE")
        # Checkpoint (and fsync) every ~40 MB of log rather than every 4 MB of token lists.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    metadata.create_all(engine)
    return engine


class CampaignState:
    """Reads and writes the campaign's state; every method is one short transaction."""

    def __init__(self, engine: Engine, spool_path: Path) -> None:
        self.engine = engine
        self.connection: Connection = engine.connect()
        self._spool = os.open(spool_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._spool_end = os.fstat(self._spool).st_size
        self._mark_in_flight = (
            batches_table.update()
            .where(batches_table.c.id == sa.bindparam("batch_id"))
            .values(
                state=BatchState.IN_FLIGHT,
                sent_at_ms=sa.bindparam("sent_at_ms"),
                attempts=batches_table.c.attempts + 1,
            )
        )
        self._set_state = (
            batches_table.update()
            .where(batches_table.c.id == sa.bindparam("batch_id"))
            .values(state=sa.bindparam("new_state"))
        )
        self._mark_done = (
            batches_table.update()
            .where(batches_table.c.id == sa.bindparam("batch_id"))
            .values(
                state=BatchState.DONE,
                done_at_ms=sa.bindparam("done_at_ms"),
                request_id=sa.bindparam("request_id"),
                code=sa.bindparam("code"),
                accepted=sa.bindparam("accepted"),
                failed=sa.bindparam("failed"),
                failures=sa.bindparam("failures"),
                duration_ms=sa.bindparam("duration_ms"),
            )
        )
        self._set_offsets = (
            campaign_table.update()
            .where(campaign_table.c.id == 1)
            .values(
                outcomes_bytes=sa.bindparam("outcomes_bytes"),
                invalid_bytes=sa.bindparam("invalid_bytes"),
            )
        )
        self._batch_place = sa.select(
            batches_table.c.spool_offset, batches_table.c.spool_length
        ).where(batches_table.c.id == sa.bindparam("batch_id"))

    def close(self) -> None:
        """Release the connection, the engine and the spool."""
        self.connection.close()
        self.engine.dispose()
        os.close(self._spool)

    # --- the campaign row ---------------------------------------------------------------

    def campaign(self) -> dict[str, Any] | None:
        """The campaign row as a mapping, or None for a fresh state file."""
        row = self.connection.execute(sa.select(campaign_table)).mappings().first()
        self.connection.commit()
        return dict(row) if row is not None else None

    def create_campaign(
        self,
        fingerprint: str,
        campaign_id: str,
        push_type: int,
        source_name: str,
        source_size: int | None,
    ) -> None:
        """Start a fresh campaign row (planning not done)."""
        with self.connection.begin():
            self.connection.execute(campaign_table.delete())
            self.connection.execute(
                campaign_table.insert().values(
                    id=1,
                    schema_version=SCHEMA_VERSION,
                    fingerprint=fingerprint,
                    campaign_id=campaign_id,
                    push_type=push_type,
                    source_name=source_name,
                    source_size=source_size,
                    planned=False,
                    created_at_ms=now_ms(),
                )
            )

    def update_campaign(self, **values: Any) -> None:
        """Set some columns of the campaign row."""
        with self.connection.begin():
            self.connection.execute(
                campaign_table.update().where(campaign_table.c.id == 1).values(**values)
            )

    def add_to_campaign(self, **increments: float) -> None:
        """Add to numeric columns of the campaign row (durations, counters)."""
        values = {name: campaign_table.c[name] + amount for name, amount in increments.items()}
        self.update_campaign(**values)

    # --- planning -------------------------------------------------------------------------

    def clear_plan(self) -> None:
        """Forget a plan that was interrupted before it was complete (nothing was sent)."""
        with self.connection.begin():
            self.connection.execute(batches_table.delete())
            self.connection.execute(duplicates_table.delete())
        os.ftruncate(self._spool, 0)
        self._spool_end = 0

    def insert_batches(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add planned batches (`id`, `tokens`, `size`) in one transaction."""
        if not rows:
            return
        records = []
        for row in rows:
            offset, length = self._append_to_spool(row["tokens"])
            records.append(
                {
                    "id": row["id"],
                    "size": row["size"],
                    "spool_offset": offset,
                    "spool_length": length,
                    "state": BatchState.PLANNED,
                    "attempts": 0,
                    "accepted": 0,
                    "failed": 0,
                }
            )
        with self.connection.begin():
            self.connection.execute(batches_table.insert(), records)

    def _append_to_spool(self, blob: bytes) -> tuple[int, int]:
        offset = self._spool_end
        view = memoryview(blob)
        while view:
            written = os.write(self._spool, view)
            view = view[written:]
        self._spool_end += len(blob)
        return offset, len(blob)

    def _read_spool(self, offset: int, length: int) -> bytes:
        blob = os.pread(self._spool, length, offset)
        if len(blob) != length:
            raise OSError(f"{SPOOL_FILE} is shorter than the state says; the plan is damaged")
        return blob

    def make_plan_durable(self) -> None:
        """fsync the token lists before the plan is recorded as complete."""
        os.fsync(self._spool)

    def insert_duplicates(self, seqs: Sequence[int]) -> None:
        """Record positions of repeated tokens found while planning."""
        if seqs:
            with self.connection.begin():
                self.connection.execute(duplicates_table.insert(), [{"seq": seq} for seq in seqs])

    def iter_duplicate_seqs(self) -> Iterator[int]:
        """Positions of repeated tokens, in order."""
        query = sa.select(duplicates_table.c.seq).order_by(duplicates_table.c.seq)
        with self.engine.connect() as reader:
            for (seq,) in reader.execute(query):
                yield int(seq)

    def replace_batch_tokens(self, batch_id: int, tokens: bytes, size: int) -> None:
        """Rewrite a planned batch's token list (after removing repeated tokens)."""
        with self.connection.begin():
            if size:
                offset, length = self._append_to_spool(tokens)
                self.connection.execute(
                    batches_table.update()
                    .where(batches_table.c.id == batch_id)
                    .values(size=size, spool_offset=offset, spool_length=length)
                )
            else:
                self.connection.execute(
                    batches_table.delete().where(batches_table.c.id == batch_id)
                )

    # --- sending --------------------------------------------------------------------------

    def batch_tokens(self, batch_id: int) -> list[str]:
        """The tokens of one batch, in input order."""
        offset, length = self.connection.execute(self._batch_place, {"batch_id": batch_id}).one()
        self.connection.commit()
        return split_tokens(self._read_spool(offset, length))

    def count_batches(self) -> int:
        """How many batches the plan holds."""
        count = self.connection.execute(sa.select(sa.func.count()).select_from(batches_table))
        value = int(count.scalar_one())
        self.connection.commit()
        return value

    def batch_ids(self, state: BatchState, after: int = -1, limit: int = 512) -> list[int]:
        """Ids of batches in `state`, ascending, after `after`."""
        rows = self.connection.execute(
            sa.select(batches_table.c.id)
            .where(batches_table.c.state == state, batches_table.c.id > after)
            .order_by(batches_table.c.id)
            .limit(limit)
        ).all()
        self.connection.commit()
        return [int(row[0]) for row in rows]

    def batch_rows(self, state: BatchState) -> list[dict[str, Any]]:
        """Every batch in `state`, with its tokens (used for the few in-flight ones)."""
        rows = (
            self.connection.execute(
                sa.select(batches_table)
                .where(batches_table.c.state == state)
                .order_by(batches_table.c.id)
            )
            .mappings()
            .all()
        )
        self.connection.commit()
        return [
            {**row, "tokens": self._read_spool(row["spool_offset"], row["spool_length"])}
            for row in rows
        ]

    def mark_in_flight(self, batch_id: int) -> int:
        """Record durably that this batch is about to go on the wire; returns the time stamp."""
        sent_at = now_ms()
        with self.connection.begin():
            self.connection.execute(
                self._mark_in_flight, {"batch_id": batch_id, "sent_at_ms": sent_at}
            )
        return sent_at

    def set_state(self, batch_ids: Sequence[int], state: BatchState) -> None:
        """Move batches to `state` (back to PLANNED after a refusal, or to UNKNOWN)."""
        if batch_ids:
            with self.connection.begin():
                self.connection.execute(
                    self._set_state,
                    [{"batch_id": batch_id, "new_state": state} for batch_id in batch_ids],
                )

    def mark_done(
        self, batch_id: int, outcome: BatchOutcome, outcomes_bytes: int, invalid_bytes: int
    ) -> None:
        """Record a batch's outcome and how far the result files now reach, in one transaction."""
        with self.connection.begin():
            self.connection.execute(
                self._mark_done,
                {
                    "batch_id": batch_id,
                    "done_at_ms": now_ms(),
                    "request_id": outcome.request_id,
                    "code": outcome.code,
                    "accepted": outcome.accepted,
                    "failed": outcome.failed,
                    "failures": outcome.failures,
                    "duration_ms": outcome.duration_ms,
                },
            )
            self.connection.execute(
                self._set_offsets,
                {"outcomes_bytes": outcomes_bytes, "invalid_bytes": invalid_bytes},
            )

    # --- reports --------------------------------------------------------------------------

    def totals(self) -> dict[BatchState, tuple[int, int, int, int]]:
        """Per state: (batches, tokens, accepted, failed)."""
        rows = self.connection.execute(
            sa.select(
                batches_table.c.state,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(batches_table.c.size), 0),
                sa.func.coalesce(sa.func.sum(batches_table.c.accepted), 0),
                sa.func.coalesce(sa.func.sum(batches_table.c.failed), 0),
            ).group_by(batches_table.c.state)
        ).all()
        self.connection.commit()
        return {
            BatchState(int(row[0])): (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in rows
        }

    def iter_done(self, with_tokens: bool) -> Iterator[dict[str, Any]]:
        """DONE batches in id order (optionally with tokens), for reports and regeneration."""
        columns = [
            batches_table.c.id,
            batches_table.c.request_id,
            batches_table.c.code,
            batches_table.c.failed,
            batches_table.c.failures,
        ]
        if with_tokens:
            columns += [batches_table.c.spool_offset, batches_table.c.spool_length]
        query = (
            sa.select(*columns)
            .where(batches_table.c.state == BatchState.DONE)
            .order_by(batches_table.c.id)
        )
        # A separate connection, so the rows stream while this one stays free.
        with self.engine.connect() as reader:
            for row in reader.execute(query).mappings():
                item = dict(row)
                if with_tokens:
                    item["tokens"] = self._read_spool(row["spool_offset"], row["spool_length"])
                yield item

    def iter_batches(self) -> Iterator[tuple[int, list[str]]]:
        """Every batch's id and tokens, in id order."""
        query = sa.select(
            batches_table.c.id, batches_table.c.spool_offset, batches_table.c.spool_length
        ).order_by(batches_table.c.id)
        with self.engine.connect() as reader:
            for batch_id, offset, length in reader.execute(query):
                yield int(batch_id), split_tokens(self._read_spool(offset, length))

    def iter_tokens_in(self, state: BatchState) -> Iterator[str]:
        """Every token of the batches in `state`."""
        query = (
            sa.select(batches_table.c.spool_offset, batches_table.c.spool_length)
            .where(batches_table.c.state == state)
            .order_by(batches_table.c.id)
        )
        with self.engine.connect() as reader:
            for offset, length in reader.execute(query):
                yield from split_tokens(self._read_spool(offset, length))


def split_tokens(blob: bytes) -> list[str]:
    """A batch's stored token list back as strings."""
    return blob.decode().split("\n") if blob else []


def join_tokens(tokens: Sequence[str]) -> bytes:
    """A batch's token list as stored: newline-joined UTF-8 (tokens never contain newlines)."""
    return "\n".join(tokens).encode()


def open_state(out_dir: Path) -> CampaignState:
    """The state of the campaign writing to `out_dir` (database and token spool)."""
    return CampaignState(open_engine(out_dir), out_dir / SPOOL_FILE)
