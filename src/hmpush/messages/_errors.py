"""Turning pydantic's validation errors into Huawei codes and messages.

pydantic reports where (`loc`, by camelCase alias) and what (`type`); this module writes the
field path the way the API spells it (`payload.notification.badge.addNum`,
`target.token[3]`) and a rule text of our own, and picks the code: anything inside `payload` is
80100003 (`Illegal payload, <path> <rule>`), anything else (top level, `pushOptions`, `target`)
80100001, unless the rule names its own code. pydantic's wording never reaches users.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from hmpush.codes import BUSINESS_CODES, ILLEGAL_PAYLOAD, PARAMETER_ERROR, BusinessCode
from hmpush.errors import ValidationError
from hmpush.messages._base import RULE_ERROR_TYPE

# Models whose fields are request parameters rather than payload (for errors raised while a
# model is built on its own, outside a request).
_PARAMETER_MODELS = frozenset({"PushOptions", "Target"})

_TYPE_RULES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "string_unicode": "must be a string",
    "bool_type": "must be a boolean",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be an array",
    "json_type": "must be JSON text",
}


def format_path(location: tuple[int | str, ...]) -> str:
    """`('payload', 'notification', 'inboxContent', 2)` → `payload.notification.inboxContent[2]`."""
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


def _rule_text(detail: ErrorDetails) -> str:
    kind = detail["type"]
    context: dict[str, Any] = dict(detail.get("ctx") or {})
    if kind == RULE_ERROR_TYPE:
        return str(context["rule"])
    if kind in ("enum", "literal_error"):
        return f"must be one of {context.get('expected', '')}".rstrip()
    if kind == "json_invalid":
        return f"is not valid JSON ({context.get('error', 'parse error')})"
    return _TYPE_RULES.get(kind, "is invalid")


def _entry_for(location: tuple[int | str, ...], root: str | None, title: str) -> BusinessCode:
    if root is None:
        return PARAMETER_ERROR if title in _PARAMETER_MODELS else ILLEGAL_PAYLOAD
    return ILLEGAL_PAYLOAD if location[:1] == ("payload",) else PARAMETER_ERROR


def translate(error: PydanticValidationError, *, root: str | None) -> ValidationError:
    """The `ValidationError` for the first problem pydantic found.

    `root` is "request" when a whole request body was validated (the path starts at the body),
    None when one model was built on its own (the path starts inside that model).
    """
    detail = error.errors(include_url=False, include_input=False)[0]
    location = tuple(detail["loc"])
    context = detail.get("ctx") or {}
    entry = _entry_for(location, root, error.title)
    path = format_path(location)
    if detail["type"] == RULE_ERROR_TYPE:
        # A cross-field rule names the field it concerns relative to the model that checked it.
        if context.get("field"):
            path = f"{path}.{context['field']}" if path else str(context["field"])
        if context.get("code"):
            entry = BUSINESS_CODES[str(context["code"])]
    path = path or "body"
    return ValidationError.from_entry(entry, f"{path} {_rule_text(detail)}", field=path)
