"""Widget (service card) refresh: FormUpdatePayload (push-type 1) and FormImage."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, model_validator

from hmpush.messages._base import (
    INT32_MAX,
    INT64_MAX,
    Int,
    Str,
    WireModel,
    between,
    https_url,
    int_enum,
    json_data,
    max_items,
    non_empty,
    rule_error,
)
from hmpush.messages.enums import FormImageRequire, PushType

__all__ = ["FormImage", "FormUpdatePayload"]

FORBIDDEN_FORM_DATA_KEY_PREFIX = "datashareproxy://"
MAX_SAFE_INTEGER = 2**53 - 1


def _check_form_data(data: dict[str, Any]) -> dict[str, Any]:
    # Only the top-level values are bound to widget variables, so the rules apply to them (I).
    # "numeric values <= 2^53-1" is JavaScript's safe-integer limit; it is applied to both signs.
    for key, value in data.items():
        if key.startswith(FORBIDDEN_FORM_DATA_KEY_PREFIX):
            raise rule_error(f"keys must not start with {FORBIDDEN_FORM_DATA_KEY_PREFIX}", key)
        if value is None:
            raise rule_error("values must not be null", key)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and abs(value) > MAX_SAFE_INTEGER:
            raise rule_error(
                f"numeric values must range from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER}", key
            )
    return data


class FormImage(WireModel):
    """An image the device downloads into the widget (spec 6.1)."""

    key_name: Str | None = None
    url: Annotated[Str, https_url()] | None = None
    require: Annotated[FormImageRequire, int_enum(FormImageRequire)] | None = None


class FormUpdatePayload(WireModel):
    """Push-type 1: new data for one widget instance (exactly one token per request).

    moduleName, formName and abilityName must be non-empty, since they name things (I).
    formId is taken as non-negative: the device generates non-negative ids (I).
    """

    PUSH_TYPE: ClassVar[PushType] = PushType.FORM_UPDATE

    form_id: Annotated[Int, between(0, INT64_MAX)]
    version: Annotated[Int, between(0, INT32_MAX)]
    images: Annotated[list[FormImage], max_items(1)] | None = None
    module_name: Annotated[Str, non_empty()]
    form_name: Annotated[Str, non_empty()]
    ability_name: Annotated[Str, non_empty()]
    form_data: Annotated[dict[str, Any], json_data(), AfterValidator(_check_form_data)]

    @model_validator(mode="after")
    def _check_image_keys(self) -> Self:
        for index, image in enumerate(self.images or ()):
            if image.key_name is not None and image.key_name in self.form_data:
                raise rule_error("must not be a key of formData", f"images[{index}].keyName")
        return self
