"""Service-account key files: loading them as Huawei issues them, generating and writing them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hmpush.errors import CredentialsError

__all__ = [
    "DEFAULT_ENV_VAR",
    "HUAWEI_AUTH_PROVIDER_CERT_URI",
    "HUAWEI_AUTH_URI",
    "HUAWEI_CLIENT_CERT_URI",
    "HUAWEI_TOKEN_URI",
    "MIN_RSA_BITS",
    "InsecureKeyFileWarning",
    "ServiceAccount",
    "generate_service_account",
    "write_service_account",
]

HUAWEI_AUTH_URI = "https://oauth-login.cloud.huawei.com/oauth2/v3/authorize"
# Also the fixed `aud` claim of every push JWT (spec 2.3).
HUAWEI_TOKEN_URI = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
HUAWEI_AUTH_PROVIDER_CERT_URI = "https://oauth-login.cloud.huawei.com/oauth2/v3/certs"
HUAWEI_CLIENT_CERT_URI = "https://oauth-login.cloud.huawei.com/oauth2/v3/x509?client_id="

DEFAULT_ENV_VAR = "HMPUSH_SERVICE_ACCOUNT"
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384

_REQUIRED_FIELDS = ("project_id", "key_id", "private_key", "sub_account")
# Huawei's files always carry the URIs; a hand-written file may leave them out, and then
# Huawei's published values are used (they are the same for every project).
_OPTIONAL_URI_DEFAULTS = {
    "auth_uri": HUAWEI_AUTH_URI,
    "token_uri": HUAWEI_TOKEN_URI,
    "auth_provider_cert_uri": HUAWEI_AUTH_PROVIDER_CERT_URI,
    "client_cert_uri": HUAWEI_CLIENT_CERT_URI,
}
_GROUP_OR_OTHERS_READ = stat.S_IRGRP | stat.S_IROTH
# A key file is ~3.5 KB (4096 bits); only this much of anything named as one is read.
_MAX_KEY_FILE_BYTES = 64 * 1024
# Longer "paths" are not quoted in errors (PATH_MAX is 4096; real key-file paths are short).
_MAX_SHOWN_PATH = 1024

# Checking an RSA private key costs ~50 ms (2048 bits) to ~0.5 s (4096 bits), so each distinct
# key is checked once per process; keyed by the PEM's digest so no second copy of it is kept.
_PARSED_KEYS: OrderedDict[bytes, rsa.RSAPrivateKey] = OrderedDict()
_PARSED_KEYS_LOCK = threading.Lock()
_PARSED_KEYS_MAX = 64


class InsecureKeyFileWarning(UserWarning):
    """A service-account key file can be read by users other than its owner."""


@dataclass(frozen=True, eq=False)
class ServiceAccount:
    """A Huawei service-account key: who signs (`sub_account`), with which key, for which project.

    Constructing one checks the private key (PEM, RSA, at least 2048 bits) once; the parsed key is
    kept for signing. repr/str never show the key.
    """

    project_id: str
    key_id: str
    sub_account: str
    private_key_pem: str = field(repr=False)
    token_uri: str = HUAWEI_TOKEN_URI
    auth_uri: str = HUAWEI_AUTH_URI
    auth_provider_cert_uri: str = HUAWEI_AUTH_PROVIDER_CERT_URI
    client_cert_uri: str = HUAWEI_CLIENT_CERT_URI
    _private_key: rsa.RSAPrivateKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("project_id", "key_id", "sub_account", "token_uri"):
            _require_text(name, getattr(self, name))
        _require_project_id(self.project_id)
        pem = _normalise_pem(_require_text("private_key", self.private_key_pem))
        object.__setattr__(self, "private_key_pem", pem)
        object.__setattr__(self, "_private_key", _parse_private_key(pem))

    def __repr__(self) -> str:
        return (
            f"ServiceAccount(project_id={self.project_id!r}, key_id={self.key_id!r}, "
            f"sub_account={self.sub_account!r}, private_key=<hidden>)"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceAccount):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.project_id, self.key_id, self.sub_account))

    def __reduce__(self) -> tuple[Any, ...]:
        # Parsed keys cannot be pickled; rebuild from the key-file fields (for multiprocessing).
        return (ServiceAccount.from_dict, (self.to_dict(),))

    @property
    def key_bits(self) -> int:
        """The RSA key size in bits."""
        return self._private_key.key_size

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The parsed RSA private key (for signing)."""
        return self._private_key

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceAccount:
        """Build from the key file's JSON object (Huawei's names); unknown fields are ignored."""
        if not isinstance(data, Mapping):
            raise CredentialsError(
                f"service-account key must be a JSON object, got {type(data).__name__}"
            )
        missing = [name for name in _REQUIRED_FIELDS if data.get(name) in (None, "")]
        if missing:
            raise CredentialsError(
                "service-account key is missing required field(s): " + ", ".join(missing)
            )
        uris = {
            name: _require_text(name, data.get(name) or default)
            for name, default in _OPTIONAL_URI_DEFAULTS.items()
        }
        return cls(
            project_id=_require_text("project_id", data["project_id"]),
            key_id=_require_text("key_id", data["key_id"]),
            sub_account=_require_text("sub_account", data["sub_account"]),
            private_key_pem=_require_text("private_key", data["private_key"]),
            **uris,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ServiceAccount:
        """Build from the key file's JSON text."""
        try:
            data = json.loads(text)
        except ValueError as error:
            # json's message names only the position, never the content.
            raise CredentialsError(f"service-account key is not valid JSON: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServiceAccount:
        """Load a key file; warns (InsecureKeyFileWarning) if group or others can read it."""
        file_path = Path(path)
        try:
            with file_path.open("rb") as handle:
                text = handle.read(_MAX_KEY_FILE_BYTES + 1)
        except OSError as error:
            raise CredentialsError(
                f"cannot read service-account key file {_path_as_shown(file_path)}: "
                f"{error.strerror}"
            ) from None
        if len(text) > _MAX_KEY_FILE_BYTES:
            raise CredentialsError(
                f"{_path_as_shown(file_path)} is over {_MAX_KEY_FILE_BYTES} bytes; "
                "a service-account key file is a few kilobytes"
            )
        _warn_if_readable_by_others(file_path)
        try:
            return cls.from_json(text)
        except CredentialsError as error:
            raise CredentialsError(f"{file_path}: {error}") from None

    @classmethod
    def from_env(cls, var: str = DEFAULT_ENV_VAR) -> ServiceAccount:
        """Load from an environment variable holding either a key-file path or the JSON itself."""
        value = os.environ.get(var)
        if not value or not value.strip():
            raise CredentialsError(f"environment variable {var} is not set")
        try:
            return cls.load(value)
        except CredentialsError as error:
            raise CredentialsError(f"${var}: {error}") from None

    @classmethod
    def load(
        cls, source: ServiceAccount | str | os.PathLike[str] | Mapping[str, Any]
    ) -> ServiceAccount:
        """Load from a path, a mapping, JSON text (a string starting with ``{``) or an account."""
        if isinstance(source, ServiceAccount):
            return source
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return cls.from_json(source)
        if isinstance(source, str | os.PathLike):
            return cls.from_file(source)
        raise CredentialsError(
            "service-account source must be a path, JSON text or a mapping, "
            f"got {type(source).__name__}"
        )

    def to_dict(self) -> dict[str, str]:
        """The key file's JSON object, in Huawei's format and field order."""
        return {
            "project_id": self.project_id,
            "key_id": self.key_id,
            "private_key": self.private_key_pem,
            "sub_account": self.sub_account,
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "auth_provider_cert_uri": self.auth_provider_cert_uri,
            "client_cert_uri": self.client_cert_uri,
        }

    def to_json(self) -> str:
        """The key file's text (newlines in the PEM escaped as ``\\n``, as Huawei writes it)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def public_key_pem(self) -> str:
        """The public half of the key as a SubjectPublicKeyInfo PEM (what the server holds)."""
        return (
            self._private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )


def generate_service_account(
    project_id: str,
    *,
    bits: int = 4096,
    key_id: str | None = None,
    sub_account: str | None = None,
) -> ServiceAccount:
    """A new service account with a fresh RSA key, for use with the local Push server."""
    _require_project_id(_require_text("project_id", project_id))
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise CredentialsError(f"bits must be an integer, got {type(bits).__name__}")
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise CredentialsError(
            f"bits must be between {MIN_RSA_BITS} and {MAX_RSA_BITS}, got {bits}"
        )
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = _normalise_pem(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
    )
    _remember_parsed_key(pem, private_key)  # freshly generated: no need to check it again
    return ServiceAccount(
        project_id=project_id,
        key_id=key_id if key_id is not None else uuid.uuid4().hex,
        # Huawei's service-account ids are long decimal numbers.
        sub_account=sub_account if sub_account is not None else _random_digits(18),
        private_key_pem=pem,
    )


def write_service_account(
    account: ServiceAccount, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write `account` as a key file with mode 0600, atomically; refuses to replace a file
    unless `overwrite` (Huawei keeps no copy of a private key, so losing one is final)."""
    target = Path(path)
    if target.is_dir():
        raise CredentialsError(f"{str(target)!r} is a directory, not a key-file path")
    data = account.to_json().encode("utf-8")
    temp = _write_private_temp(target, data)
    try:
        if overwrite:
            os.replace(temp, target)
        else:
            _link_without_replacing(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return target


def _write_private_temp(target: Path, data: bytes) -> Path:
    """Write `data` to a new 0600 file beside `target` (same file system, so renames are atomic)."""
    directory = target.parent if str(target.parent) else Path(".")
    temp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise CredentialsError(
            f"cannot write key file in {str(directory)!r}: {error.strerror}"
        ) from None
    try:
        os.fchmod(descriptor, 0o600)  # the umask may have removed bits, never added them
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _link_without_replacing(temp: Path, target: Path) -> None:
    """Give `temp` the name `target` only if nothing has that name (atomic check and create)."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise CredentialsError(f"refusing to overwrite existing file {str(target)!r}") from None
    except OSError:
        # File systems without hard links: an exclusive create still never replaces a file.
        _create_exclusively(target, temp.read_bytes())


def _create_exclusively(target: Path, data: bytes) -> None:
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CredentialsError(f"refusing to overwrite existing file {str(target)!r}") from None
    except OSError as error:
        raise CredentialsError(f"cannot write key file {str(target)!r}: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _warn_if_readable_by_others(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & _GROUP_OR_OTHERS_READ:
        warnings.warn(
            f"service-account key file {str(path)!r} is readable by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); restrict it with: chmod 600 {path}",
            InsecureKeyFileWarning,
            stacklevel=3,
        )


def _path_as_shown(path: Path) -> str:
    """A path for error messages, unless it is really key-file text that missed the JSON check
    (say, an environment variable holding the JSON inside quotes): that is never echoed."""
    text = str(path)
    if len(text) > _MAX_SHOWN_PATH or "\n" in text or "PRIVATE KEY" in text:
        return "(the value given is not a file path and may hold key material, so it is not shown)"
    return repr(text)


def _require_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise CredentialsError(
            f"service-account field {name!r} must be a string, got {type(value).__name__}"
        )
    if not value.strip():
        raise CredentialsError(f"service-account field {name!r} must not be empty")
    return value


def _require_project_id(project_id: str) -> None:
    # The project id becomes a URL path segment (/v3/{projectId}/messages:send).
    if any(character.isspace() or character in "/?#%" for character in project_id):
        raise CredentialsError(
            "service-account field 'project_id' must not contain whitespace, '/', '?', '#' or '%'"
        )


def _normalise_pem(pem: str) -> str:
    """Accept the PEM with real newlines (parsed JSON) or with literal ``\\n`` (pasted text)."""
    if "\\n" in pem and "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")
    pem = pem.strip().replace("\r\n", "\n")
    return pem + "\n"


def _pem_digest(pem: str) -> bytes:
    return hashlib.sha256(pem.encode("utf-8")).digest()


def _remember_parsed_key(pem: str, key: rsa.RSAPrivateKey) -> None:
    with _PARSED_KEYS_LOCK:
        _PARSED_KEYS[_pem_digest(pem)] = key
        while len(_PARSED_KEYS) > _PARSED_KEYS_MAX:
            _PARSED_KEYS.popitem(last=False)


def _parse_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The checked key, parsed once per process."""
    with _PARSED_KEYS_LOCK:
        key = _PARSED_KEYS.get(_pem_digest(pem))
    if key is None:
        key = _parse_and_check_private_key(pem)
        _remember_parsed_key(pem, key)
    return key


def _parse_and_check_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse and check the key; errors name the rule, never the key material."""
    if "-----BEGIN" not in pem:
        raise CredentialsError(
            "service-account field 'private_key' is not a PEM key "
            "(expected '-----BEGIN PRIVATE KEY-----')"
        )
    if "ENCRYPTED" in pem:
        raise CredentialsError(
            "service-account field 'private_key' is encrypted; Huawei key files hold an "
            "unencrypted PKCS#8 key"
        )
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except Exception:  # ValueError, TypeError, UnsupportedAlgorithm, ... : all mean "unusable"
        raise CredentialsError(
            "service-account field 'private_key' is not a valid PEM private key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(
            "service-account field 'private_key' must be an RSA key (PS256 needs RSA), "
            f"got an {_key_kind(key)}"
        )
    if key.key_size < MIN_RSA_BITS:
        raise CredentialsError(
            f"service-account field 'private_key' is a {key.key_size}-bit RSA key; "
            f"at least {MIN_RSA_BITS} bits are required"
        )
    return key


def _key_kind(key: object) -> str:
    """What the file holds instead of an RSA key ("EllipticCurve key", "Ed25519 key", ...)."""
    name = type(key).__name__.lstrip("_").removesuffix("PrivateKey")
    return f"{name or type(key).__name__} key"


def _random_digits(count: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(count - 1)
    )
