"""`hmpush campaign` against the real local Push server: results, exit statuses, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from campaign_helpers import notification_message, outcomes, summary, unregistered_tokens
from typer.testing import CliRunner, Result

from hmpush.auth import write_service_account
from hmpush.cli import app
from hmpush.cli._common import EXIT_OK, EXIT_PARTIAL, EXIT_REJECTED, EXIT_USAGE
from hmpush.testing import EmulatorHandle

runner = CliRunner()
PAYLOAD = notification_message().payload.model_dump(by_alias=True, exclude_none=True)


@pytest.fixture
def key_file(hmpush_emulator_server: EmulatorHandle, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    write_service_account(hmpush_emulator_server.service_account, path)
    return path


def _message(tmp_path: Path, document: Any, name: str = "message.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(document))
    return path


def _campaign(
    server: EmulatorHandle, key: Path, message: Path, tokens: str, out: Path, *extra: str,
    stdin: str | None = None,
) -> Result:  # fmt: skip
    command = [
        "campaign", "--key", str(key), "--endpoint", server.base_url, "--message", str(message),
        "--tokens", tokens, "--rate", "100000", "--concurrency", "4", "--out", str(out),
        "--no-progress", *extra,
    ]  # fmt: skip
    return runner.invoke(app, command, input=stdin)


def test_tokens_from_stdin_all_accepted_exit_0_with_result_files(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    tokens = hmpush_emulator_server.create_devices(1200)
    message = _message(tmp_path, {"pushType": 0, "payload": PAYLOAD, "pushOptions": {"ttl": 60}})
    out = tmp_path / "out"
    stdin = "\n".join([*tokens, "", tokens[0]]) + "\n"
    result = _campaign(hmpush_emulator_server, key_file, message, "-", out, stdin=stdin)

    assert result.exit_code == EXIT_OK, result.output
    assert "1,200 tokens in 2 requests" in result.stderr
    assert "1 blank, 1 repeated tokens sent once" in result.stderr
    assert "accepted 1,200  failed 0" in result.stdout
    assert sorted(line["token"] for line in outcomes(out)) == sorted(tokens)
    assert summary(out)["input"]["duplicateTokens"] == 1
    requests = hmpush_emulator_server.requests()
    assert len(requests) == 2 and all(r["pushOptions"]["ttl"] == 60 for r in requests)


def test_payload_alone_with_push_type_flag_and_partial_outcome_exits_3(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    good = hmpush_emulator_server.create_devices(3)
    bad = unregistered_tokens(2)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("id,token\n" + "".join(f"{i},{t}\n" for i, t in enumerate([*good, *bad])))
    out = tmp_path / "out"
    result = _campaign(
        hmpush_emulator_server, key_file, _message(tmp_path, PAYLOAD), str(tokens), out,
        "--push-type", "0",
    )  # fmt: skip

    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "tokenFormatError: 2" in result.stdout
    assert (out / "invalid-tokens.txt").read_text().split() == bad


@pytest.mark.parametrize(
    ("document", "flags", "expected"),
    [
        ({"payload": PAYLOAD}, [], "no push-type: give --push-type or pushType in the file"),
        ({"pushType": 0, "payload": PAYLOAD}, ["--push-type", "6"], "disagrees with --push-type"),
        ({"pushType": 0, "payload": PAYLOAD, "target": {"token": ["x"]}}, [], "target must not"),
        ({"pushType": 0, "payload": {"notification": {"title": "t"}}}, [], "80100003"),
        ([1, 2], [], "must hold a JSON object"),
    ],
)
def test_bad_message_is_refused_before_anything_is_sent(
    hmpush_emulator_server: EmulatorHandle,
    key_file: Path,
    tmp_path: Path,
    document: Any,
    flags: list[str],
    expected: str,
) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(hmpush_emulator_server.create_devices(2)) + "\n")
    message = _message(tmp_path, document)
    result = _campaign(
        hmpush_emulator_server, key_file, message, str(tokens), tmp_path / "o", *flags
    )

    assert result.exit_code == EXIT_REJECTED, result.output
    assert expected in result.stderr and "Traceback" not in result.output
    assert hmpush_emulator_server.requests() == []


def test_unreadable_token_list_and_strict_bad_line_send_nothing(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    message = _message(tmp_path, {"pushType": 0, "payload": PAYLOAD})
    missing = _campaign(
        hmpush_emulator_server, key_file, message, str(tmp_path / "nope.txt"), tmp_path / "a"
    )
    assert missing.exit_code == EXIT_REJECTED
    assert "cannot read token file" in missing.stderr and "nope.txt" in missing.stderr

    tokens = tmp_path / "tokens.txt"
    good = hmpush_emulator_server.create_devices(2)
    tokens.write_text(f"{good[0]}\nthis is not a token\n{good[1]}\n")
    strict = _campaign(
        hmpush_emulator_server, key_file, message, str(tokens), tmp_path / "b", "--strict"
    )
    assert strict.exit_code == EXIT_REJECTED
    assert "line 2: 'this is not a token' cannot be a push token" in strict.stderr
    assert "nothing was sent" in strict.stderr
    assert hmpush_emulator_server.requests() == []


def test_another_message_in_the_same_output_directory_is_refused(
    hmpush_emulator_server: EmulatorHandle, key_file: Path, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(hmpush_emulator_server.create_devices(2)) + "\n")
    out = tmp_path / "out"
    first = _message(tmp_path, {"pushType": 0, "payload": PAYLOAD}, "first.json")
    assert _campaign(hmpush_emulator_server, key_file, first, str(tokens), out).exit_code == 0
    changed = {"pushType": 0, "payload": PAYLOAD, "pushOptions": {"ttl": 30}}
    second = _message(tmp_path, changed, "second.json")
    result = _campaign(hmpush_emulator_server, key_file, second, str(tokens), out)
    assert result.exit_code == EXIT_REJECTED
    assert "holds a campaign with a different message" in result.stderr
    assert len(hmpush_emulator_server.requests()) == 1


def test_in_flight_emulator_needs_the_local_servers_endpoint(
    key_file: Path, tmp_path: Path
) -> None:
    message = _message(tmp_path, {"pushType": 0, "payload": PAYLOAD})
    command = [
        "campaign", "--key", str(key_file), "--message", str(message), "--tokens", "-",
        "--rate", "10", "--out", str(tmp_path / "out"), "--in-flight", "emulator",
    ]  # fmt: skip
    result = runner.invoke(app, command, input="MAMzLgEAAAAtoken\n")
    assert result.exit_code == EXIT_USAGE
    assert "--in-flight emulator asks the local Push server's request log" in result.stderr
    assert not (tmp_path / "out").exists()
