"""A token list planned into batches on disk, for senders other than `Campaign` (Celery workers).

The same planning as a campaign's (`_plan`: streamed, repeats dropped, bad lines written to
`rejected-lines.jsonl`), kept in a work directory (`campaign.sqlite`, `tokens.spool`) and read
back batch by batch at constant memory. `plan.json` marks a complete plan, so a plan is reused
rather than redone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from hmpush.fanout._input import InputFormat, RejectedLine, TokenInput, describe_source
from hmpush.fanout._plan import PlanReport, plan_campaign
from hmpush.fanout._results import REJECTED_LINES_FILE, outcome_lines
from hmpush.fanout._state import CampaignState, open_state
from hmpush.messages import is_plausible_token

PLAN_FILE = "plan.json"


class PlannedTokens:
    """Batches of a planned token list, read back in order; see the module docstring."""

    def __init__(self, work_dir: Path, state: CampaignState, report: PlanReport) -> None:
        self.work_dir = work_dir
        self.report = report
        self._state = state

    @classmethod
    def plan(
        cls,
        tokens: TokenInput,
        work_dir: str | os.PathLike[str],
        *,
        batch_size: int,
        input_format: InputFormat = "auto",
    ) -> PlannedTokens:
        """Read `tokens` once into batches of at most `batch_size` in `work_dir`."""
        directory = Path(work_dir)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PLAN_FILE).unlink(missing_ok=True)
        name, _size = describe_source(tokens)
        state = open_state(directory)
        try:
            report = plan_campaign(
                state,
                tokens,
                input_format=input_format,
                batch_size=batch_size,
                is_plausible=is_plausible_token,
                out_dir=directory,
                rejected_file=REJECTED_LINES_FILE,
            )
            report.source = name
            state.make_plan_durable()
        except BaseException:
            state.close()
            raise
        record = asdict(report)
        record["first_rejected"] = [asdict(line) for line in report.first_rejected]
        (directory / PLAN_FILE).write_bytes(orjson.dumps(record))
        return cls(directory, state, report)

    @classmethod
    def open(cls, work_dir: str | os.PathLike[str]) -> PlannedTokens | None:
        """The complete plan kept in `work_dir`, or None if there is none."""
        directory = Path(work_dir)
        try:
            record: dict[str, Any] = orjson.loads((directory / PLAN_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        record["first_rejected"] = [RejectedLine(**line) for line in record["first_rejected"]]
        return cls(directory, open_state(directory), PlanReport(**record))

    def batches(self) -> Iterator[tuple[int, list[str]]]:
        """Every batch's number and tokens, in order."""
        return self._state.iter_batches()

    def close(self) -> None:
        """Release the plan's database and token spool."""
        self._state.close()

    def __enter__(self) -> PlannedTokens:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def batch_outcome_lines(
    batch: int, tokens: Sequence[str], request_id: str, failures: dict[str, str]
) -> tuple[bytes, bytes]:
    """A batch's `outcomes.jsonl` and `invalid-tokens.txt` lines, as a campaign writes them."""
    return outcome_lines(batch, tokens, request_id, failures)


__all__ = ["PLAN_FILE", "PlannedTokens", "batch_outcome_lines"]
