"""The `hmpush` command: thin wrappers that parse flags, call the library and print.

Each sub-command lives in its own module with a `register(app)` function.
"""

from __future__ import annotations

import sys

import typer

from hmpush.cli import campaign, demo, distributed, emulator, keys, receipts, send, validate
from hmpush.cli._common import EXIT_REJECTED, err_console
from hmpush.errors import HmpushError

app = typer.Typer(
    name="hmpush",
    help="HarmonyOS Push Kit v3: send, validate, run campaigns and a local Push server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (validate, keys, emulator, send, campaign, distributed, receipts, demo):
    _module.register(app)


def main() -> None:
    """Console-script entry point; library errors become one clear line, never a traceback."""
    try:
        app()
    except HmpushError as error:
        err_console.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(EXIT_REJECTED)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
