"""`POST /v3/{projectId}/messages:send`: from raw headers and body to Huawei's answer.

The order of checks follows what a sender observes from Huawei: the JWT first (80200001/5,
80300036), then the project's switches (80300002, 80300037), the `push-type` header (80100001),
the shared body validation (80100003, 80300008, 80300010, 80300030, …), flow control (HTTP 503),
test messages sent too frequently (80300029) and finally the per-token outcomes (80000000, 80100000,
80300007). A refused request stores nothing; an accepted one is recorded and handed to
`delivery.deliver` in the same transaction.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from hmpush import codes
from hmpush.codes import BusinessCode, TokenFailure
from hmpush.emulator import delivery, device_clock
from hmpush.emulator.limits import retry_after_header
from hmpush.emulator.registry import AppRecord
from hmpush.errors import AuthError, ValidationError
from hmpush.messages import PushType, TokenResults, validate_request

if TYPE_CHECKING:
    from hmpush.emulator.core import Emulator
    from hmpush.messages import ValidatedRequest

__all__ = ["Reply", "TokenFailureRule", "handle_send", "new_request_id", "reply_for"]

logger = logging.getLogger("hmpush.emulator")

# Categories whose rights Huawei grants per app; an ungranted one is shown as MARKETING (5.1).
_CATEGORY_PUSH_TYPES = frozenset({PushType.NOTIFICATION, PushType.VOICE_BROADCAST})
_MARKETING = "MARKETING"

# Huawei's request ids are long digit strings ("157…006"): milliseconds + a sequence number.
_request_sequence = itertools.count(secrets.randbelow(1_000_000))


def new_request_id() -> str:
    """A unique, Huawei-shaped request id."""
    return f"{time.time_ns() // 1_000_000}{next(_request_sequence) % 1_000_000:06d}"


@dataclass(frozen=True, slots=True)
class TokenFailureRule:
    """A fault rule's verdict: tokens starting with `prefix` ("" for all) fail with `reason`."""

    prefix: str
    reason: TokenFailure


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer of the send endpoint."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    code: str = ""


def reply_for(
    entry: BusinessCode,
    request_id: str,
    msg: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Huawei's `{code, msg, requestId}` body with the entry's HTTP status."""
    body = orjson.dumps(
        {"code": entry.code, "msg": entry.message if msg is None else msg, "requestId": request_id}
    )
    return Reply(entry.http_status, body, headers or {}, entry.code)


def _reply_for_code(code: str, msg: str, request_id: str) -> Reply:
    entry = codes.business_code(code) or codes.INNER_ERROR
    return reply_for(entry, request_id, msg)


def handle_send(
    emulator: Emulator,
    project_id: str,
    authorization: str | None,
    push_type_header: str | None,
    body: bytes,
    forced: TokenFailureRule | None = None,
) -> Reply:
    """Answer one send request; an unexpected failure becomes 81000001, never a traceback."""
    request_id = new_request_id()
    try:
        return _send(
            emulator, request_id, project_id, authorization, push_type_header, body, forced
        )
    except Exception as error:
        logger.exception("messages:send failed unexpectedly (requestId %s)", request_id)
        # Only the exception's type: its text could quote a token; the log has the rest.
        detail = f"({type(error).__name__}; the server log has the details)"
        return reply_for(codes.INNER_ERROR, request_id, codes.INNER_ERROR.format(detail))


def _send(
    emulator: Emulator,
    request_id: str,
    project_id: str,
    authorization: str | None,
    push_type_header: str | None,
    body: bytes,
    forced: TokenFailureRule | None,
) -> Reply:
    try:
        emulator.verifier.verify(authorization, project_id)
    except AuthError as error:
        return _reply_for_code(error.code, error.message, request_id)
    refusal = _project_refusal(emulator, project_id, request_id)
    if refusal is not None:
        return refusal
    try:
        # Missing or unknown push-type headers are refused there too (80100001).
        validated = validate_request(push_type_header, body)
    except ValidationError as error:
        return _reply_for_code(error.code, error.message, request_id)
    # Huawei does not say whether repeated tokens count twice (spec open question 8); a careful
    # sender expects one message per device, so each distinct token is counted and sent once.
    tokens = list(dict.fromkeys(validated.tokens))
    wait = emulator.rate_limiter.acquire(project_id, len(tokens))
    if wait is not None:
        return reply_for(
            codes.FLOW_CONTROL, request_id, headers={"Retry-After": retry_after_header(wait)}
        )
    if validated.push_options.test_message and not emulator.test_limiter.admit(project_id):
        return reply_for(codes.TEST_MESSAGE_TOO_FREQUENT, request_id)
    with emulator.store.transaction() as conn:
        return _decide_and_record(
            emulator, conn, request_id, project_id, validated, tokens, body, forced
        )


def _project_refusal(emulator: Emulator, project_id: str, request_id: str) -> Reply | None:
    switches = emulator.project_switches(project_id)
    if switches is None or not switches[0]:
        return reply_for(codes.NO_PERMISSION, request_id)
    if switches[1]:
        return reply_for(codes.PENALTY, request_id)
    return None


@dataclass(slots=True)
class _Outcome:
    accepted: list[delivery.TargetDevice] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, token: str, reason: str) -> None:
        self.failures.setdefault(reason, []).append(token)

    @property
    def failure_count(self) -> int:
        return sum(len(tokens) for tokens in self.failures.values())


def _decide_and_record(
    emulator: Emulator,
    conn: sqlite3.Connection,
    request_id: str,
    project_id: str,
    validated: ValidatedRequest,
    tokens: list[str],
    body: bytes,
    forced: TokenFailureRule | None,
) -> Reply:
    outcome = _Outcome()
    if forced is not None:
        for token in tokens:
            if token.startswith(forced.prefix):
                outcome.fail(token, forced.reason.value)
        tokens = [token for token in tokens if not token.startswith(forced.prefix)]
    _token_outcomes(emulator, conn, project_id, validated, tokens, outcome)
    emulator.metrics.tokens(len(outcome.accepted), outcome.failures)
    if not outcome.accepted:
        results = TokenResults(None, outcome.failure_count, outcome.failures)
        return reply_for(codes.ALL_TOKENS_INVALID, request_id, results.to_msg())
    if outcome.failures:
        entry = codes.PARTIAL_SUCCESS
        msg = TokenResults(len(outcome.accepted), outcome.failure_count, outcome.failures).to_msg()
    else:
        entry, msg = codes.SUCCESS, codes.SUCCESS.message
    message = delivery.AcceptedMessage(
        request_id=request_id,
        project_id=project_id,
        push_type=validated.push_type,
        # What the sender set, from the validated models rather than a second parse of the
        # body: ~9 µs instead of ~80 µs for a 1000-token body (the token list is never re-read).
        payload=_sent_fields(validated.payload),
        push_options=_sent_fields(validated.push_options),
        body=body,
        # One clock for the request log, inboxes and quotas: the devices' (movable) clock.
        accepted_at_ms=device_clock.device_now_ms(conn, emulator),
    )
    _record_request(conn, message, entry, msg, outcome, validated)
    delivery.deliver(conn, message, outcome.accepted)
    return reply_for(entry, request_id, msg)


def _sent_fields(model: BaseModel) -> dict[str, Any]:
    """The fields the request set, as camelCase JSON values."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _token_outcomes(
    emulator: Emulator,
    conn: sqlite3.Connection,
    project_id: str,
    validated: ValidatedRequest,
    tokens: Sequence[str],
    outcome: _Outcome,
) -> None:
    """Add each token's verdict to `outcome`: accepted (with its target) or a failure reason."""
    failing_all = validated.token_failure_for_all
    if failing_all is not None:
        for token in tokens:
            outcome.fail(token, TokenFailure(failing_all).value)
        return
    known = emulator.lookup.devices(conn, tokens)
    found = list(map(known.get, tokens))
    # Every device of an app shares the app's verdict, so it is worked out once per app.
    verdicts = {
        app_id: _verdict(emulator.lookup.app(conn, app_id), project_id, validated)
        for app_id in {device.app_id for device in found if device is not None}
    }
    if len(verdicts) == 1 and None not in found:  # the usual case: one app, all registered
        [(refusal, category, bundle_name)] = verdicts.values()
        if refusal is None:
            outcome.accepted = [device.target(bundle_name, category) for device in found]  # type: ignore[union-attr]
            return
    for token, device in zip(tokens, found, strict=True):
        if device is None:
            # Malformed (`is_plausible_token` false) or never registered: the same reason.
            outcome.fail(token, TokenFailure.TOKEN_FORMAT_ERROR.value)
            continue
        refusal, category, bundle_name = verdicts[device.app_id]
        if refusal is not None:
            outcome.fail(token, refusal.value)
        else:
            outcome.accepted.append(device.target(bundle_name, category))


def _verdict(
    app: AppRecord, project_id: str, validated: ValidatedRequest
) -> tuple[TokenFailure | None, str | None, str]:
    """(refusal reason, effective category, bundle name) for every device of `app`."""
    return (
        _refusal_reason(app, project_id, validated),
        _effective_category(app, validated.push_type, validated.category),
        app.bundle_name,
    )


def _refusal_reason(
    app: AppRecord, project_id: str, validated: ValidatedRequest
) -> TokenFailure | None:
    if app.project_id != project_id:
        return TokenFailure.NO_RIGHT
    if int(validated.push_type) not in app.push_types:
        return TokenFailure.NO_PUSH_TYPE_RIGHT
    event = validated.live_view_event
    if validated.push_type == PushType.LIVE_VIEW and event not in app.live_view_events:
        return TokenFailure.NO_RIGHT_TO_SEND_THIS_LIVE_NOTIFICATION_EVENT
    return None


def _effective_category(app: AppRecord, push_type: PushType, category: str | None) -> str | None:
    """Spec 5.1: a category the app has no right for is silently treated as MARKETING."""
    if category is None or push_type not in _CATEGORY_PUSH_TYPES:
        return category
    return category if category in app.categories else _MARKETING


def _record_request(
    conn: sqlite3.Connection,
    message: delivery.AcceptedMessage,
    entry: BusinessCode,
    msg: str,
    outcome: _Outcome,
    validated: ValidatedRequest,
) -> None:
    options: dict[str, Any] = message.push_options
    conn.execute(
        "INSERT INTO requests (request_id, project_id, push_type, test_message, code, msg,"
        " success, failure, bi_tag, payload, push_options, accepted_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message.request_id,
            message.project_id,
            int(message.push_type),
            int(bool(validated.push_options.test_message)),
            entry.code,
            msg,
            len(outcome.accepted),
            outcome.failure_count,
            options.get("biTag"),
            orjson.dumps(message.payload),
            orjson.dumps(options),
            message.accepted_at_ms,
        ),
    )
