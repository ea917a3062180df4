"""`hmpush distributed enqueue | worker | status`: campaigns sent by Celery workers.

The producer plans the token list into a work directory and queues one task per batch; workers
on any number of machines send them under one shared rate limit; `status` counts the outcomes
and, given the work directory, writes the same result files as `hmpush campaign`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from hmpush.cli._common import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REJECTED,
    EXIT_TRANSPORT,
    EXIT_USAGE,
    console,
    err_console,
)
from hmpush.cli.campaign import load_message
from hmpush.client import DEFAULT_ENDPOINT
from hmpush.errors import HmpushError

distributed_app = typer.Typer(
    name="distributed",
    help="Campaigns sent by Celery workers (Redis broker) under one shared rate limit.",
    no_args_is_help=True,
)

BrokerOption = Annotated[
    str, typer.Option("--broker", help="Celery broker URL, e.g. redis://127.0.0.1:6379/0.")
]
StateOption = Annotated[
    str | None,
    typer.Option("--state", help="Redis URL for batch outcomes and the rate (default: --broker)."),
]


def register(app: typer.Typer) -> None:
    """Add `hmpush distributed` to the `hmpush` app."""
    app.add_typer(distributed_app)


@distributed_app.command("enqueue", no_args_is_help=True)
def enqueue(
    broker: BrokerOption,
    message: Annotated[
        Path,
        typer.Option("--message", help="JSON file: {pushType?, payload, pushOptions?}."),
    ],
    tokens: Annotated[str, typer.Option("--tokens", help="Token list: text or CSV; '-' = stdin.")],
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Tokens per second, all workers together.")
    ],
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id (letters, digits).")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Key file path, as the workers can read it (never queued)."),
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Or: environment variable on the workers holding the key."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Work directory for the plan and results (default: ./ID)."),
    ] = None,
    endpoint: Annotated[str, typer.Option(help="Push server base URL.")] = DEFAULT_ENDPOINT,
    push_type: Annotated[
        int | None, typer.Option("--push-type", help="Push-type, when the file does not say.")
    ] = None,
    token_format: Annotated[str, typer.Option("--format", help="auto, text or csv.")] = "auto",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Tokens per request (max 1000).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds workers wait for each answer.")] = 30.0,
    state: StateOption = None,
) -> None:
    """Plan a token list and queue one send task per batch (≤ 1000 tokens)."""
    from hmpush.distributed import enqueue_campaign, make_celery_app

    _load_unreachable()

    if (key is None) == (key_env is None):
        _fail("give exactly one of --key FILE or --key-env NAME", EXIT_USAGE)
    if token_format not in ("auto", "text", "csv"):
        _fail("--format must be auto, text or csv", EXIT_USAGE)
    try:
        prepared = load_message(message, push_type)
    except HmpushError as error:
        _fail(f"--message {message}: {error}", EXIT_REJECTED)
    source: Any = sys.stdin.buffer if tokens == "-" else Path(tokens)
    app = make_celery_app(broker, state_url=state)
    try:
        report = enqueue_campaign(
            app,
            prepared,
            source,
            out if out is not None else Path(campaign),
            campaign_id=campaign,
            endpoint=endpoint,
            key_file=key,
            key_env=key_env,
            rate=rate,
            batch_size=batch_size,
            timeout=timeout,
            input_format=token_format,  # type: ignore[arg-type]
        )
    except ValueError as error:
        _fail(str(error), EXIT_USAGE)
    except HmpushError as error:
        _fail(str(error), EXIT_REJECTED)
    except _UNREACHABLE as error:
        _fail(f"cannot reach the broker or Redis: {error}", EXIT_TRANSPORT)
    console.print(report.plan.describe(), markup=False, soft_wrap=True)
    settled = report.batches_already_settled
    console.print(
        f"campaign {campaign}: {report.tasks_sent:,} tasks queued"
        + (f", {settled:,} batches already settled" if settled else ""),
        markup=False,
        soft_wrap=True,
    )


@distributed_app.command("worker", no_args_is_help=True)
def worker(
    broker: BrokerOption,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Batches sent at once by this worker.")
    ] = 4,
    pool: Annotated[
        str, typer.Option("--pool", help="Celery pool: prefork (processes) or threads.")
    ] = "prefork",
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level.")] = "INFO",
    state: StateOption = None,
) -> None:
    """Run a Celery worker that sends queued batches (credentials from --key / --key-env)."""
    from hmpush.distributed import make_celery_app

    if pool not in ("prefork", "threads", "solo"):
        _fail("--pool must be prefork, threads or solo", EXIT_USAGE)
    app = make_celery_app(broker, state_url=state)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@distributed_app.command("status", no_args_is_help=True)
def status(
    broker: BrokerOption,
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The enqueue work directory: write the result files there."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    state: StateOption = None,
) -> None:
    """Count a campaign's outcomes; with --out, write outcomes and invalid tokens there."""
    from hmpush.distributed import collect_results

    _load_unreachable()

    try:
        summary = collect_results(state or broker, campaign, out)
    except ValueError as error:
        _fail(str(error), EXIT_USAGE)
    except HmpushError as error:
        _fail(str(error), EXIT_REJECTED)
    except _UNREACHABLE as error:
        _fail(f"cannot reach Redis: {error}", EXIT_TRANSPORT)
    if as_json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_summary(summary, out)
    outcomes = summary["outcomes"]
    if summary["complete"] and outcomes["accepted"] == summary["tokens"]:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_PARTIAL)


def _print_summary(summary: dict[str, Any], out: Path | None) -> None:
    outcomes = summary["outcomes"]
    state = "complete" if summary["complete"] else "in progress"
    console.print(
        f"campaign {summary['campaign']} ({state}): accepted {outcomes['accepted']:,}  "
        f"failed {outcomes['failed']:,}  unknown {outcomes['unknown']:,}  "
        f"in flight {outcomes['inFlight']:,}  refused {outcomes['refused']:,}  "
        f"not sent {outcomes['notSent']:,}  ({len(summary['requestIds']):,} requests)",
        markup=False,
        soft_wrap=True,
    )
    for reason, count in summary["failuresByReason"].items():
        console.print(f"  {reason}: {count:,}", markup=False, soft_wrap=True)
    for code, count in summary["refusedByCode"].items():
        console.print(f"  refused {code}: {count:,} requests", markup=False, soft_wrap=True)
    if out is not None:
        console.print(f"results in {out}", markup=False, soft_wrap=True)


# Errors meaning the broker or Redis cannot be reached (filled when Celery is first needed, so
# that `hmpush` itself starts without importing it).
_UNREACHABLE: tuple[type[BaseException], ...] = (OSError,)


def _load_unreachable() -> None:
    global _UNREACHABLE
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    _UNREACHABLE = (OSError, RedisError, OperationalError)


def _fail(text: str, status_code: int) -> NoReturn:
    err_console.print(f"error: {text}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(status_code)
