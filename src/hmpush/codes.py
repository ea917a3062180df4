"""The one table of HarmonyOS Push Kit v3 result codes.

Business codes (with their HTTP status and message text), per-token failure reasons and
delivery-receipt results all live here. The client's exceptions, the local validation and the
emulator's responses read this module; nothing else spells a code.

The v3 documentation does not tie business codes to HTTP statuses (spec section 10.4, open
question 1). Where the spec marks a status **U**, the choice made here is noted on the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

__all__ = [
    "BUSINESS_CODES",
    "DROP_TOKEN_REASONS",
    "BusinessCode",
    "Family",
    "ReceiptResult",
    "TokenFailure",
    "business_code",
]


class Family(StrEnum):
    """What kind of outcome a business code reports; selects the client's exception class."""

    SUCCESS = "success"
    PARTIAL = "partial"
    ALL_INVALID = "all_invalid"
    PAYLOAD = "payload"
    AUTH = "auth"
    PERMISSION = "permission"
    QUOTA = "quota"
    SERVER = "server"


@dataclass(frozen=True, slots=True)
class BusinessCode:
    """One business code: the 8-digit string, its HTTP status and its message text."""

    code: str
    http_status: int
    message: str
    family: Family
    retryable: bool = False

    def format(self, detail: str | None = None, *params: object) -> str:
        """The `msg` text, with `detail` naming the field and rule where one applies.

        `params` fill Huawei's numbered placeholders (``token count should within {0} and {1}.``).
        `80100003` carries the detail in Huawei's own form (``Illegal payload, <tips>``); other
        codes append it after their fixed text so the fixed text stays recognisable.
        """
        text = self.message.format(*params) if params else self.message
        if not detail:
            return text
        if self.code == ILLEGAL_PAYLOAD.code:
            return f"Illegal payload, {detail}"
        return f"{text} {detail}"


SUCCESS = BusinessCode("80000000", 200, "Success", Family.SUCCESS)
PARTIAL_SUCCESS = BusinessCode("80100000", 200, "Check Parameter Partial Success.", Family.PARTIAL)
PARAMETER_ERROR = BusinessCode("80100001", 400, "Check Parameter Error.", Family.PAYLOAD)
ILLEGAL_PAYLOAD = BusinessCode("80100003", 400, "Illegal payload.", Family.PAYLOAD)
ILLEGAL_EXPIRE_TIME = BusinessCode("80100004", 400, "Illegal expire time.", Family.PAYLOAD)
IMAGE_NOT_VERIFIED = BusinessCode("80100022", 400, "Anti-Spam: image not verify.", Family.PAYLOAD)
AUTHENTICATION_ERROR = BusinessCode("80200001", 401, "Authentication Error.", Family.AUTH)
JWT_EXPIRED = BusinessCode("80200005", 401, "Jwt token expired.", Family.AUTH)
# U in the spec (400/403): 403, because the request is understood but not permitted.
NO_PERMISSION = BusinessCode(
    "80300002", 403, "No permission to send message to these tmIDs.", Family.PERMISSION
)
ALL_TOKENS_INVALID = BusinessCode(
    "80300007", 400, "All the tokens are invalid.", Family.ALL_INVALID
)
# U in the spec (400/413): 400, the parameter-error status every documented client handles.
MESSAGE_TOO_LONG = BusinessCode("80300008", 400, "Push message size is too long.", Family.PAYLOAD)
TOKEN_COUNT_OUT_OF_RANGE = BusinessCode(
    "80300010", 400, "token count should within {0} and {1}.", Family.PAYLOAD
)
# U in the spec (400/503): 400 and not retried. Huawei publishes no threshold for "too frequent";
# the emulator applies one per project per minute (off by default), so waiting is the remedy.
TEST_MESSAGE_TOO_FREQUENT = BusinessCode(
    "80300029",
    400,
    "When send test message, the api request exceed limit.",
    Family.QUOTA,
)
TEST_MESSAGE_TOO_MANY_TOKENS = BusinessCode(
    "80300030", 400, "When send test message, token count exceed limit.", Family.PAYLOAD
)
# U in the spec (401/400): 401, it is a property of the credential.
JWT_LIFETIME_TOO_LONG = BusinessCode(
    "80300036", 401, "JWT expire period over threshold.", Family.AUTH
)
# U in the spec (400/403): 403, like the other permission refusals.
PENALTY = BusinessCode(
    "80300037", 403, "Disable send huawei msg because of penalty.", Family.PERMISSION
)
INNER_ERROR = BusinessCode("81000001", 500, "Inner Error.", Family.SERVER, retryable=True)

BUSINESS_CODES: dict[str, BusinessCode] = {
    entry.code: entry
    for entry in (
        SUCCESS,
        PARTIAL_SUCCESS,
        PARAMETER_ERROR,
        ILLEGAL_PAYLOAD,
        ILLEGAL_EXPIRE_TIME,
        IMAGE_NOT_VERIFIED,
        AUTHENTICATION_ERROR,
        JWT_EXPIRED,
        NO_PERMISSION,
        ALL_TOKENS_INVALID,
        MESSAGE_TOO_LONG,
        TOKEN_COUNT_OUT_OF_RANGE,
        TEST_MESSAGE_TOO_FREQUENT,
        TEST_MESSAGE_TOO_MANY_TOKENS,
        JWT_LIFETIME_TOO_LONG,
        PENALTY,
        INNER_ERROR,
    )
}

# HTTP statuses that carry no documented business code (spec 10.3). Huawei's own Java demo
# reports such answers with the HTTP status as the code; the emulator's bodies do the same.
FLOW_CONTROL = BusinessCode(
    "503", 503, "Flow control: too many tokens per second, retry later.", Family.QUOTA, True
)
BAD_GATEWAY = BusinessCode("502", 502, "Bad gateway, retry later.", Family.SERVER, True)
INTERNAL_SERVER_ERROR = BusinessCode("500", 500, "Internal server error.", Family.SERVER, True)
NOT_FOUND = BusinessCode("404", 404, "Service not found, check the URI.", Family.PAYLOAD)
METHOD_NOT_ALLOWED = BusinessCode(
    "405", 405, "Method not allowed, messages:send takes POST.", Family.PAYLOAD
)
HTTP_ONLY_CODES: dict[int, BusinessCode] = {
    entry.http_status: entry
    for entry in (FLOW_CONTROL, BAD_GATEWAY, INTERNAL_SERVER_ERROR, NOT_FOUND, METHOD_NOT_ALLOWED)
}


def business_code(code: str) -> BusinessCode | None:
    """The table entry for a business code string, or None for a code this table does not know."""
    return BUSINESS_CODES.get(code)


class TokenFailure(StrEnum):
    """Per-token failure reasons: the keys of `illegalTokens` (spec 10.2)."""

    NO_PUSH_TYPE_RIGHT = "noPushTypeRight"
    NO_RIGHT = "noRight"
    ATOMIC_UNABLE_SEND_UNSUBSCRIBED_MSG = "atomicUnableSendUnsubscribedMsg"
    TOKEN_FORMAT_ERROR = "tokenFormatError"
    COUNTRY_NOT_SUPPORT = "countryNotSupport"
    TOKEN_PLATFORM_NOT_SUPPORT = "tokenPlatformNotSupport"
    DISABLED_BECAUSE_OF_PENALTY = "disableSendHuaweiMsgBecauseOfPenalty"
    DIFFERENT_IMAGE_VERIFY_POLICY = "differentImgVerifyPolicy"
    APP_INFO_ERROR = "appinfoError"
    NO_RIGHT_TO_SEND_THIS_LIVE_NOTIFICATION_EVENT = "noRightToSendThisLiveNotificationEvent"
    NOT_SUPPORT_PLAY_VOICE = "notSupportPlayVoice"


# Per-token reasons that say the token itself is unusable for this project: delete or re-fetch it
# (spec 10.2's fixes). The other reasons concern the app's rights or the message, which another
# message or a granted right may pass. The client's `invalid_tokens` and a campaign's
# `invalid-tokens.txt` both read this set.
DROP_TOKEN_REASONS: frozenset[str] = frozenset(
    {
        TokenFailure.TOKEN_FORMAT_ERROR.value,
        TokenFailure.NO_RIGHT.value,
        TokenFailure.TOKEN_PLATFORM_NOT_SUPPORT.value,
    }
)


class ReceiptResult(IntEnum):
    """Delivery-receipt `result` codes (spec 11.3)."""

    DELIVERED = 0
    APP_UNINSTALLED = 2
    TOKEN_MISMATCH = 5
    NOTIFICATIONS_DISABLED = 6
    INACTIVE_DEVICE = 10
    OTHER_ERROR = 14
    OFFLINE_MESSAGE_CONTROL = 15
    DIFFERENT_LOCAL_USER = 22
    APP_NOT_RUNNING = 27
    PAGE_NOT_FOUND = 31
    DEVICE_LOCKED_AFTER_REBOOT = 51
    DEVICE_FREQUENCY_CONTROL = 102
    PROFILE_NOT_BOUND = 144
    NOT_SHOWN_OR_FORM_MISSING = 151
    LIVE_VIEW_UPDATE_FAILED = 155
    LIVE_VIEW_VERSION_NOT_GREATER = 156
    LIVE_VIEW_ALREADY_EXISTS = 158
    APP_LAUNCH_FAILED = 188
    BADGE_UPDATE_FAILED = 191
    SCENARIO_FREQUENCY_LIMIT = 256
    PROHIBITED_CONTENT = 259
    FORM_NOT_EXIST = 261
    FORM_REFRESH_LIMIT = 262
    NOT_SUBSCRIBED = 264
    LIVE_VIEW_NOT_EXIST = 265
    LIVE_VIEW_UPDATE_WITHOUT_STATUS = 268
    LIVE_VIEW_DUPLICATE_CREATE = 269

    @property
    def means_delete_token(self) -> bool:
        """Huawei advises dropping tokens whose receipts say 2, 5, 6 or 10."""
        return self in _DELETE_TOKEN_RESULTS


_DELETE_TOKEN_RESULTS = frozenset(
    {
        ReceiptResult.APP_UNINSTALLED,
        ReceiptResult.TOKEN_MISMATCH,
        ReceiptResult.NOTIFICATIONS_DISABLED,
        ReceiptResult.INACTIVE_DEVICE,
    }
)
