"""`hmpush keys new` and `hmpush jwt`, run through the real command-line parser."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
import typer
from typer.testing import CliRunner

from hmpush.auth import JWT_AUDIENCE, ServiceAccount, write_service_account
from hmpush.cli import keys


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """An `hmpush` app holding only this module's commands."""
    application = typer.Typer()
    keys.register(application)
    return application


@pytest.fixture
def runner() -> CliRunner:
    """Invokes the app in-process, keeping stdout and stderr apart."""
    return CliRunner()


def test_keys_new_writes_a_private_huawei_key_file_and_prints_only_its_path(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "sa.json"
    result = runner.invoke(
        app, ["keys", "new", "--project-id", "777", "--out", str(out), "--bits", "2048"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    account = ServiceAccount.from_file(out)
    assert (account.project_id, account.key_bits) == ("777", 2048)
    assert "PRIVATE KEY" not in result.output


def test_keys_new_defaults_to_4096_bits_in_the_current_directory(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["keys", "new", "--project-id", "888", "--key-id", "kid-1"])
    assert result.exit_code == 0, result.output
    account = ServiceAccount.from_file(tmp_path / "service-account-888.json")
    assert (account.key_bits, account.key_id) == (4096, "kid-1")


def test_keys_new_refuses_to_overwrite_unless_forced(
    app: typer.Typer, runner: CliRunner, account: ServiceAccount, tmp_path: Path
) -> None:
    out = write_service_account(account, tmp_path / "sa.json")
    command = ["keys", "new", "--project-id", "999", "--out", str(out), "--bits", "2048"]
    refused = runner.invoke(app, command)
    assert refused.exit_code == 1
    assert "refusing to overwrite" in refused.stderr and "--force" in refused.stderr
    assert ServiceAccount.from_file(out) == account
    forced = runner.invoke(app, [*command, "--force"])
    assert forced.exit_code == 0, forced.output
    assert ServiceAccount.from_file(out).project_id == "999"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_new_refuses_a_directory_as_out(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    for extra in ([], ["--force"]):
        command = ["keys", "new", "--project-id", "1", "--out", str(tmp_path), *extra]
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert result.stderr == (
            f"error: {str(tmp_path)!r} is a directory; --out takes the path of the key file "
            "to write\n"
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bits", ["1024", "2047", "abc"])
def test_keys_new_refuses_weak_key_sizes(app: typer.Typer, runner: CliRunner, bits: str) -> None:
    result = runner.invoke(app, ["keys", "new", "--project-id", "1", "--bits", bits])
    assert result.exit_code == 2
    assert "--bits" in result.stderr


def test_keys_new_refuses_a_bad_project_id(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "sa.json"
    result = runner.invoke(
        app, ["keys", "new", "--project-id", "a/b", "--out", str(out), "--bits", "2048"]
    )
    assert result.exit_code == 1
    assert "project_id" in result.stderr
    assert not out.exists()


def test_jwt_prints_a_fresh_verifiable_jwt(
    app: typer.Typer, runner: CliRunner, account: ServiceAccount, tmp_path: Path
) -> None:
    path = write_service_account(account, tmp_path / "sa.json")
    result = runner.invoke(app, ["jwt", "--key", str(path), "--lifetime", "600"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert jwt.get_unverified_header(token)["kid"] == account.key_id
    claims = jwt.decode(
        token, account.private_key.public_key(), algorithms=["PS256"], audience=JWT_AUDIENCE
    )
    assert claims["exp"] - claims["iat"] == 600


def test_jwt_reads_the_key_from_the_environment(
    app: typer.Typer,
    runner: CliRunner,
    account: ServiceAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HMPUSH_SERVICE_ACCOUNT", account.to_json())
    result = runner.invoke(app, ["jwt"])
    assert result.exit_code == 0, result.output
    assert jwt.get_unverified_header(result.stdout.strip())["kid"] == account.key_id


def test_jwt_errors_are_one_clear_line(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = runner.invoke(app, ["jwt", "--key", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: cannot read service-account key file")
    monkeypatch.delenv("HMPUSH_SERVICE_ACCOUNT", raising=False)
    unset = runner.invoke(app, ["jwt"])
    assert unset.exit_code == 1
    assert "HMPUSH_SERVICE_ACCOUNT is not set" in unset.stderr
    assert "Traceback" not in missing.output + unset.output


def test_jwt_warns_on_a_key_file_others_can_read(
    app: typer.Typer, runner: CliRunner, account: ServiceAccount, tmp_path: Path
) -> None:
    path = write_service_account(account, tmp_path / "sa.json")
    path.chmod(0o644)
    result = runner.invoke(app, ["jwt", "--key", str(path)])
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "chmod 600" in result.stderr.replace("\n", " ")
    assert result.stdout.count(".") == 2  # still the token, and only it, on stdout
