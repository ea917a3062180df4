"""The campaign's result files in its output directory, kept consistent with the state.

- `outcomes.jsonl`: one line per token sent, ``{"token", "outcome", "reason", "requestId",
  "batch"}`` with outcome `accepted` or `failed` (reason = Huawei's `illegalTokens` key);
- `invalid-tokens.txt`: the tokens the server called unusable (drop or re-fetch them), one a line;
- `unknown-tokens.txt`: tokens of requests whose outcome could not be learned (see `_resolve`);
- `rejected-lines.jsonl`: input lines that cannot be tokens (written while planning);
- `summary.json`: counts by outcome and reason, request ids, durations.

Each batch's lines are appended and flushed, then the state records the files' new lengths in
the transaction that marks the batch DONE. On the next run, anything past those lengths (lines of
a batch whose DONE never committed) is cut off; a file shorter than recorded (lost in a power cut)
is rebuilt from the state.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from hmpush.codes import DROP_TOKEN_REASONS
from hmpush.fanout._state import BatchState, CampaignState, split_tokens

OUTCOMES_FILE = "outcomes.jsonl"
INVALID_TOKENS_FILE = "invalid-tokens.txt"
UNKNOWN_TOKENS_FILE = "unknown-tokens.txt"
REJECTED_LINES_FILE = "rejected-lines.jsonl"
SUMMARY_FILE = "summary.json"
WRITE_BUFFER = 1 << 20


def outcome_lines(
    batch_id: int, tokens: Sequence[str], request_id: str, failures: dict[str, str]
) -> tuple[bytes, bytes]:
    """A batch's `outcomes.jsonl` lines and `invalid-tokens.txt` lines."""
    dumps = orjson.dumps
    head = b'{"token":'
    accepted_tail = (
        b',"outcome":"accepted","reason":null,"requestId":'
        + dumps(request_id)
        + b',"batch":%d}\n' % batch_id
    )
    if not failures:
        # One orjson call for the batch: in the JSON array of strings, `","` can only occur
        # between elements (a quote inside a string is escaped), so each becomes a line break.
        array = dumps(tokens if isinstance(tokens, list) else list(tokens))
        if len(array) <= 2:
            return b"", b""
        joint = b'"' + accepted_tail + head + b'"'
        return head + array[1:-1].replace(b'","', joint) + accepted_tail, b""
    failed_tail = b',"requestId":' + dumps(request_id) + b',"batch":%d}\n' % batch_id
    lines: list[bytes] = []
    invalid: list[bytes] = []
    for token in tokens:
        reason = failures.get(token)
        if reason is None:
            lines.append(head + dumps(token) + accepted_tail)
            continue
        lines.append(
            head + dumps(token) + b',"outcome":"failed","reason":' + dumps(reason) + failed_tail
        )
        if reason in DROP_TOKEN_REASONS:
            invalid.append(token.encode() + b"\n")
    return b"".join(lines), b"".join(invalid)


class ResultFiles:
    """Appends outcomes and invalid tokens; reports the lengths the state must record."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._outcomes: BinaryIO | None = None
        self._invalid: BinaryIO | None = None

    def reconcile(self, state: CampaignState) -> None:
        """Make the files match the state exactly (cut a torn tail, or rebuild if too short)."""
        campaign = state.campaign()
        assert campaign is not None
        outcomes_path = self.out_dir / OUTCOMES_FILE
        invalid_path = self.out_dir / INVALID_TOKENS_FILE
        recorded = (int(campaign["outcomes_bytes"]), int(campaign["invalid_bytes"]))
        if _size(outcomes_path) >= recorded[0] and _size(invalid_path) >= recorded[1]:
            _truncate(outcomes_path, recorded[0])
            _truncate(invalid_path, recorded[1])
        else:
            sizes = self.rebuild(state)
            state.update_campaign(outcomes_bytes=sizes[0], invalid_bytes=sizes[1])
        self._outcomes = open(outcomes_path, "ab", buffering=WRITE_BUFFER)  # noqa: SIM115
        self._invalid = open(invalid_path, "ab", buffering=WRITE_BUFFER)  # noqa: SIM115

    def rebuild(self, state: CampaignState) -> tuple[int, int]:
        """Write both files afresh from the DONE batches in the state (each replaced whole)."""
        outcomes_path = self.out_dir / OUTCOMES_FILE
        invalid_path = self.out_dir / INVALID_TOKENS_FILE
        fresh_outcomes = outcomes_path.with_suffix(".jsonl.tmp")
        fresh_invalid = invalid_path.with_suffix(".txt.tmp")
        with (
            open(fresh_outcomes, "wb", buffering=WRITE_BUFFER) as outcomes,
            open(fresh_invalid, "wb", buffering=WRITE_BUFFER) as invalid,
        ):
            for row in state.iter_done(with_tokens=True):
                failures = orjson.loads(row["failures"]) if row["failures"] else {}
                lines, bad = outcome_lines(
                    row["id"], split_tokens(row["tokens"]), row["request_id"] or "", failures
                )
                outcomes.write(lines)
                invalid.write(bad)
            sizes = outcomes.tell(), invalid.tell()
        # Same lines in another order: a crash after these renames leaves files whose lengths
        # are exactly what the state records.
        os.replace(fresh_outcomes, outcomes_path)
        os.replace(fresh_invalid, invalid_path)
        return sizes

    def append(self, lines: bytes, invalid: bytes) -> tuple[int, int]:
        """Append a batch's lines, hand them to the OS, and return both files' lengths."""
        assert self._outcomes is not None and self._invalid is not None
        self._outcomes.write(lines)
        self._outcomes.flush()
        if invalid:
            self._invalid.write(invalid)
            self._invalid.flush()
        return self._outcomes.tell(), self._invalid.tell()

    def close(self) -> None:
        """Flush and close."""
        for handle in (self._outcomes, self._invalid):
            if handle is not None:
                handle.close()
        self._outcomes = self._invalid = None


def write_unknown_tokens(out_dir: Path, state: CampaignState) -> None:
    """List the tokens of UNKNOWN batches (the file is removed when there are none)."""
    path = out_dir / UNKNOWN_TOKENS_FILE
    count = 0
    with open(path, "wb", buffering=WRITE_BUFFER) as handle:
        for token in state.iter_tokens_in(BatchState.UNKNOWN):
            handle.write(token.encode() + b"\n")
            count += 1
    if not count:
        path.unlink()


def build_summary(state: CampaignState, extra: dict[str, Any]) -> dict[str, Any]:
    """The summary document, from the state alone."""
    campaign = state.campaign()
    assert campaign is not None
    totals = state.totals()
    done = totals.get(BatchState.DONE, (0, 0, 0, 0))
    unknown = totals.get(BatchState.UNKNOWN, (0, 0, 0, 0))
    pending = [totals.get(s, (0, 0, 0, 0)) for s in (BatchState.PLANNED, BatchState.IN_FLIGHT)]
    reasons: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    request_ids: list[str] = []
    invalid = 0
    for row in state.iter_done(with_tokens=False):
        request_ids.append(row["request_id"] or "")
        codes[row["code"] or ""] += 1
        if row["failures"]:
            for reason in orjson.loads(row["failures"]).values():
                reasons[reason] += 1
                invalid += reason in DROP_TOKEN_REASONS
    pending_tokens = sum(item[1] for item in pending)
    return {
        "complete": pending_tokens == 0 and unknown[1] == 0,
        "pushType": campaign["push_type"],
        "source": campaign["source_name"],
        "input": {
            "lines": campaign["lines"],
            "blankLines": campaign["blank_lines"],
            "headerLines": campaign["header_lines"],
            "rejectedLines": campaign["rejected_lines"],
            "duplicateTokens": campaign["duplicate_tokens"],
            "tokens": campaign["tokens"],
        },
        "outcomes": {
            "accepted": done[2],
            "failed": done[3],
            "unknown": unknown[1],
            "notSent": pending_tokens,
        },
        "failuresByReason": dict(sorted(reasons.items())),
        "invalidTokens": invalid,
        "requests": {
            "total": campaign["batches"],
            "answered": done[0],
            "unknown": unknown[0],
            "notSent": sum(item[0] for item in pending),
            "byCode": dict(sorted(codes.items())),
        },
        "requestIds": request_ids,
        "durations": {
            "planningSeconds": round(float(campaign["planning_seconds"]), 3),
            "sendingSeconds": round(float(campaign["sending_seconds"]), 3),
            "createdAtMs": campaign["created_at_ms"],
            "finishedAtMs": campaign["finished_at_ms"],
            "runs": campaign["runs"],
        },
        "flowControlResponses": campaign["flow_control_responses"],
        "lostAnswers": {
            "settledFromServerRecord": campaign["lost_answers_recorded"],
            "sentAgain": campaign["lost_answers_resent"],
            "reportedUnknown": campaign["lost_answers_unknown"],
        },
        **extra,
    }


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write `summary.json` atomically (a reader never sees half of it)."""
    path = out_dir / SUMMARY_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(temporary, path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1  # missing: shorter than any recorded length, so it is rebuilt


def _truncate(path: Path, length: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(length)
