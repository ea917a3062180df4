"""`hmpush emulator`: serve the local Push server; `hmpush emulator devices`: register devices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hmpush.cli._common import EXIT_REJECTED, EXIT_TRANSPORT, console, err_console

if TYPE_CHECKING:
    from hmpush.emulator import EmulatorConfig
    from hmpush.emulator.serve import DataDirDefaults

DEFAULT_PORT = 8800
DEFAULT_DATA_DIR = Path(".hmpush-emulator")

emulator_app = typer.Typer(
    help="The local Push server: Huawei's v3 send API with virtual devices.",
    no_args_is_help=False,
)


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def _complain(text: str) -> None:
    err_console.print(text, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `hmpush emulator` and its sub-commands."""
    app.add_typer(emulator_app, name="emulator")


@emulator_app.callback(invoke_without_command=True)
def serve_command(
    context: typer.Context,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (the admin API has no login: keep it local)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = DEFAULT_PORT,
    data: Annotated[
        Path, typer.Option("--data", help="Data directory (SQLite file, default key file).")
    ] = DEFAULT_DATA_DIR,
    rate_limit: Annotated[
        float | None,
        typer.Option(help="Per-project flow control in push tokens per second (HTTP 503)."),
    ] = None,
    test_requests_per_day: Annotated[
        int,
        typer.Option(min=1, help="Test messages per project per day before receipts say 256."),
    ] = 1000,
    test_requests_per_minute: Annotated[
        int | None,
        typer.Option(min=1, help="Test messages per project per minute before 80300029."),
    ] = None,
) -> None:
    """Serve the local Push server (Granian) until interrupted."""
    if context.invoked_subcommand is not None:
        return
    from hmpush.emulator import EmulatorConfig
    from hmpush.emulator.serve import serve

    if rate_limit is not None and rate_limit <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--rate-limit")
    _require_free_address(host, port)
    config = EmulatorConfig(
        data_dir=data.resolve(),
        rate_limit_tokens_per_second=rate_limit,
        test_requests_per_day=test_requests_per_day,
        test_requests_per_minute=test_requests_per_minute,
    )
    defaults = _defaults_or_exit(config)
    base_url = f"http://{host}:{port}"
    state = "created" if defaults.created else "found"
    _say(f"data directory:       {config.data_dir}")
    _say(f"default project:      {defaults.project_id} ({state})")
    _say(f"default app id:       {defaults.app_id}")
    _say(f"service-account file: {defaults.service_account_path}")
    _say(f"base URL:             {base_url}")
    _say(f"send endpoint:        {base_url}/v3/{defaults.project_id}/messages:send")
    _say(f"admin API docs:       {base_url}/docs")
    serve(config, host=host, port=port)


def _defaults_or_exit(config: EmulatorConfig) -> DataDirDefaults:
    """The data directory's defaults, or one clear line when the directory is unusable."""
    import sqlite3

    from hmpush.emulator.serve import ensure_defaults

    try:
        return ensure_defaults(config)
    except (OSError, sqlite3.Error, ValueError, KeyError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        _complain(f"error: cannot use data directory {config.data_dir}: {reason}")
        raise typer.Exit(EXIT_REJECTED) from None


def _require_free_address(host: str, port: int) -> None:
    """Fail with one clear line (not the server's panic) when the address cannot be bound."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        # gaierror (an unknown host) has a negative errno that os.strerror cannot name.
        reason = error.strerror or str(error)
        _complain(f"error: cannot listen on {host}:{port}: {reason}")
        raise typer.Exit(EXIT_REJECTED) from None


@emulator_app.command("devices")
def devices_command(
    count: Annotated[int, typer.Option(min=1, help="How many devices to register.")] = 1,
    url: Annotated[
        str, typer.Option(help="Base URL of the running server.")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
    app_id: Annotated[
        int | None, typer.Option(help="App to register the devices for (default app if absent).")
    ] = None,
) -> None:
    """Register devices of the default app on a running server; prints one token per line."""
    import httpx2

    base = url.rstrip("/")
    try:
        with httpx2.Client(base_url=f"{base}/admin", timeout=30.0) as client:
            if app_id is None:
                defaults = client.get("/defaults")
                _exit_on_refusal(defaults)
                app_id = int(defaults.json()["app_id"])
            answer = client.post(f"/apps/{app_id}/devices", json={"count": count})
            _exit_on_refusal(answer)
    except httpx2.TransportError as error:
        _complain(f"error: cannot reach the local Push server at {base}: {error}")
        raise typer.Exit(EXIT_TRANSPORT) from None
    for token in answer.json()["tokens"]:
        print(token)


def _exit_on_refusal(response: object) -> None:
    import httpx2

    assert isinstance(response, httpx2.Response)
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        _complain(f"error: the server answered {response.status_code}: {detail}")
        raise typer.Exit(EXIT_REJECTED)
