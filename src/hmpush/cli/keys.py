"""`hmpush keys new` (a service-account key file for the local Push server) and `hmpush jwt`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from hmpush.auth import (
    DEFAULT_ENV_VAR,
    MAX_JWT_LIFETIME,
    JwtSigner,
    ServiceAccount,
    generate_service_account,
    write_service_account,
)
from hmpush.auth._account import MAX_RSA_BITS, MIN_RSA_BITS
from hmpush.cli._common import EXIT_REJECTED, err_console
from hmpush.errors import HmpushError

keys_app = typer.Typer(
    name="keys",
    help="Service-account keys in Huawei's key-file format.",
    no_args_is_help=True,
)

_Result = TypeVar("_Result")


def register(app: typer.Typer) -> None:
    """Add `hmpush keys new` and `hmpush jwt`."""
    app.add_typer(keys_app, name="keys")
    app.command("jwt")(jwt_command)


@keys_app.command("new")
def new_key(
    project_id: Annotated[str, typer.Option("--project-id", help="The project the key is for.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write it [default: service-account-<project>.json]."),
    ] = None,
    bits: Annotated[
        int, typer.Option("--bits", min=MIN_RSA_BITS, max=MAX_RSA_BITS, help="RSA key size.")
    ] = 4096,
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Key id [default: random].")
    ] = None,
    sub_account: Annotated[
        str | None, typer.Option("--sub-account", help="Service-account id [default: random].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a new service-account key file (mode 0600) and print its path, never the key."""
    path = out if out is not None else Path(f"service-account-{project_id}.json")
    # Checked before the key is generated, which takes seconds at 4096 bits.
    if path.is_dir():
        _fail(f"{str(path)!r} is a directory; --out takes the path of the key file to write")
    if path.exists() and not force:
        _fail(f"refusing to overwrite existing file {str(path)!r}; pass --force to replace it")

    def create() -> Path:
        account = generate_service_account(
            project_id, bits=bits, key_id=key_id, sub_account=sub_account
        )
        return write_service_account(account, path, overwrite=force)

    typer.echo(str(_run(create)))


def jwt_command(
    key: Annotated[
        Path | None,
        typer.Option("--key", help=f"Service-account key file [default: ${DEFAULT_ENV_VAR}]."),
    ] = None,
    lifetime: Annotated[
        int,
        typer.Option("--lifetime", min=1, max=MAX_JWT_LIFETIME, help="Validity in seconds."),
    ] = 3600,
) -> None:
    """Print a freshly signed PS256 JWT for the key (for curl and other tools)."""

    def sign() -> str:
        account = ServiceAccount.from_file(key) if key is not None else ServiceAccount.from_env()
        return JwtSigner(account, lifetime=lifetime, refresh_margin=0).token()

    typer.echo(_run(sign))


def _run(action: Callable[[], _Result]) -> _Result:
    """Run `action`; library errors and warnings become one clear line each on stderr."""
    try:
        with _warnings_to_stderr():
            return action()
    except HmpushError as error:
        _fail(str(error))


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                err_console.print(
                    f"warning: {warning.message}", markup=False, highlight=False, soft_wrap=True
                )


def _fail(message: str) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_REJECTED)
