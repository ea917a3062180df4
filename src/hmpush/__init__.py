"""hmpush: HarmonyOS Push Kit v3 (scenario-based messages) for Python.

Every public name is importable from here. They load on first use (PEP 562), so that
`import hmpush` and the pytest plugin stay cheap for code that needs only part of the package.

```python
from hmpush import AlertPayload, ClickAction, Notification, PushClient

message = AlertPayload(
    notification=Notification(
        category="IM", title="Hi", body="Lunch?", click_action=ClickAction(action_type=0)
    )
)
with PushClient("service-account.json") as client:
    result = client.send(message, tokens)
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "AuthError": "hmpush.errors",
    "CredentialsError": "hmpush.errors",
    "HmpushError": "hmpush.errors",
    "PayloadError": "hmpush.errors",
    "PermissionDeniedError": "hmpush.errors",
    "PushError": "hmpush.errors",
    "QuotaError": "hmpush.errors",
    "ServerError": "hmpush.errors",
    "TransportError": "hmpush.errors",
    "ValidationError": "hmpush.errors",
    "ReceiptResult": "hmpush.codes",
    "TokenFailure": "hmpush.codes",
    "AlertPayload": "hmpush.messages",
    "BackgroundPayload": "hmpush.messages",
    "Badge": "hmpush.messages",
    "Category": "hmpush.messages",
    "ClickAction": "hmpush.messages",
    "ClickActionType": "hmpush.messages",
    "ExtensionPayload": "hmpush.messages",
    "FormImage": "hmpush.messages",
    "FormUpdatePayload": "hmpush.messages",
    "is_plausible_token": "hmpush.messages",
    "LiveViewPayload": "hmpush.messages",
    "Notification": "hmpush.messages",
    "Payload": "hmpush.messages",
    "prepare": "hmpush.messages",
    "PreparedMessage": "hmpush.messages",
    "PushOptions": "hmpush.messages",
    "PushType": "hmpush.messages",
    "SendResponse": "hmpush.messages",
    "Target": "hmpush.messages",
    "TokenResults": "hmpush.messages",
    "validate_request": "hmpush.messages",
    "ValidatedRequest": "hmpush.messages",
    "VoIPCallPayload": "hmpush.messages",
    "generate_service_account": "hmpush.auth",
    "JwtSigner": "hmpush.auth",
    "JwtVerifier": "hmpush.auth",
    "ServiceAccount": "hmpush.auth",
    "VerificationKey": "hmpush.auth",
    "write_service_account": "hmpush.auth",
    "AsyncPushClient": "hmpush.client",
    "BatchFailure": "hmpush.client",
    "BatchResult": "hmpush.client",
    "HttpRequestPreview": "hmpush.client",
    "PushClient": "hmpush.client",
    "RetryPolicy": "hmpush.client",
    "SendResult": "hmpush.client",
    "TokenOutcome": "hmpush.client",
    "Campaign": "hmpush.fanout",
    "CampaignError": "hmpush.fanout",
    "CampaignOutcome": "hmpush.fanout",
    "CampaignProgress": "hmpush.fanout",
    "CampaignSummary": "hmpush.fanout",
    "EmulatorRequestLog": "hmpush.fanout",
    "PlanReport": "hmpush.fanout",
    "DeliveryStatus": "hmpush.receipts",
    "FormStatus": "hmpush.receipts",
    "ReceiptBatch": "hmpush.receipts",
    "ReceiptStatus": "hmpush.receipts",
    "ReceiptStore": "hmpush.receipts",
    "sign_callback": "hmpush.receipts",
    "tokens_to_delete": "hmpush.receipts",
    "verify_callback": "hmpush.receipts",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hmpush' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from hmpush.auth import (
        JwtSigner as JwtSigner,
    )
    from hmpush.auth import (
        JwtVerifier as JwtVerifier,
    )
    from hmpush.auth import (
        ServiceAccount as ServiceAccount,
    )
    from hmpush.auth import (
        VerificationKey as VerificationKey,
    )
    from hmpush.auth import (
        generate_service_account as generate_service_account,
    )
    from hmpush.auth import (
        write_service_account as write_service_account,
    )
    from hmpush.client import (
        AsyncPushClient as AsyncPushClient,
    )
    from hmpush.client import (
        BatchFailure as BatchFailure,
    )
    from hmpush.client import (
        BatchResult as BatchResult,
    )
    from hmpush.client import (
        HttpRequestPreview as HttpRequestPreview,
    )
    from hmpush.client import (
        PushClient as PushClient,
    )
    from hmpush.client import (
        RetryPolicy as RetryPolicy,
    )
    from hmpush.client import (
        SendResult as SendResult,
    )
    from hmpush.client import (
        TokenOutcome as TokenOutcome,
    )
    from hmpush.codes import (
        ReceiptResult as ReceiptResult,
    )
    from hmpush.codes import (
        TokenFailure as TokenFailure,
    )
    from hmpush.errors import (
        AuthError as AuthError,
    )
    from hmpush.errors import (
        CredentialsError as CredentialsError,
    )
    from hmpush.errors import (
        HmpushError as HmpushError,
    )
    from hmpush.errors import (
        PayloadError as PayloadError,
    )
    from hmpush.errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from hmpush.errors import (
        PushError as PushError,
    )
    from hmpush.errors import (
        QuotaError as QuotaError,
    )
    from hmpush.errors import (
        ServerError as ServerError,
    )
    from hmpush.errors import (
        TransportError as TransportError,
    )
    from hmpush.errors import (
        ValidationError as ValidationError,
    )
    from hmpush.fanout import (
        Campaign as Campaign,
    )
    from hmpush.fanout import (
        CampaignError as CampaignError,
    )
    from hmpush.fanout import (
        CampaignOutcome as CampaignOutcome,
    )
    from hmpush.fanout import (
        CampaignProgress as CampaignProgress,
    )
    from hmpush.fanout import (
        CampaignSummary as CampaignSummary,
    )
    from hmpush.fanout import (
        EmulatorRequestLog as EmulatorRequestLog,
    )
    from hmpush.fanout import (
        PlanReport as PlanReport,
    )
    from hmpush.messages import (
        AlertPayload as AlertPayload,
    )
    from hmpush.messages import (
        BackgroundPayload as BackgroundPayload,
    )
    from hmpush.messages import (
        Badge as Badge,
    )
    from hmpush.messages import (
        Category as Category,
    )
    from hmpush.messages import (
        ClickAction as ClickAction,
    )
    from hmpush.messages import (
        ClickActionType as ClickActionType,
    )
    from hmpush.messages import (
        ExtensionPayload as ExtensionPayload,
    )
    from hmpush.messages import (
        FormImage as FormImage,
    )
    from hmpush.messages import (
        FormUpdatePayload as FormUpdatePayload,
    )
    from hmpush.messages import (
        LiveViewPayload as LiveViewPayload,
    )
    from hmpush.messages import (
        Notification as Notification,
    )
    from hmpush.messages import (
        Payload as Payload,
    )
    from hmpush.messages import (
        PreparedMessage as PreparedMessage,
    )
    from hmpush.messages import (
        PushOptions as PushOptions,
    )
    from hmpush.messages import (
        PushType as PushType,
    )
    from hmpush.messages import (
        SendResponse as SendResponse,
    )
    from hmpush.messages import (
        Target as Target,
    )
    from hmpush.messages import (
        TokenResults as TokenResults,
    )
    from hmpush.messages import (
        ValidatedRequest as ValidatedRequest,
    )
    from hmpush.messages import (
        VoIPCallPayload as VoIPCallPayload,
    )
    from hmpush.messages import (
        is_plausible_token as is_plausible_token,
    )
    from hmpush.messages import (
        prepare as prepare,
    )
    from hmpush.messages import (
        validate_request as validate_request,
    )
    from hmpush.receipts import (
        DeliveryStatus as DeliveryStatus,
    )
    from hmpush.receipts import (
        FormStatus as FormStatus,
    )
    from hmpush.receipts import (
        ReceiptBatch as ReceiptBatch,
    )
    from hmpush.receipts import (
        ReceiptStatus as ReceiptStatus,
    )
    from hmpush.receipts import (
        ReceiptStore as ReceiptStore,
    )
    from hmpush.receipts import (
        sign_callback as sign_callback,
    )
    from hmpush.receipts import (
        tokens_to_delete as tokens_to_delete,
    )
    from hmpush.receipts import (
        verify_callback as verify_callback,
    )
