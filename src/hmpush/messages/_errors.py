"""Turning pydantic's validation errors into Huawei codes and messages.

pydantic reports where (`loc`) and what (`type`); this module writes the field path the way the
API spells it (`payload.notification.badge.addNum`, `target.token[3]`) and a rule text of our
own, and picks the code: anything inside `payload` is 80100003 (`Illegal payload, <path>
<rule>`), anything else (top level, `pushOptions`, `target`) 80100001, unless the rule names its
own code. pydantic's wording never reaches users.

The path is the same however the model was built. `loc` holds whichever key the caller used
(`add_num=` in Python, `"addNum"` in JSON), so every field name is written as its camelCase
alias. A model built on its own is named by where it sits in a request: a payload model as
`payload`, `PushOptions` as `pushOptions`, `Target` as `target`; any other part (it may sit in
several places) by its class name, e.g. `CapsuleData.bgColor`.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from hmpush.codes import BUSINESS_CODES, ILLEGAL_PAYLOAD, PARAMETER_ERROR
from hmpush.errors import ValidationError
from hmpush.messages._base import RULE_ERROR_TYPE

# Where a model sits in a request body, for the models whose place is fixed; "" is the body.
# Fields outside `payload` are request parameters (80100001) rather than payload (80100003).
_PARAMETER_ROOTS = frozenset({"", "pushOptions", "target"})

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


def _root_of(model: type[BaseModel]) -> str:
    """Where `model` sits in a request body: "" (the body itself), `payload`, ... or its name."""
    root = getattr(model, "ERROR_PATH_ROOT", None)
    if isinstance(root, str):
        return root
    return "payload" if hasattr(model, "PUSH_TYPE") else model.__name__


@functools.cache
def _fields_of(model: type[BaseModel]) -> dict[str, tuple[str, type[BaseModel] | None]]:
    """Field name and alias → (alias, the model the field holds, if it holds one)."""
    fields: dict[str, tuple[str, type[BaseModel] | None]] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        fields[name] = fields[alias] = (alias, _model_in(info.annotation))
    return fields


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The one model an annotation holds (`X`, `X | None`, `list[X]`), else None (dicts too)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return None  # what follows in a path is a key chosen by the sender, not a field
    found = {model for arg in typing.get_args(annotation) if (model := _model_in(arg))}
    return found.pop() if len(found) == 1 else None


def _wire_location(
    model: type[BaseModel], location: tuple[int | str, ...]
) -> tuple[int | str, ...]:
    """`location` with every field name written as its camelCase alias."""
    current: type[BaseModel] | None = model
    wire: list[int | str] = []
    for item in location:
        if isinstance(item, str) and current is not None:
            alias, current = _fields_of(current).get(item, (item, None))
            wire.append(alias)
        else:
            wire.append(item)
    return tuple(wire)


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


def translate(error: PydanticValidationError, model: type[BaseModel]) -> ValidationError:
    """The `ValidationError` for the first problem pydantic found while building `model`."""
    detail = error.errors(include_url=False, include_input=False)[0]
    root = _root_of(model)
    location = _wire_location(model, tuple(detail["loc"]))
    if root:
        location = (root, *location)
    context = detail.get("ctx") or {}
    in_payload = root not in _PARAMETER_ROOTS or location[:1] == ("payload",)
    entry = ILLEGAL_PAYLOAD if in_payload else PARAMETER_ERROR
    path = format_path(location)
    if detail["type"] == RULE_ERROR_TYPE:
        # A cross-field rule names the field it concerns relative to the model that checked it.
        if context.get("field"):
            path = f"{path}.{context['field']}" if path else str(context["field"])
        if context.get("code"):
            entry = BUSINESS_CODES[str(context["code"])]
    path = path or "body"
    return ValidationError.from_entry(entry, f"{path} {_rule_text(detail)}", field=path)
