"""`hmpush demo`: the main job, run on the embedded local Push server."""

from __future__ import annotations

import typer

from hmpush.cli._common import console


def register(app: typer.Typer) -> None:
    """Add `hmpush demo`."""
    app.command("demo")(demo)


def demo() -> None:
    """Start the local Push server, register a device, send every push-type, show the inbox."""
    console.print(
        "hmpush demo: the local Push server is not built yet; "
        "`hmpush validate` already checks request bodies."
    )
