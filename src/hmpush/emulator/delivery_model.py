"""Plain data shared by the delivery modules: messages, target devices and their outcomes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from hmpush.messages import PushType

__all__ = [
    "AcceptedMessage",
    "MessageFacts",
    "Outcome",
    "TargetDevice",
    "load_facts",
    "store_message",
]

# §3.2: ttl defaults to one day; collapseKey groups 0..100 act only for push-types 0 and 2.
DEFAULT_TTL_SECONDS = 86_400
_COLLAPSING_PUSH_TYPES = frozenset({PushType.NOTIFICATION, PushType.VOICE_BROADCAST})
_COLLAPSE_GROUPS = range(0, 101)


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """One request the server accepted, as the device side needs it."""

    request_id: str
    project_id: str
    push_type: PushType
    payload: dict[str, Any]
    push_options: dict[str, Any]
    body: bytes
    accepted_at_ms: int


@dataclass(frozen=True, slots=True)
class TargetDevice:
    """A device the request's accepted tokens point at."""

    device_id: int
    token: str
    app_id: int
    bundle_name: str
    effective_category: str | None


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """A stored message with the options the delivery rules read, parsed once."""

    msg_id: int
    request_id: str
    project_id: str
    push_type: int
    category: str | None  # the notification category the sender asked for (push-types 0, 2)
    payload: Mapping[str, Any]
    push_options: Mapping[str, Any]
    accepted_at_ms: int

    @property
    def test_message(self) -> bool:
        """True for `pushOptions.testMessage` (§3.2)."""
        return bool(self.push_options.get("testMessage", False))

    @property
    def bi_tag(self) -> str:
        """`pushOptions.biTag`, empty when absent (§11.2)."""
        return str(self.push_options.get("biTag") or "")

    @property
    def receipt_id(self) -> str | None:
        """`pushOptions.receiptId`, the receipt configuration the sender asked for."""
        value = self.push_options.get("receiptId")
        return str(value) if value else None

    @property
    def expires_at_ms(self) -> int:
        """When an undelivered copy of this message expires (§3.2 ttl)."""
        ttl = self.push_options.get("ttl")
        seconds = DEFAULT_TTL_SECONDS if ttl is None else int(ttl)
        return self.accepted_at_ms + seconds * 1000

    @property
    def collapse_key(self) -> int | None:
        """The offline collapse group, or None when every copy is kept (§3.2)."""
        key = self.push_options.get("collapseKey")
        if self.push_type in _COLLAPSING_PUSH_TYPES and isinstance(key, int) and key >= 0:
            return key if key in _COLLAPSE_GROUPS else None
        return None

    @property
    def notification(self) -> Mapping[str, Any]:
        """The `notification` object of push-types 0 and 2 (empty for others)."""
        value = self.payload.get("notification")
        return value if isinstance(value, Mapping) else {}

    @property
    def form_id(self) -> int | None:
        """The widget's formId for push-type 1."""
        value = self.payload.get("formId") if self.push_type == PushType.FORM_UPDATE else None
        return int(value) if value is not None else None


class Outcome(NamedTuple):
    """The final result of one message on one device: a receipt result and when it happened.

    A tuple, because a 1000-token request may create 1000 of them on the hot path.
    """

    facts: MessageFacts
    device: TargetDevice
    result: int
    at_ms: int


_INSERT_MESSAGE = (
    "INSERT INTO delivered_messages"
    " (request_id, project_id, push_type, category, payload, push_options, accepted_at_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def store_message(conn: sqlite3.Connection, message: AcceptedMessage) -> MessageFacts:
    """Store an accepted message's body once and return its facts."""
    push_type = int(message.push_type)
    category = _requested_category(message.payload)
    cursor = conn.execute(
        _INSERT_MESSAGE,
        (
            message.request_id,
            message.project_id,
            push_type,
            category,
            orjson.dumps(message.payload),
            orjson.dumps(message.push_options),
            message.accepted_at_ms,
        ),
    )
    assert cursor.lastrowid is not None
    return MessageFacts(
        msg_id=cursor.lastrowid,
        request_id=message.request_id,
        project_id=message.project_id,
        push_type=push_type,
        category=category,
        payload=message.payload,
        push_options=message.push_options,
        accepted_at_ms=message.accepted_at_ms,
    )


def _requested_category(payload: Mapping[str, Any]) -> str | None:
    notification = payload.get("notification")
    if isinstance(notification, Mapping):
        category = notification.get("category")
        return str(category) if category is not None else None
    return None


def load_facts(conn: sqlite3.Connection, msg_ids: Iterable[int]) -> dict[int, MessageFacts]:
    """Stored messages by id, in one query."""
    rows = conn.execute(
        "SELECT msg_id, request_id, project_id, push_type, category, payload, push_options,"
        " accepted_at_ms FROM delivered_messages WHERE msg_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(sorted(set(msg_ids))),),
    )
    return {
        row[0]: MessageFacts(
            msg_id=row[0],
            request_id=row[1],
            project_id=row[2],
            push_type=row[3],
            category=row[4],
            payload=orjson.loads(row[5]),
            push_options=orjson.loads(row[6]),
            accepted_at_ms=row[7],
        )
        for row in rows
    }
