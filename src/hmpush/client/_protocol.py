"""The v3 send protocol without I/O: the request's URL and headers, and reading the answer.

Reading follows spec §10: `code` is read as the string it is on every answer whatever the HTTP
status; `80100000` and `80300007` carry the per-token result as JSON inside `msg`; every other
non-success code is a refusal of the whole request, raised as the exception family the code
table gives it. Bodies that are not the documented JSON (a proxy's HTML page, an empty answer)
are refused by HTTP status, so that a 503 from a gateway is still flow control.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from hmpush import codes
from hmpush._redact import redact_jwt, shorten_token
from hmpush.client._results import UNREPORTED, BatchResult
from hmpush.client._retry import parse_retry_after
from hmpush.errors import HmpushError, PushError, QuotaError, ServerError, error_for_code
from hmpush.messages import TokenResults

__all__ = [
    "DEFAULT_ENDPOINT",
    "interpret_response",
    "request_headers",
    "result_from_answer",
    "send_url",
]

DEFAULT_ENDPOINT = "https://push-api.cloud.huawei.com"
_CONTENT_TYPE = "application/json"
_BODY_EXCERPT = 200  # characters of an unreadable body quoted in the error message
_REDACTED_JWT = redact_jwt("preview")  # previews are never signed: no JWT exists to leak
_PER_TOKEN_CODES = frozenset({codes.PARTIAL_SUCCESS.code, codes.ALL_TOKENS_INVALID.code})

logger = logging.getLogger("hmpush.client")


def send_url(endpoint: str, project_id: str) -> str:
    """`{endpoint}/v3/{projectId}/messages:send`."""
    return f"{endpoint.rstrip('/')}/v3/{quote(project_id, safe='')}/messages:send"


def request_headers(jwt: str | None, push_type: int) -> dict[str, str]:
    """The three headers of a send; `jwt=None` gives the redacted form used by previews."""
    bearer = jwt if jwt is not None else _REDACTED_JWT
    return {
        "Authorization": f"Bearer {bearer}",
        "push-type": str(int(push_type)),
        "Content-Type": _CONTENT_TYPE,
    }


def interpret_response(
    http_status: int,
    content: bytes,
    headers: Mapping[str, str],
    tokens: Sequence[str],
    *,
    attempts: int = 1,
) -> BatchResult:
    """The result of one answered request, or the typed refusal of the whole request (raised)."""
    document = _json_object(content)
    if document is None or _code_of(document) is None:
        raise _unreadable_answer(http_status, content, headers)
    return _result_of(document, http_status, headers, tokens, attempts)


def result_from_answer(
    answer: Mapping[str, Any], tokens: Sequence[str], *, http_status: int = 200
) -> BatchResult:
    """Read an answer already parsed (`{code, msg, requestId}`, e.g. a server's request log)
    exactly as a live one: the per-token result, or the typed refusal raised."""
    if _code_of(answer) is None:
        raise _unreadable_answer(http_status, orjson.dumps(dict(answer)), {})
    return _result_of(answer, http_status, {}, tokens, 1)


def _result_of(
    document: Mapping[str, Any],
    http_status: int,
    headers: Mapping[str, str],
    tokens: Sequence[str],
    attempts: int,
) -> BatchResult:
    code = _code_of(document) or ""
    message = str(document.get("msg", ""))
    request_id = str(document.get("requestId", ""))
    if code == codes.SUCCESS.code:
        return BatchResult.all_accepted(
            request_id, code, tokens, http_status=http_status, attempts=attempts
        )
    if code in _PER_TOKEN_CODES:
        accepted, failures = _per_token(code, message, tokens, request_id)
        return BatchResult(
            request_id, code, http_status, accepted, failures, attempts, list(tokens)
        )
    error = error_for_code(code, message, http_status=http_status, request_id=request_id or None)
    if isinstance(error, QuotaError):
        error.retry_after = parse_retry_after(headers.get("retry-after"))
    raise error


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _code_of(document: Mapping[str, Any] | None) -> str | None:
    if document is None:
        return None
    code = document.get("code")
    # Spec open question 2: `code` might arrive as a number; its digits mean the same.
    if isinstance(code, bool) or not isinstance(code, str | int):
        return None
    return str(code).strip() or None


def _unreadable_answer(http_status: int, content: bytes, headers: Mapping[str, str]) -> PushError:
    excerpt = content[:_BODY_EXCERPT].decode("utf-8", "replace").strip() or "<empty body>"
    message = f"HTTP {http_status} with a body that is not a Push Kit answer: {excerpt}"
    if 200 <= http_status < 300:
        # The request may have been accepted; not retryable (ServerError retries only 5xx).
        return ServerError(str(http_status), message, http_status=http_status)
    error = error_for_code(str(http_status), message, http_status=http_status)
    if isinstance(error, QuotaError):
        error.retry_after = parse_retry_after(headers.get("retry-after"))
    return error


def _per_token(
    code: str, message: str, tokens: Sequence[str], request_id: str
) -> tuple[list[str], dict[str, str]]:
    try:
        results = TokenResults.from_msg(message)
    except (ValueError, TypeError, HmpushError):
        # The request was answered but its per-token detail is unreadable. For 80300007 every
        # token failed anyway; for 80100000 which ones did is unknown, so none is claimed as
        # accepted (a caller resending them risks a duplicate, not a silent loss).
        logger.warning(
            "request %s: code %s with an unreadable per-token msg; %d tokens marked %s",
            request_id,
            code,
            len(tokens),
            UNREPORTED,
        )
        reason = UNREPORTED if code == codes.PARTIAL_SUCCESS.code else code
        return [], dict.fromkeys(tokens, reason)
    failures: dict[str, str] = {}
    for reason, refused in results.illegal_tokens.items():
        for token in refused:
            failures[token] = reason
    if code == codes.ALL_TOKENS_INVALID.code:
        # Every token failed, including any the server did not list by name.
        for token in tokens:
            failures.setdefault(token, code)
        return [], failures
    accepted = [token for token in tokens if token not in failures]
    if failures and logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "request %s: %d accepted, %d refused (first: %s)",
            request_id,
            len(accepted),
            len(failures),
            shorten_token(next(iter(failures))),
        )
    return accepted, failures
