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

# Delivery receipts: models, callback signing and checks, the store (the receiver app itself,
# `hmpush.receipts.create_receiver_app`, needs the `emulator` extra).
from hmpush.receipts import (
    DeliveryStatus,
    FormStatus,
    ReceiptBatch,
    ReceiptStatus,
    ReceiptStore,
    sign_callback,
    tokens_to_delete,
    verify_callback,
)

__all__ += [
    "DeliveryStatus",
    "FormStatus",
    "ReceiptBatch",
    "ReceiptStatus",
    "ReceiptStore",
    "sign_callback",
    "tokens_to_delete",
    "verify_callback",
]

# Sending: the async and sync clients, their results and the retry policy.
from hmpush.client import (  # noqa: E402 (grouped with its __all__ entries)
    AsyncPushClient,
    BatchFailure,
    BatchResult,
    HttpRequestPreview,
    PushClient,
    RetryPolicy,
    SendResult,
    TokenOutcome,
)

__all__ += [
    "AsyncPushClient",
    "BatchFailure",
    "BatchResult",
    "HttpRequestPreview",
    "PushClient",
    "RetryPolicy",
    "SendResult",
    "TokenOutcome",
]

# Messages: the payload models, request validation and preparation, response shapes.
from hmpush.messages import (  # noqa: E402 (grouped with its __all__ entries)
    AlertPayload,
    BackgroundPayload,
    Badge,
    Category,
    ClickAction,
    ClickActionType,
    ExtensionPayload,
    FormImage,
    FormUpdatePayload,
    LiveViewPayload,
    Notification,
    Payload,
    PreparedMessage,
    PushOptions,
    PushType,
    SendResponse,
    Target,
    TokenResults,
    ValidatedRequest,
    VoIPCallPayload,
    is_plausible_token,
    prepare,
    validate_request,
)

__all__ += [
    "AlertPayload",
    "BackgroundPayload",
    "Badge",
    "Category",
    "ClickAction",
    "ClickActionType",
    "ExtensionPayload",
    "FormImage",
    "FormUpdatePayload",
    "LiveViewPayload",
    "Notification",
    "Payload",
    "PreparedMessage",
    "PushOptions",
    "PushType",
    "SendResponse",
    "Target",
    "TokenResults",
    "ValidatedRequest",
    "VoIPCallPayload",
    "is_plausible_token",
    "prepare",
    "validate_request",
]

# Campaigns: one message to a token list of any size, rate-limited and resumable.
from hmpush.fanout import (  # noqa: E402 (grouped with its __all__ entries)
    Campaign,
    CampaignError,
    CampaignOutcome,
    CampaignProgress,
    CampaignSummary,
    EmulatorRequestLog,
    PlanReport,
)

__all__ += [
    "Campaign",
    "CampaignError",
    "CampaignOutcome",
    "CampaignProgress",
    "CampaignSummary",
    "EmulatorRequestLog",
    "PlanReport",
]
