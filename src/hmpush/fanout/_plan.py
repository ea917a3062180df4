"""Planning: read the whole token list once into batches in the state, before anything is sent.

Memory stays flat however long the list is. Repeated tokens are found without a set of every
token: each token's 64-bit hash and position go to one of 256 bucket files on disk; afterwards
each bucket (1/256 of the tokens) is checked on its own, and every hash seen twice is confirmed
by comparing the real tokens, so a hash collision can never drop a token. Repeats inside one batch
are caught on the fly. Planning that is interrupted is simply redone: nothing is sent before it
completes.
"""

from __future__ import annotations

import shutil
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import BinaryIO

import orjson

from hmpush.fanout._input import (
    InputCounts,
    InputFormat,
    RejectedLine,
    TokenInput,
    TokenInputError,
    describe_source,
    iter_tokens,
    open_source,
)
from hmpush.fanout._state import CampaignState, join_tokens, split_tokens

BUCKETS = 256
# Hashes held in memory before they go to the bucket files (8 bytes each).
BUFFERED_KEYS = 65_536
# Repeated hashes looked up per pass over the planned batches (bounds memory on files full of
# repeats; a typical list needs one pass, a list without repeats none).
REPEATS_PER_SCAN = 50_000
BATCH_ROWS_PER_TRANSACTION = 32
FIRST_REJECTED_SHOWN = 5


@dataclass(slots=True)
class PlanReport:
    """What planning found in the token list."""

    source: str
    lines: int = 0
    blank_lines: int = 0
    header_lines: int = 0
    rejected_lines: int = 0
    duplicate_tokens: int = 0
    tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    first_rejected: list[RejectedLine] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for people: counts, and where the bad lines are."""
        text = (
            f"{self.tokens:,} tokens in {self.batches:,} requests from {self.source} "
            f"({self.lines:,} lines: {self.blank_lines:,} blank, {self.duplicate_tokens:,} "
            f"repeated tokens sent once, {self.rejected_lines:,} lines that cannot be tokens"
        )
        if self.header_lines:
            text += f", {self.header_lines} header line"
        text += ")"
        for rejected in self.first_rejected:
            text += f"\n  line {rejected.line}: {rejected.text!r} {rejected.rule}"
        if self.rejected_lines > len(self.first_rejected):
            text += f"\n  … {self.rejected_lines - len(self.first_rejected):,} more"
        return text


class _DuplicateFinder:
    """Disk-backed search for repeated tokens: 256 hash buckets, each checked on its own."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        self.buffers = [array("q") for _ in range(BUCKETS)]
        self.buffered = 0
        self.files: list[BinaryIO] = [
            open(work_dir / f"bucket-{index:03d}", "wb", buffering=0)  # noqa: SIM115
            for index in range(BUCKETS)
        ]

    def add_many(self, keys: list[int]) -> None:
        """Note the hashes of some tokens."""
        buffers = self.buffers
        mask = BUCKETS - 1
        for key in keys:
            buffers[key & mask].append(key)
        self.buffered += len(keys)
        if self.buffered >= BUFFERED_KEYS:
            self._flush()

    def _flush(self) -> None:
        for handle, buffer in zip(self.files, self.buffers, strict=True):
            buffer.tofile(handle)
            del buffer[:]
        self.buffered = 0

    def repeated_keys(self) -> Iterator[set[int]]:
        """Sets (of bounded size) of the hashes that occur more than once."""
        self._flush()
        for handle in self.files:
            handle.close()
        found: set[int] = set()
        for index in range(BUCKETS):
            keys = array("q")
            path = self.work_dir / f"bucket-{index:03d}"
            keys.frombytes(path.read_bytes())
            path.unlink()
            if len(set(keys)) == len(keys):
                continue
            found.update(key for key, count in Counter(keys).items() if count > 1)
            if len(found) >= REPEATS_PER_SCAN:
                yield found
                found = set()
        if found:
            yield found

    def close(self) -> None:
        for handle in self.files:
            handle.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def plan_campaign(
    state: CampaignState,
    source: TokenInput,
    *,
    input_format: InputFormat,
    batch_size: int,
    is_plausible: Callable[[str], bool],
    out_dir: Path,
    rejected_file: str,
    on_progress: Callable[[int], None] | None = None,
) -> PlanReport:
    """Read `source` into planned batches of `batch_size`; write rejected lines to a file."""
    started = time.perf_counter()
    name, _size = describe_source(source)
    raw_lines, to_close = open_source(source)
    report = PlanReport(source=name)
    counts = InputCounts()
    state.clear_plan()
    finder = _DuplicateFinder(out_dir / ".planning")
    try:
        with open(out_dir / rejected_file, "wb") as rejected_out:
            next_seq = _read_into_batches(
                state,
                iter_tokens(raw_lines, name, input_format, counts, is_plausible),
                batch_size,
                finder,
                rejected_out,
                report,
                on_progress,
            )
        repeats = _record_repeats(state, finder, batch_size)
        _drop_repeats_from_batches(state, batch_size)
    except OSError as error:
        raise TokenInputError(f"cannot read token list {name}: {error.strerror}") from None
    finally:
        finder.close()
        if to_close is not None:
            to_close.close()
    report.lines = counts.lines
    report.blank_lines = counts.blank_lines
    report.header_lines = counts.header_lines
    report.rejected_lines = counts.rejected_lines
    report.duplicate_tokens += repeats
    report.tokens = next_seq - repeats
    report.batches = state.count_batches()
    report.seconds = time.perf_counter() - started
    return report


def _read_into_batches(
    state: CampaignState,
    items: Iterator[list[str] | RejectedLine],
    batch_size: int,
    finder: _DuplicateFinder,
    rejected_out: BinaryIO,
    report: PlanReport,
    on_progress: Callable[[int], None] | None,
) -> int:
    """Fill batches from the tokens in input order; returns how many tokens were kept."""
    seq = 0
    batch: dict[str, None] = {}  # insertion-ordered, for repeats inside the batch
    pending: list[dict[str, object]] = []
    for item in items:
        if type(item) is list:
            start = 0
            while start < len(item):
                # Whole slices at C speed; a repeat inside the batch shows as a shortfall.
                piece = item[start : start + batch_size - len(batch)]
                start += len(piece)
                before = len(batch)
                batch.update(dict.fromkeys(piece))
                report.duplicate_tokens += len(piece) - (len(batch) - before)
                if len(batch) < batch_size:
                    continue
                seq = _close_batch(batch, seq, batch_size, finder, pending)
                batch = {}
                if len(pending) >= BATCH_ROWS_PER_TRANSACTION:
                    state.insert_batches(pending)
                    pending = []
                    if on_progress is not None:
                        on_progress(seq)
        else:
            _write_rejected(item, rejected_out, report)  # type: ignore[arg-type]
    if batch:
        seq = _close_batch(batch, seq, batch_size, finder, pending)
    state.insert_batches(pending)
    if on_progress is not None:
        on_progress(seq)
    return seq


def _close_batch(
    batch: dict[str, None],
    seq: int,
    batch_size: int,
    finder: _DuplicateFinder,
    pending: list[dict[str, object]],
) -> int:
    tokens = list(batch)
    finder.add_many(list(map(hash, tokens)))
    pending.append({"id": seq // batch_size, "tokens": join_tokens(tokens), "size": len(tokens)})
    return seq + len(tokens)


def _write_rejected(item: RejectedLine, rejected_out: BinaryIO, report: PlanReport) -> None:
    rejected_out.write(
        orjson.dumps({"line": item.line, "text": item.text, "rule": item.rule}) + b"\n"
    )
    if len(report.first_rejected) < FIRST_REJECTED_SHOWN:
        report.first_rejected.append(item)


def _record_repeats(state: CampaignState, finder: _DuplicateFinder, batch_size: int) -> int:
    """Record the positions of tokens seen before (compared as text, so collisions are harmless)."""
    found = 0
    for keys in finder.repeated_keys():
        first_seen: set[str] = set()
        repeats: list[int] = []
        for batch_id, tokens in state.iter_batches():
            hits = compress(range(len(tokens)), map(keys.__contains__, map(hash, tokens)))
            for index in hits:
                token = tokens[index]
                if token in first_seen:
                    repeats.append(batch_id * batch_size + index)
                else:
                    first_seen.add(token)
            if len(repeats) >= 10_000:
                state.insert_duplicates(repeats)
                found += len(repeats)
                repeats = []
        state.insert_duplicates(repeats)
        found += len(repeats)
    return found


def _drop_repeats_from_batches(state: CampaignState, batch_size: int) -> None:
    current_batch = -1
    drop: set[int] = set()

    def rewrite() -> None:
        tokens = state.batch_tokens(current_batch)
        kept = [token for index, token in enumerate(tokens) if index not in drop]
        state.replace_batch_tokens(current_batch, join_tokens(kept), len(kept))

    for seq in state.iter_duplicate_seqs():
        batch_id, index = divmod(seq, batch_size)
        if batch_id != current_batch:
            if drop:
                rewrite()
            current_batch, drop = batch_id, set()
        drop.add(index)
    if drop:
        rewrite()


__all__ = ["PlanReport", "plan_campaign", "split_tokens"]
