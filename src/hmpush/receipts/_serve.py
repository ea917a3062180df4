"""Building the receiver from environment variables, for server processes (Granian workers).

`hmpush receipts serve` sets these variables and points Granian at `app_from_environment`; the
same works by hand with ``granian --interface asgi --factory`` and that target.
The secret itself is never put in a variable of ours: only the name of the variable or the path
of the file that holds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from hmpush.receipts._receiver import create_receiver_app
from hmpush.receipts._signing import DEFAULT_WINDOW_MS, CallbackSecretError, SecretFormat
from hmpush.receipts._store import ReceiptStore

__all__ = [
    "DB_VAR",
    "PATH_VAR",
    "SECRET_ENV_VAR",
    "SECRET_FILE_VAR",
    "SECRET_FORMAT_VAR",
    "USER_NAME_VAR",
    "WINDOW_MS_VAR",
    "app_from_environment",
    "read_secret",
]

DB_VAR = "HMPUSH_RECEIPTS_DB"
USER_NAME_VAR = "HMPUSH_RECEIPTS_USER_NAME"
SECRET_ENV_VAR = "HMPUSH_RECEIPTS_SECRET_ENV"  # name of the variable holding the secret
SECRET_FILE_VAR = "HMPUSH_RECEIPTS_SECRET_FILE"  # path of the file holding the secret
SECRET_FORMAT_VAR = "HMPUSH_RECEIPTS_SECRET_FORMAT"
PATH_VAR = "HMPUSH_RECEIPTS_PATH"
WINDOW_MS_VAR = "HMPUSH_RECEIPTS_WINDOW_MS"

_SECRET_FORMATS = ("base64", "utf8")


def read_secret(
    *,
    secret_env: str | None,
    secret_file: str | os.PathLike[str] | None,
    environ: Mapping[str, str] = os.environ,
) -> str | None:
    """The callback secret from an environment variable or a file (trailing newline dropped)."""
    if secret_env and secret_file:
        raise CallbackSecretError("give the secret through a variable or a file, not both")
    if secret_env:
        secret = environ.get(secret_env)
        if not secret:
            raise CallbackSecretError(f"environment variable {secret_env} is not set or empty")
        return secret
    if secret_file:
        try:
            secret = Path(secret_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise CallbackSecretError(
                f"cannot read the secret file {secret_file}: {error.strerror}"
            ) from None
        if not secret:
            raise CallbackSecretError(f"the secret file {secret_file} is empty")
        return secret
    return None


def secret_format_from(text: str) -> SecretFormat:
    """Check a secret-format name ('base64' or 'utf8')."""
    if text not in _SECRET_FORMATS:
        raise CallbackSecretError(f"secret format must be 'base64' or 'utf8', not {text!r}")
    return cast(SecretFormat, text)


def app_from_environment() -> FastAPI:
    """The receiver app configured by the HMPUSH_RECEIPTS_* variables (a Granian factory)."""
    environ = os.environ
    secret = read_secret(
        secret_env=environ.get(SECRET_ENV_VAR), secret_file=environ.get(SECRET_FILE_VAR)
    )
    store = ReceiptStore(environ.get(DB_VAR) or None)
    return create_receiver_app(
        store,
        user_name=environ.get(USER_NAME_VAR) or None,
        secret=secret,
        secret_format=secret_format_from(environ.get(SECRET_FORMAT_VAR, "base64")),
        window_ms=int(environ.get(WINDOW_MS_VAR, str(DEFAULT_WINDOW_MS))),
        path=environ.get(PATH_VAR, "/"),
    )
