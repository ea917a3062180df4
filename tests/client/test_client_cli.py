"""`hmpush send` against the real local Push server: outcomes, exit statuses, dry runs."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from hmpush import codes
from hmpush.auth import write_service_account
from hmpush.cli import app
from hmpush.cli._common import EXIT_OK, EXIT_PARTIAL, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE
from hmpush.testing import EmulatorHandle

runner = CliRunner()


@pytest.fixture
def key_file(hmpush_emulator_server: EmulatorHandle, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    write_service_account(hmpush_emulator_server.service_account, path)
    return path


def _send(
    server: EmulatorHandle, key: Path, *args: str, stdin: str | bytes | None = None
) -> Result:
    command = ["send", "--key", str(key), "--endpoint", server.base_url, *args]
    return runner.invoke(app, command, input=stdin)


def _token_args(tokens: list[str]) -> list[str]:
    return [part for token in tokens for part in ("--token", token)]


def test_all_accepted_prints_request_id_and_full_tokens(
    hmpush_emulator_server: EmulatorHandle, key_file: Path
) -> None:
    tokens = hmpush_emulator_server.create_devices(2)
    result = _send(
        hmpush_emulator_server, key_file, "--title", "Hi", "--body", "There",
        "--ttl", "60", "--bi-tag", "cli", *_token_args(tokens),
    )  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    [logged] = hmpush_emulator_server.requests()
    assert f"requestId  {logged['requestId']}" in result.stdout
    assert all(f"accepted  {token}" in result.stdout for token in tokens)
    assert logged["biTag"] == "cli" and logged["pushOptions"]["ttl"] == 60
    notification = hmpush_emulator_server.inbox(tokens[0])[0]["payload"]["notification"]
    assert notification["category"] == "MARKETING"
    assert notification["clickAction"] == {"actionType": 0}
    assert "eyJ" not in result.output  # no JWT anywhere


def test_a_repeated_token_is_sent_once_and_the_repeat_is_reported(
    hmpush_emulator_server: EmulatorHandle, key_file: Path
) -> None:
    [token] = hmpush_emulator_server.create_devices(1)
    result = _send(
        hmpush_emulator_server,
        key_file,
        "--title",
        "Hi",
        "--body",
        "Once",
        *_token_args([token] * 2),
    )
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.count(f"accepted  {token}") == 1
    assert "1 accepted, 0 refused (1 repeated tokens sent once)" in result.stderr
    assert len(hmpush_emulator_server.inbox(token)) == 1


def test_partial_success_exits_3_and_names_the_reason(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    tokens = hmpush_emulator_server.create_devices(2)
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text(f"{tokens[0]}\n\n# a comment\nbogus\n{tokens[1]}\n")
    result = _send(
        hmpush_emulator_server, key_file, "--title", "T", "--body", "B",
        "--tokens-file", str(tokens_file),
    )  # fmt: skip
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert f"refused  bogus  {codes.TokenFailure.TOKEN_FORMAT_ERROR.value}" in result.stdout
    assert result.stdout.count("accepted  ") == 2


def test_all_invalid_exits_1(hmpush_emulator_server: EmulatorHandle, key_file: Path) -> None:
    result = _send(
        hmpush_emulator_server, key_file, "--title", "T", "--body", "B", stdin="bad-1\nbad-2\n"
    )
    assert result.exit_code == EXIT_REJECTED, result.output
    assert result.stdout.count("refused  ") == 2


def test_a_dropped_request_exits_4_saying_it_may_have_been_accepted(
    hmpush_emulator_server: EmulatorHandle, key_file: Path
) -> None:
    hmpush_emulator_server.add_fault(drop_connection=True, times=1)
    tokens = hmpush_emulator_server.create_devices(1)
    result = _send(
        hmpush_emulator_server, key_file, "--title", "T", "--body", "B", *_token_args(tokens)
    )
    assert result.exit_code == EXIT_TRANSPORT
    assert "the server may have accepted it (not sent again)" in result.stderr
    assert "Traceback" not in result.output


def test_refused_request_exits_1_with_code_and_request_id(
    hmpush_emulator_server: EmulatorHandle, key_file: Path
) -> None:
    hmpush_emulator_server.set_project(push_enabled=False)
    tokens = hmpush_emulator_server.create_devices(1)
    result = _send(
        hmpush_emulator_server, key_file, "--title", "T", "--body", "B", *_token_args(tokens)
    )
    assert result.exit_code == EXIT_REJECTED
    assert codes.NO_PERMISSION.code in result.stderr
    assert "requestId" in result.stderr


def test_unreachable_server_exits_4(key_file: Path, hmpush_emulator_server: EmulatorHandle) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = runner.invoke(
        app,
        ["send", "--key", str(key_file), "--endpoint", f"http://127.0.0.1:{closed_port}",
         "--title", "T", "--body", "B", "--token", "MAMzLgEAAAAtoken"],
    )  # fmt: skip
    assert result.exit_code == EXIT_TRANSPORT
    assert "ConnectError" in result.stderr


def test_any_push_type_from_a_payload_file(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    tokens = hmpush_emulator_server.create_devices(1)
    payload = tmp_path / "background.json"
    payload.write_bytes(orjson.dumps({"extraData": "sync now"}))
    result = _send(
        hmpush_emulator_server, key_file, "--push-type", "6", "--payload", str(payload),
        "--test", *_token_args(tokens),
    )  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    [logged] = hmpush_emulator_server.requests()
    assert logged["pushType"] == 6 and logged["testMessage"] is True


def test_dry_run_prints_the_request_and_sends_nothing(
    hmpush_emulator_server: EmulatorHandle, key_file: Path
) -> None:
    result = _send(
        hmpush_emulator_server, key_file, "--title", "T", "--body", "B", "--dry-run",
        "--token", "MAMzLgEAAAAtoken",
    )  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {hmpush_emulator_server.send_url}"
    assert "Authorization: Bearer <jwt redacted>" in lines
    assert "push-type: 0" in lines
    body = orjson.loads(lines[-1])
    assert body["target"] == {"token": ["MAMzLgEAAAAtoken"]}
    assert hmpush_emulator_server.requests() == []


def test_invalid_payload_names_the_field_and_exits_1(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    payload = tmp_path / "voip.json"
    payload.write_bytes(b'{"extraData": 5}')
    result = _send(
        hmpush_emulator_server, key_file, "--push-type", "10", "--payload", str(payload),
        "--token", "MAMzLgEAAAAtoken",
    )  # fmt: skip
    assert result.exit_code == EXIT_REJECTED
    assert "extraData" in result.stderr and codes.ILLEGAL_PAYLOAD.code in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--title", "T", "--body", "B"],  # no tokens
        ["--title", "T", "--token", "x"],  # no body
        ["--push-type", "6", "--token", "x"],  # no payload file
        ["--title", "T", "--body", "B", "--push-type", "6", "--token", "x"],
    ],
)
def test_usage_errors_exit_2(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, args: list[str]
) -> None:
    result = _send(hmpush_emulator_server, key_file, *args, stdin="")
    assert result.exit_code == EXIT_USAGE
    assert "error:" in result.stderr


def test_missing_key_file_is_one_clear_line(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    result = _send(hmpush_emulator_server, missing, "--title", "T", "--body", "B", "--token", "x")
    assert result.exit_code == EXIT_REJECTED
    assert result.stderr.count("\n") == 1 and str(missing) in result.stderr


def test_a_token_file_that_is_not_utf8_names_the_line_and_sends_nothing(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    [token] = hmpush_emulator_server.create_devices(1)
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_bytes(token.encode() + b"\n\xff\xfe\n")
    args = ["--title", "T", "--body", "B"]
    from_file = _send(hmpush_emulator_server, key_file, *args, "--tokens-file", str(tokens_file))
    from_stdin = _send(hmpush_emulator_server, key_file, *args, stdin=b"x\n\xff\n")
    for result, source in [(from_file, f"--tokens-file {tokens_file}"), (from_stdin, "stdin")]:
        assert result.exit_code == EXIT_USAGE, result.output
        assert f"{source}: line 2 is not UTF-8 text" in result.stderr
        assert "Traceback" not in result.output
    assert hmpush_emulator_server.requests() == []
