"""Service-account auth: key files, PS256 JWT signing for senders, verification for the server.

Key files load exactly as Huawei issues them (`ServiceAccount`); `JwtSigner` signs one cached JWT
per validity window for any number of threads and tasks; `JwtVerifier` checks bearer tokens the
way the Push server does and answers with the server's codes (80200001, 80200005, 80300036).
Neither ever logs or shows a private key or a JWT.
"""

from __future__ import annotations

from hmpush.auth._account import (
    DEFAULT_ENV_VAR,
    HUAWEI_TOKEN_URI,
    InsecureKeyFileWarning,
    ServiceAccount,
    generate_service_account,
    write_service_account,
)
from hmpush.auth._signer import JWT_ALGORITHM, JWT_AUDIENCE, MAX_JWT_LIFETIME, JwtSigner
from hmpush.auth._verifier import JwtVerifier, VerificationCacheInfo, VerificationKey

__all__ = [
    "DEFAULT_ENV_VAR",
    "HUAWEI_TOKEN_URI",
    "JWT_ALGORITHM",
    "JWT_AUDIENCE",
    "MAX_JWT_LIFETIME",
    "InsecureKeyFileWarning",
    "JwtSigner",
    "JwtVerifier",
    "ServiceAccount",
    "VerificationCacheInfo",
    "VerificationKey",
    "generate_service_account",
    "write_service_account",
]
