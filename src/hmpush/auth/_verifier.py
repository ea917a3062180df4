"""Verifying push JWTs for the local Push server: PS256 only, the project's own keys, claims."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hmpush import codes
from hmpush.auth._account import ServiceAccount
from hmpush.auth._signer import JWT_ALGORITHM, JWT_AUDIENCE, MAX_JWT_LIFETIME
from hmpush.codes import BusinessCode
from hmpush.errors import AuthError

__all__ = ["JwtVerifier", "VerificationCacheInfo", "VerificationKey"]

logger = logging.getLogger("hmpush.auth")

_BEARER_PREFIX = "Bearer "
# Longer than any JWT a key of up to 16384 bits signs; refused before any parsing work.
_MAX_TOKEN_LENGTH = 8192
_PUBLIC_KEY_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What the server knows of one service-account key: its project, id, issuer and public key."""

    project_id: str
    key_id: str
    sub_account: str
    public_key_pem: str = field(repr=False)

    @classmethod
    def from_account(cls, account: ServiceAccount) -> VerificationKey:
        """The server's view of `account` (its public key only)."""
        return cls(
            account.project_id, account.key_id, account.sub_account, account.public_key_pem()
        )


class VerificationCacheInfo(NamedTuple):
    """How the cache of successful verifications is doing (like `functools.lru_cache`'s)."""

    hits: int
    misses: int
    size: int
    max_size: int


@dataclass(frozen=True, slots=True)
class _Verified:
    key: VerificationKey
    claims: dict[str, Any]
    expires_at: float


class JwtVerifier:
    """Checks an ``Authorization: Bearer <JWT>`` header the way the Push server does.

    `key_lookup(kid)` returns the key registered under that id (any project) or None. Parsed
    public keys and successful verifications (keyed by project and exact token) are cached; a
    cached verification is re-checked for expiry and for its key still being registered.
    `leeway` is the clock skew forgiven on `iat`, `nbf` and `exp` (60 s by default; Huawei
    publishes no figure, I).
    """

    def __init__(
        self,
        key_lookup: Callable[[str], VerificationKey | None],
        *,
        leeway: int = 60,
        max_lifetime: int = MAX_JWT_LIFETIME,
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        if leeway < 0 or max_lifetime <= 0 or cache_size < 0:
            raise ValueError("leeway and cache_size must be >= 0 and max_lifetime > 0")
        self._key_lookup = key_lookup
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._clock = clock
        self._cache_size = cache_size
        # The allow-list lives in the verifier itself: no other algorithm can ever be accepted.
        self._jws = jwt.PyJWS(algorithms=[JWT_ALGORITHM])
        self._lock = threading.Lock()
        self._verified: OrderedDict[tuple[str, str], _Verified] = OrderedDict()
        self._public_keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._hits = 0
        self._misses = 0

    def __repr__(self) -> str:
        return f"JwtVerifier(leeway={self._leeway}, max_lifetime={self._max_lifetime})"

    def verify(self, authorization: str | None, project_id: str) -> dict[str, Any]:
        """The claims if `authorization` authorises sending for `project_id`; else AuthError."""
        token = _bearer_token(authorization)
        cached = self._cached(project_id, token)
        if cached is not None:
            try:
                self._check_not_expired(cached.expires_at)
            except AuthError:
                self._forget(project_id, token)
                raise
            return dict(cached.claims)
        header = _unverified_header(token)
        key = self._registered_key(header, project_id)
        claims = self._signed_claims(token, key)
        # Identity before time: only a token that is otherwise right hears "expired" (80200005),
        # the one answer that makes a client re-sign and retry.
        _check_identity(claims, key)
        expires_at = self._checked_times(claims)
        self._remember(project_id, token, _Verified(key, claims, expires_at))
        return dict(claims)

    def cache_info(self) -> VerificationCacheInfo:
        """Hits, misses and size of the cache of successful verifications."""
        with self._lock:
            return VerificationCacheInfo(
                self._hits, self._misses, len(self._verified), self._cache_size
            )

    def clear_cache(self) -> None:
        """Forget cached verifications and public keys (after keys are removed or replaced)."""
        with self._lock:
            self._verified.clear()
            self._public_keys.clear()
            self._hits = self._misses = 0

    def _cached(self, project_id: str, token: str) -> _Verified | None:
        with self._lock:
            entry = self._verified.get((project_id, token))
            if entry is None:
                self._misses += 1
                return None
            self._verified.move_to_end((project_id, token))
        if self._key_lookup(entry.key.key_id) != entry.key:  # removed or replaced since
            self._forget(project_id, token)
            with self._lock:
                self._misses += 1
            return None
        with self._lock:
            self._hits += 1
        return entry

    def _forget(self, project_id: str, token: str) -> None:
        with self._lock:
            self._verified.pop((project_id, token), None)

    def _remember(self, project_id: str, token: str, entry: _Verified) -> None:
        if self._cache_size == 0:
            return
        with self._lock:
            self._verified[(project_id, token)] = entry
            self._verified.move_to_end((project_id, token))
            while len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)

    def _registered_key(self, header: dict[str, Any], project_id: str) -> VerificationKey:
        algorithm = header.get("alg")
        if algorithm != JWT_ALGORITHM:
            raise _refusal(
                codes.AUTHENTICATION_ERROR,
                f"JWT alg {_shown(algorithm)} is not allowed; only {JWT_ALGORITHM} is accepted",
            )
        typ = header.get("typ", "JWT")
        # Media-type names are case-insensitive (RFC 7515 4.1.9); Huawei's samples send "JWT".
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise _refusal(codes.AUTHENTICATION_ERROR, 'JWT header typ must be "JWT"')
        key_id = header.get("kid")
        if not isinstance(key_id, str) or not key_id:
            raise _refusal(codes.AUTHENTICATION_ERROR, "JWT header has no kid (the key_id)")
        key = self._key_lookup(key_id)
        if key is None:
            raise _refusal(
                codes.AUTHENTICATION_ERROR, f"JWT kid {_shown(key_id)} is not a known key"
            )
        if key.project_id != project_id:
            raise _refusal(
                codes.AUTHENTICATION_ERROR,
                f"JWT kid {_shown(key_id)} does not belong to project {_shown(project_id)}",
            )
        return key

    def _signed_claims(self, token: str, key: VerificationKey) -> dict[str, Any]:
        public_key = self._public_key(key)
        try:
            verified = self._jws.decode_complete(token, public_key, algorithms=[JWT_ALGORITHM])
        except jwt.InvalidSignatureError:
            raise _refusal(codes.AUTHENTICATION_ERROR, "JWT signature is invalid") from None
        except jwt.PyJWTError:
            raise _not_a_jwt() from None
        try:
            claims = json.loads(verified["payload"])
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise _refusal(codes.AUTHENTICATION_ERROR, "JWT claims are not a JSON object")
        return claims

    def _public_key(self, key: VerificationKey) -> rsa.RSAPublicKey:
        with self._lock:
            public_key = self._public_keys.get(key.public_key_pem)
        if public_key is not None:
            return public_key
        try:
            loaded = serialization.load_pem_public_key(key.public_key_pem.encode("ascii"))
        except Exception:
            loaded = None
        if not isinstance(loaded, rsa.RSAPublicKey):
            logger.warning("registered key %s is not a usable RSA public key", key.key_id)
            raise _refusal(
                codes.AUTHENTICATION_ERROR, f"key {_shown(key.key_id)} is not a usable RSA key"
            )
        with self._lock:
            self._public_keys[key.public_key_pem] = loaded
            while len(self._public_keys) > _PUBLIC_KEY_CACHE_SIZE:
                self._public_keys.popitem(last=False)
        return loaded

    def _checked_times(self, claims: dict[str, Any]) -> float:
        """Check iat/exp/nbf against the clock; return exp."""
        issued_at = _numeric_claim(claims, "iat")
        expires_at = _numeric_claim(claims, "exp")
        if expires_at <= issued_at:
            raise _refusal(codes.AUTHENTICATION_ERROR, "JWT exp must be later than iat")
        lifetime = expires_at - issued_at
        if lifetime > self._max_lifetime:
            raise _refusal(
                codes.JWT_LIFETIME_TOO_LONG,
                f"exp - iat is {lifetime:g} s; at most {self._max_lifetime} s is allowed",
            )
        now = self._clock()
        if issued_at > now + self._leeway:
            raise _refusal(
                codes.AUTHENTICATION_ERROR,
                "JWT iat is in the future; check the sender's clock",
            )
        if "nbf" in claims and _numeric_claim(claims, "nbf") > now + self._leeway:
            raise _refusal(codes.AUTHENTICATION_ERROR, "JWT nbf is in the future")
        self._check_not_expired(expires_at)
        return expires_at

    def _check_not_expired(self, expires_at: float) -> None:
        now = self._clock()
        if now >= expires_at + self._leeway:
            raise _refusal(
                codes.JWT_EXPIRED,
                f"(exp {expires_at:.0f} is {now - expires_at:.0f} s before the server's clock)",
            )


def _bearer_token(authorization: str | None) -> str:
    if not authorization or not isinstance(authorization, str):
        raise _refusal(codes.AUTHENTICATION_ERROR, "missing Authorization header")
    # Exactly "Bearer " as every Huawei sample sends it: stricter than RFC 7235's
    # case-insensitive scheme, so that anything the local server accepts, Huawei accepts too.
    if not authorization.startswith(_BEARER_PREFIX):
        raise _refusal(codes.AUTHENTICATION_ERROR, "Authorization header must be 'Bearer <JWT>'")
    token = authorization[len(_BEARER_PREFIX) :]
    if not token or len(token) > _MAX_TOKEN_LENGTH or token.strip() != token:
        raise _not_a_jwt()
    return token


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _not_a_jwt() from None
    return header


def _check_identity(claims: dict[str, Any], key: VerificationKey) -> None:
    if claims.get("iss") != key.sub_account:
        raise _refusal(codes.AUTHENTICATION_ERROR, "JWT iss must be the key's sub_account")
    audience = claims.get("aud")
    # RFC 7519 allows `aud` to be an array; one holding Huawei's value is accepted (I: Huawei's
    # samples all send the single string).
    audiences = audience if isinstance(audience, list) else [audience]
    if JWT_AUDIENCE not in audiences:
        raise _refusal(codes.AUTHENTICATION_ERROR, f"JWT aud must be {JWT_AUDIENCE!r}")


def _numeric_claim(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refusal(
            codes.AUTHENTICATION_ERROR, f"JWT claim {name} must be a number (Unix seconds)"
        )
    return float(value)


def _shown(value: object) -> str:
    """An attacker-supplied header value as error messages may show it: short, quoted."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _not_a_jwt() -> AuthError:
    return _refusal(codes.AUTHENTICATION_ERROR, "the bearer token is not a well-formed JWT")


def _refusal(entry: BusinessCode, detail: str) -> AuthError:
    logger.debug("JWT refused: %s %s", entry.code, detail)
    return AuthError(entry.code, entry.format(detail), http_status=entry.http_status)
