"""Pydantic models of the V2 delivery-receipt callback body (spec section 11.2)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from hmpush.codes import ReceiptResult

__all__ = [
    "MAX_STATUSES_PER_BATCH",
    "WIDGET_PUSH_TYPE",
    "DeliveryStatus",
    "FormStatus",
    "ReceiptBatch",
    "ReceiptStatus",
]

MAX_STATUSES_PER_BATCH = 100
# push-type 1 (widget refresh) is the only one whose receipts carry `formStatus` (spec 11.2).
WIDGET_PUSH_TYPE = 1
_MAX_FORM_ID = 2**31 - 1
# The spec types result and pushType as Integer (32-bit) and timestamp as Long (64-bit); larger
# numbers are malformed receipts (and would not fit the store's SQLite integers).
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_LONG_MAX = 2**63 - 1


class _ReceiptModel(BaseModel):
    # Unknown fields are ignored, not refused: a receiver that refused a receipt because Huawei
    # added a field would lose delivery reports. Numbers are strict (the spec says Integer/Long),
    # so `"result": "0"` or `true` is a malformed receipt rather than a silently coerced one.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        strict=True,
        frozen=True,
    )


class DeliveryStatus(_ReceiptModel):
    """Outcome of a non-widget message on one device: receipt `result` and its time in ms."""

    result: int = Field(ge=_INT32_MIN, le=_INT32_MAX)
    timestamp: int = Field(ge=0, le=_LONG_MAX)

    @property
    def result_code(self) -> ReceiptResult | None:
        """The result as a `ReceiptResult`, or None for a code the table does not know."""
        return _known_result(self.result)


class FormStatus(_ReceiptModel):
    """Outcome of a widget refresh on one widget: its `formId`, receipt `result` and time in ms."""

    form_id: int = Field(ge=0, le=_MAX_FORM_ID)
    result: int = Field(ge=_INT32_MIN, le=_INT32_MAX)
    timestamp: int = Field(ge=0, le=_LONG_MAX)

    @property
    def result_code(self) -> ReceiptResult | None:
        """The result as a `ReceiptResult`, or None for a code the table does not know."""
        return _known_result(self.result)


class ReceiptStatus(_ReceiptModel):
    """One V2 status: what happened to one message on one token."""

    token: str = Field(min_length=1)
    push_type: int = Field(ge=0, le=_INT32_MAX)
    app_package_name: str = Field(min_length=1)
    bi_tag: str = ""
    request_id: str = Field(min_length=1)
    delivery_status: DeliveryStatus | None = None
    form_status: FormStatus | None = None

    @field_validator("bi_tag", mode="before")
    @classmethod
    def _absent_bi_tag_is_empty(cls, value: Any) -> Any:
        # The spec says biTag is empty when the message had none; null means the same thing.
        return "" if value is None else value

    @model_validator(mode="after")
    def _one_status_matching_push_type(self) -> ReceiptStatus:
        # Choice (spec 11.2 marks both optional): a status must say what happened, so exactly one
        # of the two is required, and it must be the one the push-type calls for.
        if (self.delivery_status is None) == (self.form_status is None):
            raise ValueError("exactly one of deliveryStatus and formStatus is required")
        if self.push_type == WIDGET_PUSH_TYPE and self.form_status is None:
            raise ValueError("widget refresh receipts (pushType 1) carry formStatus")
        if self.push_type != WIDGET_PUSH_TYPE and self.delivery_status is None:
            raise ValueError("formStatus is only for widget refresh receipts (pushType 1)")
        return self

    @property
    def result(self) -> int:
        """The receipt result code, whichever status object carries it."""
        return self._status.result

    @property
    def timestamp(self) -> int:
        """Arrival time (or, on failure, receipt creation time) in ms since the epoch."""
        return self._status.timestamp

    @property
    def form_id(self) -> int | None:
        """The widget's formId for widget refresh receipts, else None."""
        return self.form_status.form_id if self.form_status is not None else None

    @property
    def result_code(self) -> ReceiptResult | None:
        """The result as a `ReceiptResult`, or None for a code the table does not know."""
        return _known_result(self.result)

    @property
    def _status(self) -> DeliveryStatus | FormStatus:
        status = self.delivery_status or self.form_status
        assert status is not None  # guaranteed by the model validator
        return status


class ReceiptBatch(_ReceiptModel):
    """The callback body: `{"statuses": [...]}` with 1 to 100 statuses."""

    statuses: list[ReceiptStatus] = Field(min_length=1, max_length=MAX_STATUSES_PER_BATCH)

    def to_json(self) -> bytes:
        """The exact camelCase JSON body Huawei posts (absent optional objects are left out)."""
        return orjson.dumps(self.model_dump(by_alias=True, exclude_none=True))

    @classmethod
    def from_json(cls, body: bytes | str) -> ReceiptBatch:
        """Parse a callback body; raises `pydantic.ValidationError` when it breaks a rule."""
        return cls.model_validate_json(body)


def _known_result(result: int) -> ReceiptResult | None:
    try:
        return ReceiptResult(result)
    except ValueError:
        return None
