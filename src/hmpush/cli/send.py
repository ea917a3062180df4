"""`hmpush send`: send one message to tokens and print each token's outcome.

Output on stdout, one line per item, columns separated by two spaces:
``requestId  <id>`` for each request, then ``accepted  <token>`` or
``refused  <token>  <reason>``. Full tokens are printed (the user acts on them); the JWT never is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, NoReturn

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
from hmpush.client import (
    DEFAULT_ENDPOINT,
    HttpRequestPreview,
    PushClient,
    SendResult,
    may_have_been_accepted,
)
from hmpush.errors import HmpushError, PushError, TransportError, ValidationError
from hmpush.messages import Category, ClickActionType, Payload, PushType, validate_request

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `hmpush send` to the `hmpush` app."""
    app.command("send", no_args_is_help=True)(send)


def send(
    key: Annotated[
        Path, typer.Option("--key", help="Service-account key file (JSON, as Huawei issues it).")
    ],
    token: Annotated[
        list[str] | None, typer.Option("--token", help="A push token (repeatable).")
    ] = None,
    tokens_file: Annotated[
        Path | None,
        typer.Option("--tokens-file", help="File with one token per line ('-' for stdin)."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Notification title (push-type 0).")] = None,
    body: Annotated[str | None, typer.Option(help="Notification text (push-type 0).")] = None,
    category: Annotated[
        str,
        typer.Option(help="Notification category; MARKETING needs no self-classification right."),
    ] = Category.MARKETING.value,
    push_type: Annotated[
        int | None,
        typer.Option("--push-type", help="Push-type of --payload: 0, 1, 2, 6, 7 or 10."),
    ] = None,
    payload: Annotated[
        Path | None,
        typer.Option(help="JSON file holding the `payload` object for --push-type."),
    ] = None,
    test: Annotated[bool, typer.Option("--test", help="Send as a test message.")] = False,
    ttl: Annotated[int | None, typer.Option(help="Offline cache time in seconds.")] = None,
    bi_tag: Annotated[
        str | None, typer.Option("--bi-tag", help="Label echoed back in receipts.")
    ] = None,
    receipt_id: Annotated[
        str | None, typer.Option("--receipt-id", help="Receipt configuration ID.")
    ] = None,
    endpoint: Annotated[
        str, typer.Option(help="Push server base URL (the local server's in development).")
    ] = DEFAULT_ENDPOINT,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 10.0,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the exact requests (JWT redacted); send nothing."),
    ] = False,
) -> None:
    """Send a notification (--title/--body) or any push-type (--push-type/--payload) to tokens."""
    kind, payload_json = _payload_from_flags(title, body, category, push_type, payload)
    tokens = list(_tokens_from(token or [], tokens_file))
    if not tokens:
        _usage_error("no tokens: give --token, --tokens-file, or tokens on stdin")
    try:
        message = _checked_payload(kind, payload_json, tokens[0])
        with PushClient(key, endpoint=endpoint, timeout=timeout) as client:
            options: dict[str, Any] = {
                "test_message": test,
                "ttl": ttl,
                "bi_tag": bi_tag,
                "receipt_id": receipt_id,
            }
            if dry_run:
                _print_previews(client.dry_run(message, tokens, **options))
                raise typer.Exit(EXIT_OK)
            result = client.send(message, tokens, **options)
    except TransportError as error:
        err_console.print(f"error: {_describe_refusal(error)}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_TRANSPORT) from None
    except PushError as error:
        err_console.print(f"error: {_describe_refusal(error)}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED) from None
    except HmpushError as error:
        err_console.print(f"error: {error}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED) from None
    raise typer.Exit(_print_result(result))


def _payload_from_flags(
    title: str | None,
    body: str | None,
    category: str,
    push_type: int | None,
    payload_file: Path | None,
) -> tuple[int, Any]:
    notification_flags = title is not None or body is not None
    if notification_flags and (push_type is not None or payload_file is not None):
        _usage_error("give either --title/--body or --push-type/--payload, not both")
    if notification_flags:
        if title is None or body is None:
            _usage_error("a notification needs both --title and --body")
        notification = {
            "category": category,
            "title": title,
            "body": body,
            "clickAction": {"actionType": int(ClickActionType.OPEN_APP)},
        }
        return int(PushType.NOTIFICATION), {"notification": notification}
    if push_type is None or payload_file is None:
        _usage_error("give --title and --body, or --push-type with --payload FILE")
    try:
        return push_type, orjson.loads(payload_file.read_bytes())
    except OSError as error:
        _usage_error(f"cannot read --payload {payload_file}: {error.strerror or error}")
    except orjson.JSONDecodeError as error:
        _usage_error(f"--payload {payload_file} is not JSON: {error}")


def _checked_payload(push_type: int, payload_json: Any, sample_token: str) -> Payload:
    """The payload model, validated by the same rules as the server (one token stands in)."""
    request = {"payload": payload_json, "target": {"token": [sample_token]}}
    return validate_request(push_type, request).payload


def _tokens_from(given: Iterable[str], tokens_file: Path | None) -> Iterator[str]:
    yield from (token.strip() for token in given if token.strip())
    if tokens_file is not None:
        if str(tokens_file) == "-":
            yield from _lines(sys.stdin.buffer, "stdin")
            return
        try:
            with tokens_file.open("rb") as stream:
                yield from _lines(stream, f"--tokens-file {tokens_file}")
        except OSError as error:
            _usage_error(f"cannot read --tokens-file {tokens_file}: {error.strerror or error}")
    elif not given and not sys.stdin.isatty():
        yield from _lines(sys.stdin.buffer, "stdin")


def _lines(stream: BinaryIO, source: str) -> Iterator[str]:
    for number, raw in enumerate(stream, 1):
        try:
            token = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            _usage_error(f"{source}: line {number} is not UTF-8 text (tokens are ASCII)")
        if token and not token.startswith("#"):
            yield token


def _print_previews(previews: list[HttpRequestPreview]) -> None:
    for index, preview in enumerate(previews):
        if index:
            console.print()
        lines = [f"{preview.method} {preview.url}"]
        lines += [f"{name}: {value}" for name, value in preview.headers.items()]
        lines += ["", preview.body.decode("utf-8")]
        console.print("\n".join(lines), markup=False, soft_wrap=True)


def _print_result(result: SendResult) -> int:
    for request_id in result.request_ids:
        console.print(f"requestId  {request_id}", markup=False)
    for outcome in result:
        if outcome.accepted:
            console.print(f"accepted  {outcome.token}", markup=False, soft_wrap=True)
        else:
            line = f"refused  {outcome.token}  {outcome.reason}"
            console.print(line, markup=False, soft_wrap=True)
    for error in result.errors:
        err_console.print(f"error: {_describe_refusal(error)}", markup=False, soft_wrap=True)
    accepted = result.accepted_count
    refused = len(result) - accepted
    repeated = (
        f" ({result.repeated_tokens} repeated tokens sent once)" if result.repeated_tokens else ""
    )
    err_console.print(
        f"{accepted} accepted, {refused} refused{repeated}", markup=False, soft_wrap=True
    )
    if refused == 0:
        return EXIT_OK
    return EXIT_PARTIAL if accepted else EXIT_REJECTED


def _describe_refusal(error: HmpushError) -> str:
    if may_have_been_accepted(error):
        return f"{error}; no answer came, so the server may have accepted it (not sent again)"
    if not isinstance(error, PushError) or isinstance(error, ValidationError):
        return str(error)
    details = [f"HTTP {error.http_status}"] if error.http_status else []
    if error.request_id:
        details.append(f"requestId {error.request_id}")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"{error.code} {error.message}{suffix}"


def _usage_error(message: str) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)
