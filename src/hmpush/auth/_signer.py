"""PS256 JWT signing with one cached token per validity window, shared by threads and tasks."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from hmpush.auth._account import HUAWEI_TOKEN_URI, ServiceAccount

__all__ = ["JWT_ALGORITHM", "JWT_AUDIENCE", "MAX_JWT_LIFETIME", "JwtSigner"]

JWT_ALGORITHM = "PS256"
# The fixed `aud` of every push JWT (spec 2.3), whatever `token_uri` a key file carries.
JWT_AUDIENCE = HUAWEI_TOKEN_URI
# The Push server refuses a JWT whose `exp - iat` is over one day (80300036).
MAX_JWT_LIFETIME = 86400

logger = logging.getLogger("hmpush.auth")


@dataclass(frozen=True, slots=True)
class _CachedToken:
    token: str
    expires_at: int
    refresh_at: float


class JwtSigner:
    """Signs the service account's push JWTs and reuses each until `refresh_margin` before expiry.

    `token()` signs at most once per validity window however many threads ask; `atoken()` is the
    same for asyncio tasks (signing runs in a worker thread so the event loop keeps serving).
    After the server answers `80200005`, call `refresh(stale_token)`: concurrent callers holding
    the same stale token cause one new signature between them.
    """

    def __init__(
        self,
        account: ServiceAccount | str | os.PathLike[str] | Mapping[str, Any],
        *,
        lifetime: int = 3600,
        refresh_margin: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_window(lifetime, refresh_margin)
        self._account = ServiceAccount.load(account)
        self._lifetime = lifetime
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: _CachedToken | None = None
        self._signature_count = 0

    def __repr__(self) -> str:
        return (
            f"JwtSigner(project_id={self._account.project_id!r}, "
            f"key_id={self._account.key_id!r}, lifetime={self._lifetime}, "
            f"signature_count={self._signature_count})"
        )

    __str__ = __repr__

    @property
    def account(self) -> ServiceAccount:
        """The service account whose key signs."""
        return self._account

    @property
    def signature_count(self) -> int:
        """How many JWTs this signer has signed (one per validity window when all goes well)."""
        return self._signature_count

    def token(self) -> str:
        """The current JWT, signing a new one only when none is cached or it is about to expire."""
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.token
            return self._sign_locked()

    def refresh(self, stale: str | None = None) -> str:
        """Sign a new JWT unless `stale` has already been replaced; None forces a new one."""
        with self._lock:
            cached = self._cached
            replaced_already = (
                stale is not None
                and cached is not None
                and cached.token != stale
                and self._clock() < cached.refresh_at
            )
            if replaced_already:
                assert cached is not None
                return cached.token
            return self._sign_locked()

    async def atoken(self) -> str:
        """`token()` for asyncio code: never blocks the event loop on the RSA signature."""
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        return await asyncio.to_thread(self.token)

    async def arefresh(self, stale: str | None = None) -> str:
        """`refresh()` for asyncio code."""
        return await asyncio.to_thread(self.refresh, stale)

    def _sign_locked(self) -> str:
        issued_at = int(self._clock())
        expires_at = issued_at + self._lifetime
        claims = {
            "iss": self._account.sub_account,
            "aud": JWT_AUDIENCE,
            "iat": issued_at,
            "exp": expires_at,
        }
        token = jwt.encode(
            claims,
            self._account.private_key,
            algorithm=JWT_ALGORITHM,
            headers={"kid": self._account.key_id, "typ": "JWT"},
        )
        self._cached = _CachedToken(token, expires_at, expires_at - self._refresh_margin)
        self._signature_count += 1
        logger.debug(
            "signed a new JWT with key %s of project %s, valid until %d",
            self._account.key_id,
            self._account.project_id,
            expires_at,
        )
        return token


def _check_window(lifetime: int, refresh_margin: int) -> None:
    for name, value in (("lifetime", lifetime), ("refresh_margin", refresh_margin)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number of seconds, got {value!r}")
    if not 0 < lifetime <= MAX_JWT_LIFETIME:
        raise ValueError(
            f"lifetime must be between 1 and {MAX_JWT_LIFETIME} seconds "
            f"(the Push server refuses longer JWTs with 80300036), got {lifetime}"
        )
    if not 0 <= refresh_margin < lifetime:
        raise ValueError(
            f"refresh_margin must be at least 0 and less than lifetime ({lifetime}), "
            f"got {refresh_margin}"
        )
