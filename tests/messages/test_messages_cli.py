"""`hmpush validate`: the first line is `<code> <message>`; exit 0 when valid, 1 when not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from messages_examples import flight_create, notification
from typer.testing import CliRunner

from hmpush.cli import app
from hmpush.messages import MAX_REQUEST_BYTES

runner = CliRunner()


def _run(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", *args], input=stdin)
    return result.exit_code, result.stdout


def test_valid_file_prints_ok(tmp_path: Path) -> None:
    path = tmp_path / "flight.json"
    path.write_bytes(orjson.dumps(flight_create()))
    assert _run(["--push-type", "7", str(path)]) == (0, "80000000 OK\n")


def test_valid_stdin_prints_ok() -> None:
    assert _run(["--push-type", "0", "-"], orjson.dumps(notification())) == (0, "80000000 OK\n")
    assert _run(["--push-type", "0"], orjson.dumps(notification())) == (0, "80000000 OK\n")


def test_rule_violation_prints_code_and_message() -> None:
    body = notification()
    body["payload"]["notification"]["badge"] = {"addNum": 100}
    status, out = _run(["--push-type", "0", "-"], orjson.dumps(body))
    assert status == 1
    assert out.splitlines()[0] == (
        "80100003 Illegal payload, payload.notification.badge.addNum value ranges from 1 to 99"
    )


@pytest.mark.parametrize(
    ("args", "stdin", "first_line"),
    [
        (["--push-type", "0"], b"{not json", "80100001 Check Parameter Error. body is not valid"),
        (["--push-type", "0"], b"[1, 2]", "80100001 Check Parameter Error. body must be a JSON"),
        (["--push-type", "3"], b"{}", "80100001 Check Parameter Error. push-type must be one of"),
        (["--push-type", "x"], b"{}", "80100001 Check Parameter Error. push-type must be one of"),
        (["--push-type", "0"], b"", "80100001 Check Parameter Error. body is not valid JSON"),
        (
            ["--push-type", "0"],
            bytes(range(256)) * 4,
            "80100001 Check Parameter Error. body is not valid JSON",
        ),
        (["--push-type", "0"], b"\xef\xbb\xbf{}", "80100001 Check Parameter Error. body is not"),
        (["--push-type", "6"], b"[" * 100_000 + b"]" * 100_000, "80100001 Check Parameter"),
        (
            ["--push-type", "6"],
            b'{"payload":{"extraData":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_002,
            "80100001 Check Parameter Error. body is not valid JSON",
        ),
        (
            ["--push-type", "0"],
            orjson.dumps(notification()).replace(b'"style":0', b'"style":' + b"9" * 5000),
            "80100001 Check Parameter Error. body is not valid JSON (number out of range",
        ),
        (
            ["--push-type", "0"],
            orjson.dumps(notification()).replace(b'"style":0', b'"notifyId":1e999'),
            "80100003 Illegal payload, payload.notification.notifyId must be an integer",
        ),
        (
            ["--push-type", "0"],
            orjson.dumps(notification()).replace(b'"style":0', b'"notifyId":' + b"9" * 40),
            "80100003 Illegal payload, payload.notification.notifyId value ranges from -1 to",
        ),
    ],
    ids=[
        "not-json",
        "array",
        "unknown-push-type",
        "push-type-text",
        "empty",
        "binary",
        "utf8-bom",
        "deep-array",
        "deep-object",
        "5000-digit-number",
        "infinite-float",
        "40-digit-integer",
    ],
)
def test_bad_input_gets_a_code_not_a_traceback(
    args: list[str], stdin: bytes, first_line: str
) -> None:
    status, out = _run(args, stdin)
    assert status == 1
    assert out.startswith(first_line)
    assert "Traceback" not in out


def test_play_voice_in_a_notification_reports_the_per_token_failure() -> None:
    body = notification()
    body["payload"]["notification"]["category"] = "PLAY_VOICE"
    status, out = _run(["--push-type", "0"], orjson.dumps(body))
    assert status == 1
    assert out.startswith("80300007 ")
    assert "notSupportPlayVoice" in out


def test_endless_input_is_refused_after_the_request_limit() -> None:
    # /dev/zero never ends; like the local server, only what fits in a request is read.
    result = runner.invoke(app, ["validate", "--push-type", "0", "/dev/zero"])
    assert result.exit_code == 1
    assert result.stdout == (
        f"80300008 Push message size is too long. request over {MAX_REQUEST_BYTES} bytes\n"
    )


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--push-type", "0", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "Is a directory" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_closed_stdin_is_a_usage_error_not_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from hmpush.cli import main; main()",
            "validate",
            "--push-type",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == "error: cannot read standard input: standard input is closed\n"
    assert result.stdout == ""


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    status, _ = _run(["--push-type", "0", str(tmp_path / "absent.json")])
    assert status == 2


def test_installed_command_runs(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "hmpush"
    if not command.exists():
        pytest.skip("the hmpush console script is not installed next to this interpreter")
    path = tmp_path / "n.json"
    path.write_bytes(orjson.dumps(notification()))
    good = subprocess.run([command, "validate", "--push-type", "0", path], capture_output=True)
    assert (good.returncode, good.stdout) == (0, b"80000000 OK\n")
    bad = subprocess.run(
        [command, "validate", "--push-type", "0", "-"], input=b"{", capture_output=True
    )
    assert bad.returncode == 1
    assert bad.stdout.startswith(b"80100001 ")
    assert b"Traceback" not in bad.stderr
