"""Private keys and JWTs never show up in reprs, exception messages, tracebacks or logs."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

from hmpush.auth import (
    JwtSigner,
    JwtVerifier,
    ServiceAccount,
    VerificationKey,
    write_service_account,
)
from hmpush.errors import AuthError, CredentialsError


def _key_body_lines(account: ServiceAccount) -> list[str]:
    """The base64 lines of the private key: any one of them showing up is a leak."""
    return [line for line in account.private_key_pem.splitlines() if "-----" not in line]


def _assert_no_key(text: str, account: ServiceAccount) -> None:
    for line in _key_body_lines(account):
        assert line[:24] not in text


def _assert_no_jwt(text: str, token: str) -> None:
    for segment in token.split("."):
        assert segment[:24] not in text


def _full_report(error: BaseException) -> str:
    """Everything a traceback would print, chained exceptions included."""
    return "".join(traceback.format_exception(error)) + repr(error)


def test_account_repr_and_str_hide_the_key(account: ServiceAccount) -> None:
    for text in (repr(account), str(account), f"{account}", f"{account!r}"):
        _assert_no_key(text, account)
        assert account.key_id in text and "<hidden>" in text


def test_signer_repr_hides_key_and_token(account: ServiceAccount) -> None:
    signer = JwtSigner(account)
    token = signer.token()
    for text in (repr(signer), str(signer)):
        _assert_no_key(text, account)
        _assert_no_jwt(text, token)
        assert "signature_count=1" in text


def test_verifier_and_verification_key_reprs_are_short(account: ServiceAccount) -> None:
    key = VerificationKey.from_account(account)
    assert "PUBLIC KEY" not in repr(key)
    assert "KEY" not in repr(JwtVerifier({key.key_id: key}.get))


def _broken_pems(account: ServiceAccount) -> list[str]:
    pem = account.private_key_pem
    lines = pem.splitlines()
    middle = len(lines) // 2
    return [
        pem[: len(pem) // 2],  # truncated
        "\n".join([*lines[:middle], lines[middle][::-1], *lines[middle + 1 :]]),  # corrupted
        pem.replace("-----BEGIN PRIVATE KEY-----\n", ""),  # no BEGIN line
        pem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),  # claims to be encrypted
        pem.replace("BEGIN PRIVATE", "BEGIN PUBLIC").replace("END PRIVATE", "END PUBLIC"),
    ]


def test_errors_about_bad_keys_never_quote_the_key(account: ServiceAccount) -> None:
    for broken in _broken_pems(account):
        data = {**account.to_dict(), "private_key": broken}
        with pytest.raises(CredentialsError) as refused:
            ServiceAccount.from_dict(data)
        _assert_no_key(_full_report(refused.value), account)


def test_errors_about_bad_key_files_never_quote_the_file(
    account: ServiceAccount, tmp_path: Path
) -> None:
    text = json.dumps(account.to_dict())
    for broken in (text[:-1], text.replace('"key_id"', '"kid"'), text.replace(":", "=", 1)):
        path = tmp_path / "broken.json"
        path.write_text(broken)
        path.chmod(0o600)
        with pytest.raises(CredentialsError) as refused:
            ServiceAccount.from_file(path)
        _assert_no_key(_full_report(refused.value), account)


def test_refusals_never_quote_the_token(
    account: ServiceAccount, registered_keys: dict[str, VerificationKey]
) -> None:
    verifier = JwtVerifier(registered_keys.get)
    token = JwtSigner(account).token()
    header, claims, signature = token.split(".")
    forged = [
        f"{header}.{claims}.{signature[::-1]}",
        f"{header}.{claims[::-1]}.{signature}",
        f"{header[::-1]}.{claims}.{signature}",
        f"{header}.{claims}",
        token + "x",
    ]
    for bad in forged:
        with pytest.raises(AuthError) as refused:
            verifier.verify(f"Bearer {bad}", "not-this-project")
        _assert_no_jwt(_full_report(refused.value), token)
        with pytest.raises(AuthError) as refused:
            verifier.verify(f"Bearer {bad}", account.project_id)
        _assert_no_jwt(_full_report(refused.value), token)


def test_logs_never_carry_keys_or_tokens(
    account: ServiceAccount,
    registered_keys: dict[str, VerificationKey],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = write_service_account(account, tmp_path / "sa.json")
    signer = JwtSigner(ServiceAccount.from_file(path))
    token = signer.token()
    signer.refresh(token)
    verifier = JwtVerifier(registered_keys.get)
    verifier.verify(f"Bearer {signer.token()}", account.project_id)
    verifier.verify(f"Bearer {signer.token()}", account.project_id)
    for bad in (token[:-4] + "AAAA", token, "garbage"):
        with pytest.raises(AuthError):
            verifier.verify(f"Bearer {bad}", "other-project")
    assert any("signed a new JWT" in record.getMessage() for record in caplog.records)
    assert any("JWT refused" in record.getMessage() for record in caplog.records)
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text}" for record in caplog.records
    )
    _assert_no_key(logged, account)
    for issued in (token, signer.token()):
        _assert_no_jwt(logged, issued)


@pytest.mark.parametrize(
    "wrapped",
    ["'{}'", '"{}"', "[{}]", "export HMPUSH_SERVICE_ACCOUNT={}"],
    ids=["single-quoted", "double-quoted", "in an array", "shell line"],
)
def test_key_json_mistaken_for_a_path_is_never_echoed(
    account: ServiceAccount, monkeypatch: pytest.MonkeyPatch, wrapped: str
) -> None:
    # Key-file text that does not start with "{" is taken as a path; reading it fails, and the
    # error must not quote the "path", which is the whole key file.
    monkeypatch.setenv("HMPUSH_SERVICE_ACCOUNT", wrapped.format(account.to_json()))
    with pytest.raises(CredentialsError, match="cannot read service-account key file") as refused:
        ServiceAccount.from_env()
    _assert_no_key(_full_report(refused.value), account)
    assert "not shown" in str(refused.value)
