"""Whole requests: validation of a received body, preparation of a body to send, the size rule.

Body size (spec 1, 13: at most 4096 bytes "not counting the push tokens") is counted here, once,
for both sides: it is the number of bytes of the canonical rendering of the body — compact UTF-8
JSON, camelCase keys, no nulls, keys in model order, `pushOptions` left out when it sets
nothing — with `target.token` rendered as the empty array `[]`. The sender counts the body it is
about to send; the server counts the body it received after parsing it, so whitespace or escapes
in the received bytes do not change the count.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import orjson
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError

from hmpush.codes import (
    ALL_TOKENS_INVALID,
    ILLEGAL_PAYLOAD,
    MESSAGE_TOO_LONG,
    PARAMETER_ERROR,
    TEST_MESSAGE_TOO_MANY_TOKENS,
    TOKEN_COUNT_OUT_OF_RANGE,
    TokenFailure,
)
from hmpush.errors import ValidationError
from hmpush.messages._base import WireModel
from hmpush.messages._errors import translate
from hmpush.messages.common import PushOptions, Target
from hmpush.messages.data import BackgroundPayload, VoIPCallPayload
from hmpush.messages.enums import Category, PushType
from hmpush.messages.form import FormUpdatePayload
from hmpush.messages.live_view import LiveViewPayload
from hmpush.messages.notification import AlertPayload, ExtensionPayload

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_REQUEST_BYTES",
    "PAYLOAD_MODELS",
    "Payload",
    "PreparedMessage",
    "ValidatedRequest",
    "body_size",
    "implausible_tokens",
    "is_plausible_token",
    "max_tokens_per_request",
    "parse_push_type",
    "prepare",
    "validate_request",
]

Payload = (
    AlertPayload
    | FormUpdatePayload
    | ExtensionPayload
    | BackgroundPayload
    | LiveViewPayload
    | VoIPCallPayload
)

PAYLOAD_MODELS: dict[PushType, type[WireModel]] = {
    model.PUSH_TYPE: model
    for model in (
        AlertPayload,
        FormUpdatePayload,
        ExtensionPayload,
        BackgroundPayload,
        LiveViewPayload,
        VoIPCallPayload,
    )
}

MAX_BODY_BYTES = 4096
# The most bytes of a whole request (tokens included) worth reading: 1000 tokens of the longest
# plausible length plus a full body need well under 1 MiB. Larger requests are refused unread
# with 80300008.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_TOKENS = 1000
MAX_TEST_TOKENS = 10
WIDGET_TOKENS = 1

# Token format is undocumented (spec 4, U). Tokens seen are base64-like text of ~100+ characters;
# this accepts base64/base64url characters plus `.` and `:`, 8 to 512 characters, so that
# obvious garbage (blank lines, spaces, quotes, CSV rows) is refused and real tokens never are.
_TOKEN_CHARACTERS = string.ascii_letters + string.digits + "+/=_.:-"
_TOKEN_LENGTHS = range(8, 513)
_PLAUSIBLE_TOKEN = re.compile(
    f"[{re.escape(_TOKEN_CHARACTERS)}]{{{_TOKEN_LENGTHS.start},{_TOKEN_LENGTHS.stop - 1}}}"
)
_TOKEN_ALPHABET = _TOKEN_CHARACTERS.encode()

P = TypeVar("P", bound=WireModel)


class _Request(WireModel, Generic[P]):
    """A request body for one push-type."""

    ERROR_PATH_ROOT: ClassVar[str] = ""  # paths in errors start at the body

    payload: P
    push_options: PushOptions | None = None
    target: Target


_REQUEST_MODELS: dict[PushType, type[_Request[Any]]] = {
    push_type: _Request[model]  # type: ignore[valid-type]
    for push_type, model in PAYLOAD_MODELS.items()
}


def is_plausible_token(token: str) -> bool:
    """Whether `token` could be a push token (else it fails with `tokenFormatError`)."""
    return _PLAUSIBLE_TOKEN.fullmatch(token) is not None


def implausible_tokens(tokens: Sequence[str]) -> list[str]:
    """The tokens of one request that `is_plausible_token` refuses, in order.

    Same rule, checked for the whole batch at C speed first (the usual case: all plausible),
    and token by token only when something is wrong.
    """
    if (
        tokens
        and min(map(len, tokens)) in _TOKEN_LENGTHS
        and max(map(len, tokens)) in _TOKEN_LENGTHS
    ):
        try:
            if not "".join(tokens).encode("ascii").translate(None, _TOKEN_ALPHABET):
                return []
        except UnicodeEncodeError:
            pass
    return [token for token in tokens if not is_plausible_token(token)]


def max_tokens_per_request(push_type: PushType, *, test_message: bool = False) -> int:
    """How many tokens one request may carry: 1000; widget 1; test 10; widget test 1."""
    if push_type == PushType.FORM_UPDATE:
        return WIDGET_TOKENS
    return MAX_TEST_TOKENS if test_message else MAX_TOKENS


_PUSH_TYPES_BY_TEXT = {str(int(kind)): kind for kind in PushType}
_ALLOWED_PUSH_TYPES = ", ".join(_PUSH_TYPES_BY_TEXT)


def parse_push_type(value: int | str | None) -> PushType:
    """The `push-type` header as a PushType; anything else is refused with 80100001."""
    known = _PUSH_TYPES_BY_TEXT.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _parameter_error("push-type", "is required")
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number not in PushType._value2member_map_:
        raise _parameter_error("push-type", f"must be one of {_ALLOWED_PUSH_TYPES}")
    return PushType(number)


def _parameter_error(path: str, rule: str) -> ValidationError:
    return ValidationError.from_entry(PARAMETER_ERROR, f"{path} {rule}", field=path)


def _check_token_count(push_type: PushType, options: PushOptions, count: int) -> None:
    # Huawei's fixed texts come first, unchanged; the detail after them names the field.
    limit = max_tokens_per_request(push_type)
    if not 1 <= count <= limit:
        raise ValidationError(
            TOKEN_COUNT_OUT_OF_RANGE.code,
            TOKEN_COUNT_OUT_OF_RANGE.format(_token_count_detail(count), 1, limit),
            field="target.token",
        )
    test_limit = max_tokens_per_request(push_type, test_message=True)
    if options.is_test and count > test_limit:
        raise ValidationError(
            TEST_MESSAGE_TOO_MANY_TOKENS.code,
            TEST_MESSAGE_TOO_MANY_TOKENS.format(
                f"{_token_count_detail(count)}; a test message may carry at most {test_limit}"
            ),
            field="target.token",
        )


def _token_count_detail(count: int) -> str:
    return f"target.token holds {count} token{'' if count == 1 else 's'}"


def _frame(payload: WireModel, options: PushOptions | None) -> tuple[bytes, bytes]:
    """The rendered body around the token array: (everything before it, everything after)."""
    head = b'{"payload":' + payload.to_json()
    if options is not None:
        rendered = options.to_json()
        if rendered != b"{}":
            head += b',"pushOptions":' + rendered
    return head + b',"target":{"token":', b"}}"


def body_size(payload: WireModel, options: PushOptions | None = None) -> int:
    """Bytes the body counts against the 4096-byte limit (canonical rendering, tokens as `[]`)."""
    head, tail = _frame(payload, options)
    return len(head) + len(b"[]") + len(tail)


def _check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise ValidationError.from_entry(
            MESSAGE_TOO_LONG,
            f"body is {size} bytes without the tokens, at most {MAX_BODY_BYTES} allowed",
            field="body",
        )


def _token_failure_for_all(payload: WireModel) -> TokenFailure | None:
    # PLAY_VOICE outside push-type 2: Huawei fails every token, it does not refuse the request.
    if isinstance(payload, AlertPayload) and payload.notification.category == Category.PLAY_VOICE:
        return TokenFailure.NOT_SUPPORT_PLAY_VOICE
    return None


@dataclass(frozen=True, slots=True)
class ValidatedRequest:
    """A request body that passed every whole-request rule."""

    push_type: PushType
    payload: Payload
    push_options: PushOptions
    tokens: list[str]
    token_failure_for_all: TokenFailure | None
    category: str | None
    live_view_event: str | None
    body_size: int


def _body_bytes(
    body: bytes | bytearray | memoryview | str | Mapping[str, Any] | Any,
) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        try:
            return body.encode()
        except UnicodeEncodeError:
            raise _parameter_error("body", "is not valid UTF-8 text") from None
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    try:
        return orjson.dumps(body)
    except (TypeError, ValueError):
        pass
    try:
        # The standard library also renders integers beyond 64 bits, which JSON allows.
        return json.dumps(body, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError) as error:
        raise _parameter_error("body", f"is not JSON data ({error})") from None


def _parse(push_type: PushType, raw: bytes) -> _Request[Any]:
    try:
        # The validator itself, not `model_validate_json`: paths here start at the body.
        request: _Request[Any] = _REQUEST_MODELS[push_type].__pydantic_validator__.validate_json(
            raw
        )
        return request
    except PydanticValidationError as error:
        raise translate(error, _REQUEST_MODELS[push_type]) from None
    except RecursionError:
        raise _parameter_error("body", "is nested too deeply") from None


def _summary(push_type: PushType, request: _Request[Any], tokens: list[str]) -> ValidatedRequest:
    payload = request.payload
    options = request.push_options or PushOptions()
    size = body_size(payload, options)
    _check_size(size)
    category = None
    if isinstance(payload, AlertPayload | ExtensionPayload):
        category = payload.notification.category.value
    event = payload.event.value if isinstance(payload, LiveViewPayload) else None
    return ValidatedRequest(
        push_type=push_type,
        payload=payload,
        push_options=options,
        tokens=tokens,
        token_failure_for_all=_token_failure_for_all(payload),
        category=category,
        live_view_event=event,
        body_size=size,
    )


def validate_request(
    push_type: int | str | None, body: bytes | str | Mapping[str, Any]
) -> ValidatedRequest:
    """Check a request as the server does; raises only `hmpush.errors.ValidationError`.

    Order: push-type header, body structure and payload rules, token count, test-message token
    limit, body size.
    """
    kind = parse_push_type(push_type)
    request = _parse(kind, _body_bytes(body))
    options = request.push_options or PushOptions()
    tokens: list[str] = request.target.token
    _check_token_count(kind, options, len(tokens))
    return _summary(kind, request, tokens)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message checked once and pre-rendered; `body_for` makes each request's body cheaply."""

    push_type: PushType
    payload: Payload
    push_options: PushOptions
    max_tokens_per_request: int
    body_size: int
    _head: bytes = field(repr=False)
    _tail: bytes = field(repr=False)

    def body_for(self, tokens: Sequence[str]) -> bytes:
        """The exact body bytes for one request to `tokens` (checks only the token-count rules)."""
        token_list = tokens if isinstance(tokens, list) else list(tokens)
        _check_token_count(self.push_type, self.push_options, len(token_list))
        return self._head + orjson.dumps(token_list) + self._tail


def prepare(payload: Payload, options: PushOptions | None = None) -> PreparedMessage:
    """Validate a message once (every rule but the token count) and pre-render its body.

    PLAY_VOICE outside push-type 2 is raised here as 80300007 (naming `notSupportPlayVoice`),
    since every token of every request would fail.
    """
    push_type = getattr(type(payload), "PUSH_TYPE", None)
    if push_type not in PAYLOAD_MODELS or not isinstance(payload, PAYLOAD_MODELS[push_type]):
        raise TypeError(f"prepare() needs a payload model, not {type(payload).__name__}")
    try:
        head, tail = _frame(payload, options)
    except PydanticSerializationError as error:
        # Only a model changed after it was built, with a value that is not JSON, gets here.
        raise ValidationError.from_entry(
            ILLEGAL_PAYLOAD, f"payload cannot be rendered as JSON ({error})", field="payload"
        ) from None
    request = _parse(push_type, head + b"[]" + tail)
    checked = _summary(push_type, request, [])
    if checked.token_failure_for_all is not None:
        raise ValidationError.from_entry(
            ALL_TOKENS_INVALID,
            "payload.notification.category PLAY_VOICE is only allowed with push-type 2 "
            f"({checked.token_failure_for_all.value})",
            field="payload.notification.category",
        )
    return PreparedMessage(
        push_type=push_type,
        payload=payload,
        push_options=checked.push_options,
        max_tokens_per_request=max_tokens_per_request(
            push_type, test_message=checked.push_options.is_test
        ),
        body_size=checked.body_size,
        _head=head,
        _tail=tail,
    )
