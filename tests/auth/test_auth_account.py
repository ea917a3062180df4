"""Service-account key files: Huawei's format in, clear errors for unusable keys, 0600 out."""

from __future__ import annotations

import copy
import json
import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hmpush.auth import (
    HUAWEI_TOKEN_URI,
    InsecureKeyFileWarning,
    ServiceAccount,
    generate_service_account,
    write_service_account,
)
from hmpush.errors import CredentialsError

HUAWEI_FIELDS = [
    "project_id",
    "key_id",
    "private_key",
    "sub_account",
    "auth_uri",
    "token_uri",
    "auth_provider_cert_uri",
    "client_cert_uri",
]


def _pkcs8(key: Any, password: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode("ascii")
    )


def _key_file(account: ServiceAccount, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = account.to_dict()
    for name, value in changes.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    return data


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_huawei_key_file_text_loads(account: ServiceAccount) -> None:
    # Exactly how the console's download looks: one JSON object, the PEM's newlines escaped.
    text = json.dumps(account.to_dict())
    assert "\\n" in text and "-----BEGIN PRIVATE KEY-----" in text
    loaded = ServiceAccount.from_json(text)
    assert loaded == account
    assert (loaded.project_id, loaded.key_id, loaded.sub_account) == (
        account.project_id,
        account.key_id,
        account.sub_account,
    )
    assert loaded.token_uri == HUAWEI_TOKEN_URI


def test_to_dict_has_huaweis_fields_in_order(account: ServiceAccount) -> None:
    assert list(account.to_dict()) == HUAWEI_FIELDS


def test_pem_pasted_with_literal_backslash_n_loads(account: ServiceAccount) -> None:
    one_line = account.private_key_pem.strip().replace("\n", "\\n")
    loaded = ServiceAccount.from_dict(_key_file(account, private_key=one_line))
    assert loaded.public_key_pem() == account.public_key_pem()


def test_unknown_fields_are_ignored_and_missing_uris_take_huaweis_values(
    account: ServiceAccount,
) -> None:
    data = _key_file(account, token_uri=None, auth_uri=None, type="service_account")
    assert ServiceAccount.from_dict(data).token_uri == HUAWEI_TOKEN_URI


def test_pkcs1_rsa_key_is_accepted_and_written_back_as_given(account: ServiceAccount) -> None:
    pkcs1 = account.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    assert ServiceAccount.from_dict(_key_file(account, private_key=pkcs1)).key_bits == 2048


@pytest.mark.parametrize("missing", ["project_id", "key_id", "private_key", "sub_account"])
@pytest.mark.parametrize("how", ["absent", "empty", "null"])
def test_each_missing_required_field_is_named(
    account: ServiceAccount, missing: str, how: str
) -> None:
    data = _key_file(account)
    if how == "absent":
        del data[missing]
    else:
        data[missing] = "" if how == "empty" else None
    with pytest.raises(CredentialsError, match=f"missing required field.*{missing}"):
        ServiceAccount.from_dict(data)


def test_several_missing_fields_are_all_named(account: ServiceAccount) -> None:
    data = _key_file(account, key_id=None, sub_account=None)
    with pytest.raises(CredentialsError, match="key_id, sub_account"):
        ServiceAccount.from_dict(data)


def test_non_string_field_is_named(account: ServiceAccount) -> None:
    with pytest.raises(CredentialsError, match="'project_id' must be a string, got int"):
        ServiceAccount.from_dict(_key_file(account, project_id=101234567890))


def test_project_id_that_cannot_be_a_url_segment_is_refused(account: ServiceAccount) -> None:
    with pytest.raises(CredentialsError, match="project_id"):
        ServiceAccount.from_dict(_key_file(account, project_id="1/../2"))


def test_not_a_json_object_is_refused() -> None:
    with pytest.raises(CredentialsError, match="not valid JSON"):
        ServiceAccount.from_json("{not json")
    with pytest.raises(CredentialsError, match="must be a JSON object, got list"):
        ServiceAccount.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("private_key", "rule"),
    [
        ("just some text", "not a PEM key"),
        (
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
            "not a valid PEM private key",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "not a valid PEM private key",
        ),
    ],
)
def test_bad_pem_is_refused(account: ServiceAccount, private_key: str, rule: str) -> None:
    with pytest.raises(CredentialsError, match=rule):
        ServiceAccount.from_dict(_key_file(account, private_key=private_key))


def test_non_rsa_key_is_refused(account: ServiceAccount) -> None:
    ec_pem = _pkcs8(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CredentialsError, match=r"must be an RSA key.*got an EC key"):
        ServiceAccount.from_dict(_key_file(account, private_key=ec_pem))


def test_short_rsa_key_is_refused(account: ServiceAccount) -> None:
    short_pem = _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(CredentialsError, match="1024-bit RSA key; at least 2048 bits"):
        ServiceAccount.from_dict(_key_file(account, private_key=short_pem))


def test_encrypted_key_is_refused(account: ServiceAccount) -> None:
    encrypted = _pkcs8(account.private_key, password=b"secret")
    with pytest.raises(CredentialsError, match="encrypted"):
        ServiceAccount.from_dict(_key_file(account, private_key=encrypted))


def test_from_file_loads_without_warning_when_private(
    account: ServiceAccount, tmp_path: Path
) -> None:
    path = _write_private(tmp_path / "key.json", account.to_json())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ServiceAccount.from_file(path) == account


def test_from_file_warns_when_group_or_others_can_read(
    account: ServiceAccount, tmp_path: Path
) -> None:
    path = _write_private(tmp_path / "key.json", account.to_json())
    path.chmod(0o644)
    with pytest.warns(InsecureKeyFileWarning, match=r"readable by group or others.*chmod 600"):
        assert ServiceAccount.from_file(path) == account


def test_from_file_errors_name_the_file(account: ServiceAccount, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=r"cannot read.*nope.json"):
        ServiceAccount.from_file(tmp_path / "nope.json")
    broken = _write_private(tmp_path / "broken.json", json.dumps(_key_file(account, key_id=None)))
    with pytest.raises(CredentialsError, match=r"broken.json.*key_id"):
        ServiceAccount.from_file(broken)


def test_from_file_reads_no_more_than_a_key_file_can_hold() -> None:
    with pytest.raises(CredentialsError, match="'/dev/zero' is over 65536 bytes"):
        ServiceAccount.from_file("/dev/zero")  # never ends: must not be read whole


def test_from_env_accepts_a_path_or_the_json(
    account: ServiceAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_private(tmp_path / "key.json", account.to_json())
    monkeypatch.setenv("HMPUSH_SERVICE_ACCOUNT", str(path))
    assert ServiceAccount.from_env() == account
    monkeypatch.setenv("MY_PUSH_KEY", account.to_json())
    assert ServiceAccount.from_env("MY_PUSH_KEY") == account


def test_from_env_unset_or_broken_names_the_variable(
    account: ServiceAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HMPUSH_SERVICE_ACCOUNT", raising=False)
    with pytest.raises(CredentialsError, match="HMPUSH_SERVICE_ACCOUNT is not set"):
        ServiceAccount.from_env()
    monkeypatch.setenv("HMPUSH_SERVICE_ACCOUNT", json.dumps(_key_file(account, key_id=None)))
    with pytest.raises(CredentialsError, match=r"\$HMPUSH_SERVICE_ACCOUNT: .*key_id"):
        ServiceAccount.from_env()


def test_load_takes_every_source(account: ServiceAccount, tmp_path: Path) -> None:
    path = _write_private(tmp_path / "key.json", account.to_json())
    sources: list[Any] = [account, account.to_dict(), account.to_json(), str(path), path]
    for source in sources:
        assert ServiceAccount.load(source) == account
    with pytest.raises(CredentialsError, match="got int"):
        ServiceAccount.load(42)  # type: ignore[arg-type]


def test_public_key_pem_matches_the_private_key(account: ServiceAccount) -> None:
    public = serialization.load_pem_public_key(account.public_key_pem().encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == account.private_key.public_key().public_numbers()


def test_generate_defaults_are_huawei_like() -> None:
    account = generate_service_account("555", bits=2048, key_id="k1")
    assert account.key_id == "k1"
    assert account.sub_account.isdigit() and len(account.sub_account) == 18
    assert account.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_generate_default_is_4096_bits() -> None:
    assert generate_service_account("555").key_bits == 4096


@pytest.mark.parametrize("bits", [1024, 2047, 20000])
def test_generate_refuses_weak_or_absurd_sizes(bits: int) -> None:
    with pytest.raises(CredentialsError, match="bits must be between 2048 and 16384"):
        generate_service_account("555", bits=bits)


def test_write_is_0600_whatever_the_umask(account: ServiceAccount, tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        path = write_service_account(account, tmp_path / "key.json")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ServiceAccount.from_file(path) == account
    assert json.loads(path.read_text())["private_key"] == account.private_key_pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json"]  # no temp file left


def test_write_refuses_to_replace_a_file_unless_told(
    account: ServiceAccount, other_account: ServiceAccount, tmp_path: Path
) -> None:
    path = write_service_account(account, tmp_path / "key.json")
    with pytest.raises(CredentialsError, match="refusing to overwrite"):
        write_service_account(other_account, path)
    assert ServiceAccount.from_file(path) == account
    write_service_account(other_account, path, overwrite=True)
    assert ServiceAccount.from_file(path) == other_account
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json"]


def test_write_into_a_missing_directory_is_a_clear_error(
    account: ServiceAccount, tmp_path: Path
) -> None:
    with pytest.raises(CredentialsError, match="cannot write key file"):
        write_service_account(account, tmp_path / "missing" / "key.json")


def test_account_survives_pickling_and_copying(account: ServiceAccount) -> None:
    # Worker processes receive accounts by pickle; the parsed key is rebuilt on arrival.
    for clone in (pickle.loads(pickle.dumps(account)), copy.deepcopy(account)):
        assert clone == account
        assert clone.private_key.key_size == account.key_bits
