"""Objects shared by several push-types: ClickAction, Badge, RichText, PushOptions and Target."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, model_validator

from hmpush.codes import ILLEGAL_EXPIRE_TIME
from hmpush.messages._base import (
    Bool,
    Int,
    Str,
    WireModel,
    argb_colour,
    between,
    int_enum,
    json_data,
    non_empty,
    rule_error,
)
from hmpush.messages.enums import ClickActionType

__all__ = ["Badge", "ClickAction", "PushOptions", "RichText", "Target"]

# actionType 5: `data.tel` is at most 20 characters of `+` (first only), `-`, space, digits, `#`,
# starting with `+` or a digit.
_TEL = re.compile(r"[+0-9][-0-9 #]{0,19}")

MAX_TTL_SECONDS = 15 * 24 * 3600
MAX_BI_TAG_BYTES = 64


class ClickAction(WireModel):
    """What happens when the user taps (spec 5.3); the allowed actionType depends on the context."""

    action_type: Annotated[ClickActionType, int_enum(ClickActionType)]
    action: Str | None = None
    uri: Str | None = None
    data: Annotated[dict[str, Any], json_data()] | None = None

    @model_validator(mode="after")
    def _check_target(self) -> Self:
        if self.action_type == ClickActionType.OPEN_PAGE and not (self.action or self.uri):
            raise rule_error("actionType 1 needs a non-empty action or uri", "action")
        if self.action_type == ClickActionType.DIAL:
            # The spec says data "must be {"tel": ...}"; other keys are refused too (I), since
            # the dialer ignores them and a sender who adds them most likely expects them used.
            tel = (self.data or {}).get("tel")
            if not isinstance(tel, str):
                raise rule_error("actionType 5 needs data.tel, a phone number string", "data.tel")
            if _TEL.fullmatch(tel) is None:
                raise rule_error(
                    "must be at most 20 characters of digits, '-', ' ', '#' and a leading '+'",
                    "data.tel",
                )
            extra = sorted(set(self.data or {}) - {"tel"})
            if extra:
                raise rule_error("with actionType 5 data may hold only tel", f"data.{extra[0]}")
        return self


class Badge(WireModel):
    """App-icon badge control (spec 5.4); setNum wins over addNum."""

    add_num: Annotated[Int, between(1, 99)] | None = None
    set_num: Annotated[Int, between(0, 99)] | None = None


class RichText(WireModel):
    """A run of text with an optional colour (spec 8.7)."""

    text: Str
    foreground_color: Annotated[Str, argb_colour()] | None = None


def _check_ttl(value: int) -> int:
    # A ttl that is not in the future is Huawei's "Illegal expire time" (80100004); 0 is taken
    # to mean "already expired" (I).
    if value < 1:
        raise rule_error("must be at least 1 second", code=ILLEGAL_EXPIRE_TIME.code)
    if value > MAX_TTL_SECONDS:
        raise rule_error(f"value ranges from 1 to {MAX_TTL_SECONDS}")
    return value


def _check_bi_tag(value: str) -> str:
    if len(value.encode()) > MAX_BI_TAG_BYTES:
        raise rule_error(f"must be at most {MAX_BI_TAG_BYTES} bytes in UTF-8")
    return value


class PushOptions(WireModel):
    """Sending controls (spec 3.2).

    Unknown keys are refused with 80100001 (open question 11). collapseKey outside push-types
    0/2 and backgroundMode outside push-type 6 are accepted and have no effect, as the spec
    describes them as "only effective" there rather than as errors (I).
    """

    ERROR_PATH_ROOT: ClassVar[str] = "pushOptions"

    test_message: Bool | None = None
    ttl: Annotated[Int, AfterValidator(_check_ttl)] | None = None
    bi_tag: Annotated[Str, AfterValidator(_check_bi_tag)] | None = None
    # receiptId must name a receipt config; an empty string can name none (I).
    receipt_id: Annotated[Str, non_empty()] | None = None
    collapse_key: Annotated[Int, between(-1, 100)] | None = None
    background_mode: Annotated[Int, between(0, 1)] | None = None

    @property
    def is_test(self) -> bool:
        """Whether this is a test message (with its own token and daily limits)."""
        return bool(self.test_message)


class Target(WireModel):
    """Recipients: push tokens only in v3 (spec 4); the count is checked per request."""

    ERROR_PATH_ROOT: ClassVar[str] = "target"

    token: list[Str]
