"""`hmpush validate`: check a request body locally with the rules the Push server applies."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from hmpush.cli._common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, err_console
from hmpush.codes import ALL_TOKENS_INVALID, MESSAGE_TOO_LONG, SUCCESS
from hmpush.errors import ValidationError
from hmpush.messages import MAX_REQUEST_BYTES, validate_request


def register(app: typer.Typer) -> None:
    """Add `hmpush validate`."""
    app.command("validate")(validate_command)


def validate_command(
    push_type: Annotated[
        str,
        typer.Option(
            "--push-type", help="The push-type header: 0, 1, 2, 6, 7 or 10.", show_default=False
        ),
    ],
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="Request body file; '-' reads stdin.")
    ] = "-",
) -> None:
    """Validate a request body ({payload, pushOptions, target}); print `<code> <message>`.

    Exit status 0 with `80000000 OK` when Huawei would accept it, 1 with the refusal otherwise.
    """
    body = _read_body(source)
    if len(body) > MAX_REQUEST_BYTES:
        # As the local server answers: the rest is not read (a device or pipe may never end).
        _finish(
            f"{MESSAGE_TOO_LONG.code} "
            f"{MESSAGE_TOO_LONG.format(f'request over {MAX_REQUEST_BYTES} bytes')}",
            EXIT_REJECTED,
        )
    try:
        checked = validate_request(push_type, body)
    except ValidationError as error:
        _finish(f"{error.code} {error.message}", EXIT_REJECTED)
    if checked.token_failure_for_all is not None:
        # The request is well-formed, but Huawei fails every token of it (spec 10.2).
        _finish(
            f"{ALL_TOKENS_INVALID.code} {ALL_TOKENS_INVALID.message} "
            f"every token fails with {checked.token_failure_for_all.value}",
            EXIT_REJECTED,
        )
    _finish(f"{SUCCESS.code} OK", EXIT_OK)


def _read_body(source: str) -> bytes:
    try:
        if source != "-":
            with Path(source).open("rb") as handle:
                return handle.read(MAX_REQUEST_BYTES + 1)
        if sys.stdin is None:  # the process was started with standard input closed
            raise OSError(errno.EBADF, "standard input is closed")
        return sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1)
    except OSError as error:
        name = "standard input" if source == "-" else source
        err_console.print(
            f"error: cannot read {name}: {error.strerror}", markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_USAGE) from None


def _finish(line: str, status: int) -> NoReturn:
    typer.echo(line)
    raise typer.Exit(status)
