"""The response of `messages:send` (spec 10): `{code, msg, requestId}` and per-token results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from hmpush.codes import ALL_TOKENS_INVALID, PARTIAL_SUCCESS, SUCCESS

__all__ = ["SendResponse", "TokenResults"]

# Codes whose `msg` carries the per-token JSON of spec 10.2.
TOKEN_RESULT_CODES = frozenset({PARTIAL_SUCCESS.code, ALL_TOKENS_INVALID.code})


@dataclass(frozen=True, slots=True)
class TokenResults:
    """Per-token outcome carried as JSON text in `msg` for 80100000 and 80300007."""

    success: int | None
    failure: int
    illegal_tokens: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_msg(cls, msg: str) -> TokenResults:
        """Parse the `msg` text; raises ValueError when it is not the spec's shape."""
        try:
            data = orjson.loads(msg)
        except orjson.JSONDecodeError:
            raise ValueError("msg is not JSON text") from None
        if not isinstance(data, dict):
            raise ValueError("msg is not a JSON object")
        success = data.get("success")
        failure = data.get("failure", 0)
        illegal = data.get("illegalTokens", {})
        if success is not None and not _is_count(success):
            raise ValueError("msg.success is not a non-negative integer")
        if not _is_count(failure):
            raise ValueError("msg.failure is not a non-negative integer")
        if not isinstance(illegal, dict) or not all(
            isinstance(tokens, list) and all(isinstance(token, str) for token in tokens)
            for tokens in illegal.values()
        ):
            raise ValueError("msg.illegalTokens is not an object of token arrays")
        return cls(success=success, failure=failure, illegal_tokens=illegal)

    def to_msg(self) -> str:
        """The `msg` text exactly as Huawei writes it (key order of the spec's examples)."""
        document: dict[str, Any]
        if self.success is None:
            document = {"failure": self.failure, "illegalTokens": self.illegal_tokens}
        else:
            document = {
                "illegalTokens": self.illegal_tokens,
                "success": self.success,
                "failure": self.failure,
            }
        return orjson.dumps(document).decode()

    def reason_for(self) -> dict[str, str]:
        """Token → reason for every refused token."""
        return {token: reason for reason, tokens in self.illegal_tokens.items() for token in tokens}


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _code_text(value: object) -> object:
    # `code` is documented as a String; a number is read as its digits (open question 2).
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class SendResponse(BaseModel):
    """The body of every `messages:send` answer."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )

    code: Annotated[str, BeforeValidator(_code_text)]
    msg: str
    request_id: str

    @property
    def is_success(self) -> bool:
        """Whether every token was accepted."""
        return self.code == SUCCESS.code

    @property
    def token_results(self) -> TokenResults | None:
        """The per-token results inside `msg`, for 80100000 and 80300007 (None otherwise)."""
        if self.code not in TOKEN_RESULT_CODES:
            return None
        return TokenResults.from_msg(self.msg)

    @classmethod
    def from_json(cls, body: bytes | str) -> SendResponse:
        """Parse a response body; raises ValueError if it is not the spec's shape."""
        return cls.model_validate_json(body)

    def to_json(self) -> bytes:
        """The response body: `{"code":…,"msg":…,"requestId":…}`."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True)
