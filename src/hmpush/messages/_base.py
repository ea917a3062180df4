"""Building blocks shared by every wire model: the base class, strict scalar types, rule helpers.

Every rule of the spec is written once, next to the field it concerns, with these helpers:
field-level rules as `Annotated` metadata (`between`, `max_chars`, `argb_colour`, ...) and
cross-field rules in the models' `model_validator`s, which raise `rule_error`. A rule error
carries the rule text and, where the rule concerns a field below the model that checks it, that
field's relative path; `hmpush.messages._errors` turns it into a Huawei code and message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from enum import Enum, IntEnum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

RULE_ERROR_TYPE = "hmpush_rule"

# Strict scalars: JSON `"1"`, `true` or `1.0` is not an Integer, `1` is not a String.
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
# JSON integers are accepted where the spec allows fractions (geofence degrees).
Number = Annotated[float, Strict()]

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1


def rule_error(
    rule: str, field: str | None = None, *, code: str | None = None
) -> PydanticCustomError:
    """An error for a broken rule; `field` is the camelCase path below the checking model."""
    context: dict[str, str] = {"rule": rule}
    if field:
        context["field"] = field
    if code:
        context["code"] = code
    return PydanticCustomError(RULE_ERROR_TYPE, "{rule}", context)


def between(low: int | float, high: int | float) -> AfterValidator:
    """Field rule: low <= value <= high."""

    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise rule_error(f"value ranges from {low} to {high}")
        return value

    return AfterValidator(check)


def max_chars(limit: int, *, non_empty: bool = False) -> AfterValidator:
    """Field rule: a string of at most `limit` characters (optionally also not empty).

    Characters are Unicode code points, as a reader counts them (U: the spec does not say
    whether Huawei counts UTF-16 units, where an emoji is two).
    """

    def check(value: str) -> str:
        if non_empty and not value:
            raise rule_error("must not be empty")
        if len(value) > limit:
            raise rule_error(f"must be at most {limit} characters")
        return value

    return AfterValidator(check)


def non_empty() -> AfterValidator:
    """Field rule: a string or array that is not empty."""

    def check(value: Any) -> Any:
        if not value:
            raise rule_error("must not be empty")
        return value

    return AfterValidator(check)


def max_items(limit: int, *, min_items: int = 0) -> AfterValidator:
    """Field rule: an array with min_items..limit elements."""

    def check(value: list[Any]) -> list[Any]:
        if not min_items <= len(value) <= limit:
            if min_items:
                raise rule_error(f"must have {min_items} to {limit} items")
            raise rule_error(f"must have at most {limit} items")
        return value

    return AfterValidator(check)


def matches(pattern: str, description: str) -> AfterValidator:
    """Field rule: the whole string matches `pattern`; `description` is the rule users read."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise rule_error(description)
        return value

    return AfterValidator(check)


def https_url() -> AfterValidator:
    """Field rule: an absolute HTTPS URL (image fields: Huawei downloads only over HTTPS)."""
    return matches(r"https://[^\s/?#]+[^\s]*", "must be an HTTPS URL")


def argb_colour() -> AfterValidator:
    """Field rule: a colour written #AARRGGBB."""
    return matches(r"#[0-9A-Fa-f]{8}", "must be a colour in the form #AARRGGBB")


def rgb_colour() -> AfterValidator:
    """Field rule: a colour written #RRGGBB."""
    return matches(r"#[0-9A-Fa-f]{6}", "must be a colour in the form #RRGGBB")


def _enum_member(enum: type[Enum], json_type: type, type_rule: str) -> BeforeValidator:
    allowed = ", ".join(str(member.value) for member in enum)
    members: dict[Any, Enum] = {member.value: member for member in enum}

    def check(value: Any) -> Any:
        if type(value) is json_type or isinstance(value, enum):
            member = members.get(value)
            if member is None:
                raise rule_error(f"must be one of {allowed}")
            return member
        raise rule_error(type_rule)

    return BeforeValidator(check)


def int_enum(enum: type[IntEnum]) -> BeforeValidator:
    """Field rule for integer enumerations: only a JSON integer that is one of the enum's values.

    pydantic's lax enum parsing would take `"1"`, `true` or `1.0`; the wire format does not.
    """
    return _enum_member(enum, int, "must be an integer")


def text_enum(enum: type[StrEnum]) -> BeforeValidator:
    """Field rule for text enumerations: only a JSON string that is one of the enum's values."""
    return _enum_member(enum, str, "must be a string")


def _is_json_data(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif item is not None and not isinstance(item, str | int):
            return False
    return True


def json_data() -> AfterValidator:
    """Field rule for free-form objects: plain JSON only (no NaN/Infinity, no Python objects)."""

    def check(value: Any) -> Any:
        if not _is_json_data(value):
            raise rule_error("must hold only JSON values (finite numbers, no NaN or Infinity)")
        return value

    return AfterValidator(check)


def require(condition: bool, rule: str, field: str) -> None:
    """Raise a rule error for `field` unless `condition` holds (for cross-field validators)."""
    if not condition:
        raise rule_error(rule, field)


def distinct_colours(items: Iterable[Any]) -> int:
    """How many different `foregroundColor` values a RichText array uses (absent ones excluded)."""
    return len({item.foreground_color for item in items if item.foreground_color is not None})


class WireModel(BaseModel):
    """Base of every wire object: snake_case attributes, exact camelCase JSON, unknown keys refused.

    Optional fields default to None and None is never rendered, so a model renders exactly the
    fields its author set. Building a model with bad values (constructor, `model_validate`,
    `model_validate_json`) raises `hmpush.errors.ValidationError`, never pydantic's own error,
    naming the field by its wire path (`payload.notification.badge.addNum`; a part that is not
    a whole payload, by its class: `CapsuleData.bgColor`), whether it was given by its Python
    name or its JSON name.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        use_enum_values=False,
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )

    if not TYPE_CHECKING:

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except PydanticValidationError as error:
                from hmpush.messages._errors import translate

                raise translate(error, type(self)) from None

        # Marks this as pydantic's own initialiser: nested objects are still built by
        # pydantic-core directly (fast, one error list for the whole body), and only a model
        # built by a caller goes through the translation above.
        __init__.__pydantic_base_init__ = True

        @classmethod
        def model_validate(cls, obj: Any, **options: Any) -> Any:
            try:
                return super().model_validate(obj, **options)
            except PydanticValidationError as error:
                from hmpush.messages._errors import translate

                raise translate(error, cls) from None

        @classmethod
        def model_validate_json(cls, json_data: Any, **options: Any) -> Any:
            try:
                return super().model_validate_json(json_data, **options)
            except PydanticValidationError as error:
                from hmpush.messages._errors import translate

                raise translate(error, cls) from None

    def to_json(self) -> bytes:
        """The exact JSON bytes of this object: aliases, no nulls, field order."""
        # No serializer warnings: a model changed after it was built is re-validated by whoever
        # sends it (`prepare` parses what this renders), which names the field at fault.
        return self.__pydantic_serializer__.to_json(
            self, by_alias=True, exclude_none=True, warnings=False
        )

    def to_dict(self) -> dict[str, Any]:
        """This object as plain JSON-compatible data (the same content `to_json` renders)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
