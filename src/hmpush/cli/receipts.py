"""`hmpush receipts`: run the receipt receiver, summarise stored receipts, list dead tokens."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from hmpush.cli._common import EXIT_REJECTED, EXIT_USAGE, console, err_console
from hmpush.codes import ReceiptResult
from hmpush.receipts import (
    DEFAULT_WINDOW_MS,
    CallbackSecretError,
    ReceiptStore,
    ReceiptStoreError,
    SecretFormat,
    callback_key,
    tokens_to_delete,
)
from hmpush.receipts import _serve as serve_config

receipts_app = typer.Typer(
    help="Receive Huawei's delivery receipts and act on them.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `hmpush receipts serve | summary | dead-tokens` to the `hmpush` app."""
    app.add_typer(receipts_app, name="receipts")


@receipts_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8090,
    db: Annotated[Path, typer.Option(help="SQLite file receipts are stored in.")] = Path(
        "receipts.db"
    ),
    path: Annotated[str, typer.Option(help="URL path of the callback.")] = "/",
    user_name: Annotated[
        str | None, typer.Option(help="Callback user name configured in AppGallery Connect.")
    ] = None,
    secret_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the callback secret.")
    ] = None,
    secret_file: Annotated[
        Path | None, typer.Option(help="File holding the callback secret.")
    ] = None,
    secret_format: Annotated[
        str, typer.Option(help="'base64' (newer configs) or 'utf8' (older configs).")
    ] = "base64",
    window_seconds: Annotated[
        int, typer.Option(min=1, help="Accepted clock difference of signed callbacks.")
    ] = DEFAULT_WINDOW_MS // 1000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 1,
    ssl_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain: serve HTTPS (Huawei requires it).")
    ] = None,
    ssl_key: Annotated[Path | None, typer.Option(help="PEM private key of --ssl-cert.")] = None,
) -> None:
    """Receive receipt callbacks over HTTP (Granian), verify them and store them in --db."""
    checked_format = _check_secret(user_name, secret_env, secret_file, secret_format)
    _check_locations(db, path, ssl_cert, ssl_key)
    _check_address(host, port)
    _export_config(db, path, user_name, secret_env, secret_file, checked_format, window_seconds)
    signing = f"signed by user {user_name!r}" if user_name else "unsigned (no secret configured)"
    scheme = "https" if ssl_cert else "http"
    err_console.print(
        f"receiving receipts at {scheme}://{host}:{port}{path} ({signing}), storing in {db}",
        markup=False,
        soft_wrap=True,
    )
    _run_granian(host, port, workers, ssl_cert, ssl_key)


def _check_secret(
    user_name: str | None, secret_env: str | None, secret_file: Path | None, secret_format: str
) -> SecretFormat:
    """Load and check the secret now, so a bad one is a usage error rather than a dead server."""
    try:
        secret = serve_config.read_secret(secret_env=secret_env, secret_file=secret_file)
        checked_format = serve_config.secret_format_from(secret_format)
        if (user_name is None) != (secret is None):
            _usage_error("give --user-name together with --secret-env or --secret-file")
        if secret is not None:
            callback_key(secret, checked_format)
    except CallbackSecretError as error:
        _usage_error(str(error))
    return checked_format


def _check_locations(db: Path, path: str, ssl_cert: Path | None, ssl_key: Path | None) -> None:
    if not db.parent.is_dir():
        _usage_error(f"the folder of --db {db} does not exist")
    if not path.startswith("/"):
        _usage_error(f"--path must start with '/', not {path!r}")
    if (ssl_cert is None) != (ssl_key is None):
        _usage_error("give --ssl-cert and --ssl-key together")
    for pem in (ssl_cert, ssl_key):
        if pem is not None and not pem.is_file():
            _usage_error(f"no file {pem}")


def _check_address(host: str, port: int) -> None:
    # Granian reports a taken port with a native panic trace; say it in one line instead.
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        err_console.print(f"error: cannot listen on {host}:{port}: {error.strerror}", markup=False)
        raise typer.Exit(EXIT_REJECTED) from None


@receipts_app.command()
def summary(
    db: Annotated[Path, typer.Option(help="SQLite file written by `hmpush receipts serve`.")],
    request_id: Annotated[str | None, typer.Option(help="Only this requestId.")] = None,
    bi_tag: Annotated[str | None, typer.Option(help="Only this biTag.")] = None,
) -> None:
    """Count stored receipts by requestId, biTag and result."""
    with _open_store(db) as store:
        rows = store.summary(request_id=request_id, bi_tag=bi_tag)
    if not rows:
        console.print("no receipts match", markup=False)
        return
    table = Table("requestId", "biTag")
    table.add_column("result", justify="right")
    table.add_column("meaning")
    table.add_column("count", justify="right")
    for row in rows:
        table.add_row(
            row.request_id, row.bi_tag, str(row.result), _meaning(row.result), str(row.count)
        )
    console.print(table)


@receipts_app.command("dead-tokens")
def dead_tokens(
    db: Annotated[Path, typer.Option(help="SQLite file written by `hmpush receipts serve`.")],
) -> None:
    """Print, one per line, the tokens whose latest receipt says 2, 5, 6 or 10 (drop them)."""
    with _open_store(db) as store:
        tokens = tokens_to_delete(store)
    sys.stdout.writelines(f"{token}\n" for token in tokens)


def _open_store(db: Path) -> ReceiptStore:
    if not db.is_file():
        err_console.print(f"error: no receipt store at {db}", markup=False)
        raise typer.Exit(EXIT_REJECTED)
    try:
        return ReceiptStore(db)
    except ReceiptStoreError as error:
        err_console.print(f"error: {error}", markup=False)
        raise typer.Exit(EXIT_REJECTED) from None


def _meaning(result: int) -> str:
    try:
        return ReceiptResult(result).name.lower().replace("_", " ")
    except ValueError:
        return "unknown"


def _usage_error(message: str) -> NoReturn:
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(EXIT_USAGE)


def _export_config(
    db: Path,
    path: str,
    user_name: str | None,
    secret_env: str | None,
    secret_file: Path | None,
    secret_format: str,
    window_seconds: int,
) -> None:
    # Workers are separate processes: they rebuild the app from these variables. The secret is
    # passed by reference (variable name or file path), never copied.
    variables = {
        serve_config.DB_VAR: str(db.resolve()),
        serve_config.PATH_VAR: path,
        serve_config.USER_NAME_VAR: user_name or "",
        serve_config.SECRET_ENV_VAR: secret_env or "",
        serve_config.SECRET_FILE_VAR: str(secret_file.resolve()) if secret_file else "",
        serve_config.SECRET_FORMAT_VAR: secret_format,
        serve_config.WINDOW_MS_VAR: str(window_seconds * 1000),
    }
    os.environ.update(variables)


def _run_granian(
    host: str, port: int, workers: int, ssl_cert: Path | None, ssl_key: Path | None
) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    server = Granian(
        "hmpush.receipts._serve:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        ssl_cert=ssl_cert,
        ssl_key=ssl_key,
    )
    server.serve()
