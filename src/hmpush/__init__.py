"""hmpush: HarmonyOS Push Kit v3 (scenario-based messages) for Python."""

from __future__ import annotations

from hmpush.auth import (
    JwtSigner,
    JwtVerifier,
    ServiceAccount,
    VerificationKey,
    generate_service_account,
    write_service_account,
)
from hmpush.codes import ReceiptResult, TokenFailure
from hmpush.errors import (
    AuthError,
    CredentialsError,
    HmpushError,
    PayloadError,
    PermissionDeniedError,
    PushError,
    QuotaError,
    ServerError,
    TransportError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "CredentialsError",
    "HmpushError",
    "JwtSigner",
    "JwtVerifier",
    "PayloadError",
    "PermissionDeniedError",
    "PushError",
    "QuotaError",
    "ReceiptResult",
    "ServerError",
    "ServiceAccount",
    "TokenFailure",
    "TransportError",
    "ValidationError",
    "VerificationKey",
    "__version__",
    "generate_service_account",
    "write_service_account",
]
