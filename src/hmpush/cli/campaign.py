"""`hmpush campaign`: one message to a token list of any size, with progress and resume.

The message file holds either a request without its target,
``{"pushType": 0, "payload": {...}, "pushOptions": {...}}`` (`pushType` and `pushOptions`
optional), or the `payload` object alone; the push-type comes from `pushType` or `--push-type`.
Running the same command again after an interruption resumes the campaign in `--out`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import orjson
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hmpush.cli._common import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REJECTED,
    EXIT_TRANSPORT,
    EXIT_USAGE,
    console,
    err_console,
)
from hmpush.client import DEFAULT_ENDPOINT, AsyncPushClient
from hmpush.errors import HmpushError, TransportError
from hmpush.fanout import (
    Campaign,
    CampaignProgress,
    CampaignSummary,
    EmulatorRequestLog,
    InFlightPolicy,
    PlanReport,
)
from hmpush.messages import PreparedMessage, prepare, validate_request

__all__ = ["load_message", "register"]

MESSAGE_KEYS = frozenset({"payload", "pushOptions", "pushType"})
# Stands in for the tokens while the message is validated (the count rules need one).
SAMPLE_TOKEN = "AAAAAAAA"


def register(app: typer.Typer) -> None:
    """Add `hmpush campaign` to the `hmpush` app."""
    app.command("campaign", no_args_is_help=True)(campaign)


def campaign(
    key: Annotated[
        Path, typer.Option("--key", help="Service-account key file (JSON, as Huawei issues it).")
    ],
    message: Annotated[
        Path,
        typer.Option(
            "--message",
            help="JSON file: {pushType?, payload, pushOptions?}, or the payload alone.",
        ),
    ],
    tokens: Annotated[
        str,
        typer.Option(
            "--tokens", help="Token list: text (one a line) or CSV (`token` column); '-' = stdin."
        ),
    ],
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Tokens per second, for all requests together.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for the state and result files.")],
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Requests in flight at once.")
    ] = 8,
    endpoint: Annotated[
        str, typer.Option(help="Push server base URL (the local server's in development).")
    ] = DEFAULT_ENDPOINT,
    push_type: Annotated[
        int | None,
        typer.Option("--push-type", help="Push-type, when the message file does not say."),
    ] = None,
    token_format: Annotated[str, typer.Option("--format", help="auto, text or csv.")] = "auto",
    in_flight: Annotated[
        str,
        typer.Option(
            "--in-flight",
            help="Requests whose answer was lost (crash, timeout): 'report' them as unknown, "
            "'resend' them (may deliver twice), or ask the 'emulator' (local server only).",
        ),
    ] = "report",
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to start if any line cannot be a token.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show the progress bar.")
    ] = True,
) -> None:
    """Send one message to every token of a list: rate-limited, resumable, with result files."""
    if token_format not in ("auto", "text", "csv"):
        _usage_error("--format must be auto, text or csv")
    if in_flight not in ("report", "resend", "emulator"):
        _usage_error("--in-flight must be report, resend or emulator")
    if in_flight == "emulator" and endpoint.rstrip("/") == DEFAULT_ENDPOINT:
        _usage_error(
            "--in-flight emulator asks the local Push server's request log; Huawei's service "
            "keeps none: give the local server's --endpoint, or use report or resend"
        )
    try:
        prepared = load_message(message, push_type)
    except HmpushError as error:
        _fail(f"--message {message}: {error}", EXIT_REJECTED)
    source: Any = sys.stdin.buffer if tokens == "-" else Path(tokens)
    try:
        summary = asyncio.run(
            _run(
                key=key,
                endpoint=endpoint,
                timeout=timeout,
                prepared=prepared,
                source=source,
                out=out,
                rate=rate,
                concurrency=concurrency,
                token_format=token_format,  # type: ignore[arg-type]
                in_flight=in_flight,
                strict=strict,
                show_progress=progress,
            )
        )
    except TransportError as error:
        _fail(f"{error}\nrun the same command again to resume", EXIT_TRANSPORT)
    except HmpushError as error:
        _fail(str(error), EXIT_REJECTED)
    raise typer.Exit(_exit_status(summary))


def load_message(path: Path, push_type: int | None) -> PreparedMessage:
    """Read and validate a campaign's message file (see the module docstring for its shape)."""
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as error:
        raise HmpushError(f"cannot read the file: {error.strerror or error}") from None
    except orjson.JSONDecodeError as error:
        raise HmpushError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise HmpushError("must hold a JSON object (a request without target, or a payload)")
    file_type: Any = None
    options: Any = None
    if "payload" in document:
        if "target" in document:
            raise HmpushError("target must not be given: the tokens come from --tokens")
        unknown = sorted(set(document) - MESSAGE_KEYS)
        if unknown:
            raise HmpushError(f"unknown keys {unknown}; allowed: payload, pushOptions, pushType")
        file_type = document.get("pushType")
        options = document.get("pushOptions")
        payload = document["payload"]
    else:
        payload = document
    kind = _push_type(file_type, push_type)
    body: dict[str, Any] = {"payload": payload, "target": {"token": [SAMPLE_TOKEN]}}
    if options is not None:
        body["pushOptions"] = options
    checked = validate_request(kind, body)
    return prepare(checked.payload, checked.push_options)


def _push_type(in_file: Any, flag: int | None) -> Any:
    if in_file is not None and flag is not None and in_file != flag:
        raise HmpushError(f"pushType {in_file!r} in the file disagrees with --push-type {flag}")
    chosen = in_file if in_file is not None else flag
    if chosen is None:
        raise HmpushError("no push-type: give --push-type or pushType in the file")
    return chosen


async def _run(
    *,
    key: Path,
    endpoint: str,
    timeout: float,
    prepared: PreparedMessage,
    source: Any,
    out: Path,
    rate: float,
    concurrency: int,
    token_format: Literal["auto", "text", "csv"],
    in_flight: str,
    strict: bool,
    show_progress: bool,
) -> CampaignSummary:
    bar = _ProgressBar(show_progress)
    async with AsyncPushClient(
        key,
        endpoint=endpoint,
        timeout=timeout,
        retry=Campaign.client_retry_policy(),
        max_concurrency=concurrency,
    ) as client:
        policy: InFlightPolicy = (
            EmulatorRequestLog(endpoint, client.project_id)
            if in_flight == "emulator"
            else in_flight  # type: ignore[assignment]
        )
        runner = Campaign(
            client,
            prepared,
            source,
            out,
            rate=rate,
            concurrency=concurrency,
            input_format=token_format,
            strict=strict,
            in_flight=policy,
            on_plan=bar.planned,
            on_progress=bar.update,
        )
        try:
            summary = await runner.run()
        finally:
            bar.stop()
            if runner.summary is not None:
                _print_summary(runner.summary)
    return summary


class _Rate(ProgressColumn):
    """Tokens per second, measured."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} tokens/s" if speed else "- tokens/s")


class _ProgressBar:
    """Sent, accepted, failed, rate and ETA on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task_id: Any = None

    def planned(self, report: PlanReport) -> None:
        err_console.print(
            f"plan: {report.describe()}", markup=False, highlight=False, soft_wrap=True
        )
        if not self.enabled:
            return
        self.progress = Progress(
            TextColumn("sent"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("accepted {task.fields[accepted]:,}  failed {task.fields[failed]:,}"),
            _Rate(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console,
            refresh_per_second=4,
        )
        self.progress.start()
        self.task_id = self.progress.add_task("sent", total=report.tokens, accepted=0, failed=0)

    def update(self, progress: CampaignProgress) -> None:
        if self.progress is None:
            return
        self.progress.update(
            self.task_id,
            completed=progress.sent,
            accepted=progress.accepted,
            failed=progress.failed + progress.unknown,
        )

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _print_summary(summary: CampaignSummary) -> None:
    data = summary.data
    outcomes = data["outcomes"]
    console.print(
        f"accepted {outcomes['accepted']:,}  failed {outcomes['failed']:,}  "
        f"unknown {outcomes['unknown']:,}  not sent {outcomes['notSent']:,}  "
        f"({data['requests']['answered']:,} requests, "
        f"{data['durations']['sendingSeconds']:.1f} s sending)",
        markup=False,
        soft_wrap=True,
    )
    for reason, count in data["failuresByReason"].items():
        console.print(f"  {reason}: {count:,}", markup=False, soft_wrap=True)
    if outcomes["unknown"]:
        console.print(
            "unknown: requests whose answer was lost; their tokens are in unknown-tokens.txt "
            "(--in-flight resend sends them again, possibly twice)",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"results in {summary.out_dir}", markup=False, soft_wrap=True)


def _exit_status(summary: CampaignSummary) -> int:
    if summary.complete and summary.failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL


def _fail(text: str, status: int) -> NoReturn:
    err_console.print(f"error: {text}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(status)


def _usage_error(text: str) -> NoReturn:
    _fail(text, EXIT_USAGE)
