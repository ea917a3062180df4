"""The README's first command: `hmpush demo` against a real local Push server."""

from __future__ import annotations

import subprocess
import sys


def test_demo_sends_every_push_type_and_shows_the_phone() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "from hmpush.cli import main; main()", "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    output = completed.stdout
    assert output.count("accepted") == 6
    assert "What the phone received (6 messages)" in output
    # The live view's placeholders are shown filled, as the phone would.
    assert "Flight CA1234 计划" in output
    assert "not shown, handed to the app" in output
