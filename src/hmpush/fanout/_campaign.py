"""`Campaign`: one message to a token list of any size, at a global rate, resumable after a crash.

How a campaign runs (state in `<out>/campaign.sqlite` and `<out>/tokens.spool`, see `_state`):

1. **Plan** (nothing is sent yet): the token list is read once into batches of at most
   `max_tokens_per_request` tokens; blank lines, repeated tokens and lines that cannot be tokens
   are counted and reported before the first request. An interrupted plan is redone.
2. **Send**: for each PLANNED batch, in order: wait for the rate limiter, commit IN_FLIGHT,
   send, then append the batch's outcome lines to the result files and commit DONE with the
   outcome and the files' new lengths in one transaction. A refusal of the whole request
   (503, 5xx, connection refused, auth, ...) means the server accepted nothing: the batch goes
   back to PLANNED (and is retried, or the campaign stops with the error).
3. **Settle lost answers**: a batch still IN_FLIGHT at the start of a run (the process was killed
   while it was on the wire) or whose answer never came (read timeout, dropped connection) has
   an outcome only the server knows.

The guarantee, after `kill -9` at any moment, when the same command is run again:

- no token is lost: every token of the list ends in exactly one of accepted, failed (with
  Huawei's reason) or unknown; the result files are cut back or rebuilt to match the state;
- no batch whose answer was recorded is sent again, and a batch not yet committed IN_FLIGHT
  (the commit comes just before its request is written) is sent exactly once;
- the at most `concurrency` batches that were on the wire at the crash are settled by the
  `in_flight` policy: a resolver that asks a record the server keeps (`EmulatorRequestLog` for
  the local Push server: exact, so every token is delivered exactly once), or "report" (the
  default: listed in `unknown-tokens.txt`, never sent twice, possibly not delivered), or
  "resend" (sent again: never lost, possibly delivered twice). Huawei's service offers no way
  to ask whether it accepted a request, so against it no tool can promise both at once; each
  batch carries its own `biTag` (``hmpush:<campaign>:<batch>``) so receipts can tell later.

Durability is against the process dying. The state uses SQLite WAL with synchronous=NORMAL: a
power cut (or OS crash) may lose the last commits, and a batch whose IN_FLIGHT commit was lost
looks never sent and may be sent twice; the token lists are fsynced before the plan is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import orjson

from hmpush._redact import shorten_token
from hmpush.client import AsyncPushClient, BatchResult, RetryPolicy, may_have_been_accepted
from hmpush.codes import DROP_TOKEN_REASONS
from hmpush.errors import HmpushError, PushError, QuotaError, TransportError, ValidationError
from hmpush.fanout._input import (
    InputFormat,
    RejectedLine,
    TokenInput,
    TokenInputError,
    describe_source,
)
from hmpush.fanout._plan import PlanReport, plan_campaign
from hmpush.fanout._rate import AdaptiveRateLimiter
from hmpush.fanout._resolve import (
    InFlightBatch,
    InFlightResolver,
    NotReceived,
    batch_tag,
)
from hmpush.fanout._results import (
    REJECTED_LINES_FILE,
    ResultFiles,
    build_summary,
    outcome_lines,
    write_summary,
    write_unknown_tokens,
)
from hmpush.fanout._state import (
    BatchOutcome,
    BatchState,
    CampaignState,
    now_ms,
    open_state,
    split_tokens,
)
from hmpush.messages import PreparedMessage, is_plausible_token, prepare

logger = logging.getLogger("hmpush.fanout")

InFlightPolicy = Literal["report", "resend"] | InFlightResolver
OutcomeKind = Literal["accepted", "failed", "unknown"]

LOCK_FILE = ".lock"
# Retries of one batch the campaign makes itself (the client is asked to send exactly once).
MAX_FLOW_CONTROL_RETRIES = 60
MAX_ERROR_RETRIES = 6
MAX_BACKOFF_SECONDS = 30.0
MAX_SEND_ROUNDS = 5
PLACEHOLDER_TOKEN = "AAAAAAAA"  # renders the body for the message fingerprint


class _PlanningCancelled(Exception):
    """Stops the planning thread when the campaign is cancelled."""


class CampaignError(HmpushError):
    """A campaign cannot start: its output directory is busy or holds a different campaign."""


@dataclass(frozen=True, slots=True)
class CampaignOutcome:
    """What happened to one token of a campaign."""

    token: str
    outcome: OutcomeKind
    reason: str | None
    request_id: str | None
    batch: int

    @property
    def drop_token(self) -> bool:
        """Whether the server called the token unusable (delete or re-fetch it)."""
        return self.reason in DROP_TOKEN_REASONS

    def __repr__(self) -> str:
        return (
            f"CampaignOutcome(token={shorten_token(self.token)!r}, outcome={self.outcome!r}, "
            f"reason={self.reason!r}, request_id={self.request_id!r}, batch={self.batch})"
        )


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """Counts so far (this run and earlier ones), for progress bars."""

    total: int
    accepted: int
    failed: int
    unknown: int
    rate_limit: float | None
    flow_control_responses: int

    @property
    def sent(self) -> int:
        """Tokens whose request has been answered or given up on."""
        return self.accepted + self.failed + self.unknown


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """The campaign's summary (also written to `summary.json`)."""

    out_dir: Path
    data: dict[str, Any]

    @property
    def complete(self) -> bool:
        """Whether every token has a known outcome."""
        return bool(self.data["complete"])

    @property
    def accepted(self) -> int:
        """Tokens the server accepted."""
        return int(self.data["outcomes"]["accepted"])

    @property
    def failed(self) -> int:
        """Tokens the server refused, each with a reason."""
        return int(self.data["outcomes"]["failed"])

    @property
    def unknown(self) -> int:
        """Tokens whose request's outcome could not be learned."""
        return int(self.data["outcomes"]["unknown"])

    @property
    def not_sent(self) -> int:
        """Tokens not sent yet (the campaign stopped early)."""
        return int(self.data["outcomes"]["notSent"])


class _TaggedMessage:
    """A prepared message whose every request carries its batch's `biTag`."""

    def __init__(self, tagged: PreparedMessage, placeholder: bytes, tag: bytes) -> None:
        self._tagged = tagged
        self._placeholder = placeholder
        self._tag = tag

    def body_for(self, tokens: list[str]) -> bytes:
        """The body of the tagged message with this batch's tag in place of the placeholder."""
        return self._tagged.body_for(tokens).replace(self._placeholder, self._tag, 1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tagged, name)


class Campaign:
    """Send one prepared message to every token of a list, resumably; see the module docstring.

    ```python
    async with AsyncPushClient(key) as client:  # its retry policy does not apply here
        campaign = Campaign(client, prepare(payload), "tokens.txt", "out/", rate=50_000)
        summary = await campaign.run()            # or: async for outcome in campaign.outcomes()
    ```

    Running it again with the same message and output directory resumes it.
    """

    def __init__(
        self,
        client: AsyncPushClient,
        message: PreparedMessage,
        tokens: TokenInput,
        out_dir: str | os.PathLike[str],
        *,
        rate: float | None = None,
        concurrency: int = 8,
        input_format: InputFormat = "auto",
        strict: bool = False,
        in_flight: InFlightPolicy = "report",
        tag_batches: bool = True,
        on_plan: Callable[[PlanReport], None] | None = None,
        on_progress: Callable[[CampaignProgress], None] | None = None,
        on_outcome: Callable[[CampaignOutcome], None] | None = None,
        on_invalid_token: Callable[[CampaignOutcome], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if isinstance(in_flight, str) and in_flight not in ("report", "resend"):
            raise ValueError(f"in_flight must be 'report', 'resend' or a resolver: {in_flight!r}")
        self.client = client
        self.message = message
        self.tokens = tokens
        self.out_dir = Path(out_dir)
        self.concurrency = concurrency
        self.input_format: InputFormat = input_format
        self.strict = strict
        self.in_flight = in_flight
        self.tag_batches = tag_batches and message.push_options.bi_tag is None
        self.on_plan = on_plan
        self.on_progress = on_progress
        self.on_outcome = on_outcome
        self.on_invalid_token = on_invalid_token
        self.limiter = AdaptiveRateLimiter(rate)
        self.summary: CampaignSummary | None = None
        self._state: CampaignState | None = None
        self._files = ResultFiles(self.out_dir)
        self._lock: BinaryIO | None = None
        self._campaign_id = ""
        self._tagged: PreparedMessage | None = None
        self._placeholder = b""
        self._queue: deque[int] = deque()
        self._cursor = -1
        self._exhausted = False
        self._stop_error: BaseException | None = None
        self._counts = {"total": 0, "accepted": 0, "failed": 0, "unknown": 0}
        self._flow_control = 0
        self._outcome_queue: asyncio.Queue[list[CampaignOutcome] | None] | None = None

    @staticmethod
    def client_retry_policy() -> RetryPolicy:
        """The retry policy a campaign sends with, whatever its client's own policy is: one
        attempt per call, never resending a request that may have been accepted; the campaign
        retries refused batches itself (after 503s at its adaptive rate)."""
        return _CAMPAIGN_RETRY

    # --- public entry points ----------------------------------------------------------------

    async def run(self) -> CampaignSummary:
        """Plan (or resume), send every batch, settle lost answers, write the summary."""
        self._open()
        try:
            report = await self._plan_or_resume()
            if self.on_plan is not None:
                self.on_plan(report)
            return await self._send_all()
        finally:
            self._close()

    async def outcomes(self) -> AsyncIterator[CampaignOutcome]:
        """Run the campaign, yielding each token's outcome as it is recorded."""
        queue: asyncio.Queue[list[CampaignOutcome] | None] = asyncio.Queue(maxsize=64)
        self._outcome_queue = queue
        runner = asyncio.create_task(self._run_then_close(queue))
        try:
            while (batch := await queue.get()) is not None:
                for outcome in batch:
                    yield outcome
            await runner
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
            self._outcome_queue = None

    async def _run_then_close(self, queue: asyncio.Queue[list[CampaignOutcome] | None]) -> None:
        try:
            await self.run()
        finally:
            await queue.put(None)

    # --- opening, planning, resuming -------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock = open(self.out_dir / LOCK_FILE, "wb")  # noqa: SIM115 - held while running
        except OSError as error:
            raise CampaignError(f"cannot use {self.out_dir}: {error.strerror}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise CampaignError(
                f"another hmpush campaign is running in {self.out_dir}; wait for it or use "
                "another output directory"
            ) from None
        self._lock = lock
        self._state = open_state(self.out_dir)

    def _close(self) -> None:
        self._files.close()
        if self._state is not None:
            self._state.close()
            self._state = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def state(self) -> CampaignState:
        """The open state (only while running)."""
        assert self._state is not None, "the campaign is not running"
        return self._state

    def _fingerprint(self) -> str:
        body = self.message.body_for([PLACEHOLDER_TOKEN])
        return hashlib.sha256(b"%d\n" % int(self.message.push_type) + body).hexdigest()

    async def _plan_or_resume(self) -> PlanReport:
        fingerprint = self._fingerprint()
        campaign = self.state.campaign()
        try:
            name, size = describe_source(self.tokens)
        except TokenInputError:
            if campaign is None or not campaign["planned"]:
                raise
            name, size = str(campaign["source_name"]), None  # planned: the list is not needed
        if campaign is not None and campaign["fingerprint"] != fingerprint:
            raise CampaignError(
                f"{self.out_dir} holds a campaign with a different message (or push-type); "
                "use another output directory for a new campaign"
            )
        if campaign is not None and campaign["planned"]:
            recorded = campaign["source_size"]
            if size is not None and recorded is not None and size != recorded:
                raise CampaignError(
                    f"the token list {name} changed since this campaign was planned "
                    f"({recorded:,} bytes then, {size:,} now); use another output directory"
                )
            self._campaign_id = str(campaign["campaign_id"])
            self._prepare_tags()
            return self._stored_report(campaign)
        if campaign is None:
            self.state.create_campaign(
                fingerprint, secrets.token_hex(6), int(self.message.push_type), name, size
            )
            campaign = self.state.campaign()
            assert campaign is not None
        self._campaign_id = str(campaign["campaign_id"])
        self._prepare_tags()
        report = await self._plan_in_thread(name)
        if report.tokens == 0:
            raise CampaignError(f"no tokens to send: {report.describe()}")
        if self.strict and report.rejected_lines:
            raise CampaignError(
                f"{report.describe()}\nnothing was sent: some lines cannot be tokens (strict)"
            )
        self.state.make_plan_durable()
        self.state.update_campaign(
            planned=True,
            source_name=name,
            source_size=size,
            lines=report.lines,
            blank_lines=report.blank_lines,
            header_lines=report.header_lines,
            rejected_lines=report.rejected_lines,
            duplicate_tokens=report.duplicate_tokens,
            tokens=report.tokens,
            batches=report.batches,
            planning_seconds=report.seconds,
            outcomes_bytes=0,
            invalid_bytes=0,
        )
        return report

    async def _plan_in_thread(self, name: str) -> PlanReport:
        """Plan off the event loop; if cancelled, stop the thread before the state is closed."""
        cancelled = threading.Event()

        def check(_tokens_so_far: int) -> None:
            if cancelled.is_set():
                raise _PlanningCancelled

        planning = asyncio.ensure_future(asyncio.to_thread(self._plan, name, check))
        try:
            return await asyncio.shield(planning)
        except asyncio.CancelledError:
            cancelled.set()
            with contextlib.suppress(_PlanningCancelled):
                await planning
            raise

    def _plan(self, name: str, check: Callable[[int], None]) -> PlanReport:
        report = plan_campaign(
            self.state,
            self.tokens,
            input_format=self.input_format,
            batch_size=self.message.max_tokens_per_request,
            is_plausible=is_plausible_token,
            out_dir=self.out_dir,
            rejected_file=REJECTED_LINES_FILE,
            on_progress=check,
        )
        report.source = name
        return report

    def _stored_report(self, campaign: dict[str, Any]) -> PlanReport:
        report = PlanReport(
            source=str(campaign["source_name"]),
            lines=int(campaign["lines"]),
            blank_lines=int(campaign["blank_lines"]),
            header_lines=int(campaign["header_lines"]),
            rejected_lines=int(campaign["rejected_lines"]),
            duplicate_tokens=int(campaign["duplicate_tokens"]),
            tokens=int(campaign["tokens"]),
            batches=int(campaign["batches"]),
            seconds=float(campaign["planning_seconds"]),
        )
        with contextlib.suppress(OSError), open(self.out_dir / REJECTED_LINES_FILE, "rb") as file:
            for line, _ in zip(file, range(5), strict=False):
                item = orjson.loads(line)
                report.first_rejected.append(RejectedLine(item["line"], item["text"], item["rule"]))
        return report

    def _prepare_tags(self) -> None:
        if not self.tag_batches:
            self._warn_untagged("the message has a biTag of its own, which is kept")
            return
        placeholder = batch_tag(self._campaign_id, 0)
        options = self.message.push_options.model_copy(update={"bi_tag": placeholder})
        try:
            self._tagged = prepare(self.message.payload, options)
        except ValidationError as error:
            # The tag's ~40 bytes can push a message near 4096 bytes over the size rule.
            logger.warning("batches sent without their own biTag: %s", error)
            self._warn_untagged("the tag would break the size rule")
            return
        self._placeholder = orjson.dumps(placeholder)

    def _warn_untagged(self, why: str) -> None:
        if not isinstance(self.in_flight, str):
            logger.warning(
                "batches carry no biTag of their own (%s), so the in-flight resolver cannot "
                "find them: a batch whose answer is lost will be reported unknown",
                why,
            )

    def _message_for(self, batch_id: int) -> PreparedMessage:
        if self._tagged is None:
            return self.message
        tag = orjson.dumps(batch_tag(self._campaign_id, batch_id))
        return cast(PreparedMessage, _TaggedMessage(self._tagged, self._placeholder, tag))

    def _tag_of(self, batch_id: int) -> str | None:
        return batch_tag(self._campaign_id, batch_id) if self._tagged is not None else None

    # --- sending ---------------------------------------------------------------------------

    async def _send_all(self) -> CampaignSummary:
        self._files.reconcile(self.state)
        self._load_counts()
        started = time.perf_counter()
        self.state.add_to_campaign(runs=1)
        try:
            self._report_progress()
            await self._settle(include_unknown=self.in_flight != "report")
            for _round in range(MAX_SEND_ROUNDS):
                await self._send_round()
                settled_back = await self._settle(include_unknown=False)
                if self._stop_error is not None or not settled_back:
                    break
        finally:
            self.state.add_to_campaign(
                sending_seconds=time.perf_counter() - started,
                flow_control_responses=self._flow_control,
            )
            self._flow_control = 0
            self.summary = self._finish()
        if self._stop_error is not None:
            raise self._stop_error
        return self.summary

    def _finish(self) -> CampaignSummary:
        self._files.close()
        totals = self.state.totals()
        if BatchState.PLANNED not in totals and BatchState.IN_FLIGHT not in totals:
            self.state.update_campaign(finished_at_ms=now_ms())
        write_unknown_tokens(self.out_dir, self.state)
        extra = {
            "rate": {
                "configuredTokensPerSecond": self.limiter.target,
                "lowestTokensPerSecond": self.limiter.lowest,
            },
            "stoppedBy": str(self._stop_error) if self._stop_error is not None else None,
        }
        data = build_summary(self.state, extra)
        write_summary(self.out_dir, data)
        return CampaignSummary(self.out_dir, data)

    def _load_counts(self) -> None:
        totals = self.state.totals()
        done = totals.get(BatchState.DONE, (0, 0, 0, 0))
        self._counts = {
            "total": sum(item[1] for item in totals.values()),
            "accepted": done[2],
            "failed": done[3],
            "unknown": totals.get(BatchState.UNKNOWN, (0, 0, 0, 0))[1],
        }

    async def _send_round(self) -> None:
        self._queue.clear()
        self._cursor = -1
        self._exhausted = False
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _next_batch_id(self) -> int | None:
        if not self._queue:
            if self._exhausted:
                return None
            ids = self.state.batch_ids(BatchState.PLANNED, after=self._cursor)
            if not ids:
                self._exhausted = True
                return None
            self._queue.extend(ids)
            self._cursor = ids[-1]
        return self._queue.popleft()

    async def _worker(self) -> None:
        while self._stop_error is None:
            batch_id = self._next_batch_id()
            if batch_id is None:
                return
            await self._send_batch(batch_id, self.state.batch_tokens(batch_id))

    async def _send_batch(self, batch_id: int, tokens: list[str]) -> None:
        """Send one batch until it has an outcome, is given up on, or the campaign stops."""
        message = self._message_for(batch_id)
        attempt = 0
        while self._stop_error is None:
            await self.limiter.acquire(len(tokens))
            if self._stop_error is not None:
                return
            self.state.mark_in_flight(batch_id)
            started = time.perf_counter()
            try:
                result = await self.client.send_prepared(message, tokens, retry=_CAMPAIGN_RETRY)
            except (PushError, TransportError) as error:
                attempt += 1
                retry_in = self._after_refusal(batch_id, error, attempt)
                if retry_in is None:
                    return
                if retry_in > 0:
                    await asyncio.sleep(retry_in)
                continue
            duration_ms = int((time.perf_counter() - started) * 1000)
            await self._record(batch_id, tokens, result, duration_ms)
            self.limiter.on_accepted()
            return

    def _after_refusal(self, batch_id: int, error: HmpushError, attempt: int) -> float | None:
        """Settle the batch after an error; seconds to wait before retrying it, or None."""
        if _is_flow_control(error):
            assert isinstance(error, QuotaError)
            self._flow_control += 1
            self.limiter.on_flow_control(error.retry_after)
            self.state.set_state([batch_id], BatchState.PLANNED)
            if attempt >= MAX_FLOW_CONTROL_RETRIES:
                self._stop(error)
                return None
            return 0.0
        if may_have_been_accepted(error):
            # No answer read (dropped, timed out, or an unreadable 2xx): only the server knows.
            logger.warning("batch %d: no answer, outcome unknown: %s", batch_id, error)
            return None  # stays IN_FLIGHT; settled after this round
        # Refused as a whole or never delivered to the server: nothing was accepted.
        self.state.set_state([batch_id], BatchState.PLANNED)
        if not _CAMPAIGN_RETRY.allows_retry(error) or attempt >= MAX_ERROR_RETRIES:
            self._stop(error)
            return None
        return min(MAX_BACKOFF_SECONDS, 0.5 * 2.0 ** (attempt - 1))

    def _stop(self, error: BaseException) -> None:
        if self._stop_error is None:
            logger.error("campaign stopped: %s", error)
            self._stop_error = error

    async def _record(
        self, batch_id: int, tokens: list[str], result: BatchResult, duration_ms: int | None
    ) -> None:
        failures = result.failures
        request_id = result.request_id
        lines, invalid = outcome_lines(batch_id, tokens, request_id, failures)
        sizes = self._files.append(lines, invalid)
        failed = sum(1 for token in tokens if token in failures) if failures else 0
        outcome = BatchOutcome(
            request_id=request_id,
            code=result.code,
            accepted=len(tokens) - failed,
            failures=orjson.dumps(failures) if failures else None,
            failed=failed,
            duration_ms=duration_ms if duration_ms is not None else 0,
        )
        self.state.mark_done(batch_id, outcome, *sizes)
        self._counts["accepted"] += outcome.accepted
        self._counts["failed"] += failed
        self._report_progress()
        await self._emit(batch_id, tokens, request_id, failures)

    async def _emit(
        self, batch_id: int, tokens: list[str], request_id: str | None, failures: dict[str, str]
    ) -> None:
        wanted = self.on_outcome, self.on_invalid_token, self._outcome_queue
        if wanted == (None, None, None):
            return
        outcomes = [
            CampaignOutcome(
                token,
                "accepted" if token not in failures else "failed",
                failures.get(token),
                request_id,
                batch_id,
            )
            for token in tokens
        ]
        for outcome in outcomes:
            if self.on_outcome is not None:
                self.on_outcome(outcome)
            if self.on_invalid_token is not None and outcome.drop_token:
                self.on_invalid_token(outcome)
        if self._outcome_queue is not None:
            await self._outcome_queue.put(outcomes)

    def _report_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                CampaignProgress(
                    total=self._counts["total"],
                    accepted=self._counts["accepted"],
                    failed=self._counts["failed"],
                    unknown=self._counts["unknown"],
                    rate_limit=self.limiter.rate,
                    flow_control_responses=self._flow_control,
                )
            )

    # --- lost answers ------------------------------------------------------------------------

    async def _settle(self, *, include_unknown: bool) -> bool:
        """Settle IN_FLIGHT (and optionally UNKNOWN) batches; True if any went back to PLANNED."""
        rows = self.state.batch_rows(BatchState.IN_FLIGHT)
        if include_unknown:
            rows += self.state.batch_rows(BatchState.UNKNOWN)
        if not rows:
            return False
        ids = [int(row["id"]) for row in rows]
        if self.in_flight == "resend":
            self.state.set_state(ids, BatchState.PLANNED)
            self.state.add_to_campaign(lost_answers_resent=len(ids))
            logger.warning("%d batches of unknown outcome will be sent again", len(ids))
            self._load_counts()
            return True
        if self.in_flight == "report":
            self._mark_unknown(ids)
            return False
        return await self._settle_with_resolver(rows)

    async def _settle_with_resolver(self, rows: list[dict[str, Any]]) -> bool:
        resolver = cast(InFlightResolver, self.in_flight)
        batches = [
            InFlightBatch(
                int(row["id"]),
                self._tag_of(int(row["id"])),
                split_tokens(row["tokens"]),
                row["sent_at_ms"],
            )
            for row in rows
        ]
        try:
            resolved = await resolver.resolve(batches)
        except HmpushError as error:
            logger.warning("cannot settle %d batches: %s", len(batches), error)
            resolved = {}
        back_to_planned: list[int] = []
        unknown: list[int] = []
        for batch in batches:
            answer = resolved.get(batch.batch_id)
            if isinstance(answer, BatchResult):
                await self._record(batch.batch_id, batch.tokens, answer, None)
            elif isinstance(answer, NotReceived):
                back_to_planned.append(batch.batch_id)
            else:
                unknown.append(batch.batch_id)
        self.state.set_state(back_to_planned, BatchState.PLANNED)
        self.state.add_to_campaign(
            lost_answers_recorded=len(batches) - len(back_to_planned) - len(unknown),
            lost_answers_resent=len(back_to_planned),
        )
        self._mark_unknown(unknown)
        self._load_counts()
        return bool(back_to_planned)

    def _mark_unknown(self, ids: list[int]) -> None:
        if ids:
            self.state.set_state(ids, BatchState.UNKNOWN)
            self.state.add_to_campaign(lost_answers_unknown=len(ids))
            logger.warning("%d batches have an unknown outcome (see unknown-tokens.txt)", len(ids))
            self._load_counts()


# One attempt per call to the client; a request that may have been accepted is never resent.
_CAMPAIGN_RETRY = RetryPolicy(max_attempts=1, retry_unanswered=False)


def _is_flow_control(error: HmpushError) -> bool:
    return isinstance(error, QuotaError) and error.http_status == 503
