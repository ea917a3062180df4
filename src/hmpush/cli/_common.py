"""What every sub-command shares: exit statuses and consoles."""

from __future__ import annotations

from rich.console import Console

# Exit statuses, the same for every sub-command.
EXIT_OK = 0
EXIT_REJECTED = 1  # invalid input, or the server refused the whole request
EXIT_USAGE = 2  # wrong flags (Typer's own status)
EXIT_PARTIAL = 3  # some tokens accepted, some refused
EXIT_TRANSPORT = 4  # the server could not be reached

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
