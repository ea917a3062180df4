"""What a phone shows for a message in a virtual device's inbox.

`phone_view(entry)` turns one inbox entry (as `GET /admin/devices/{token}/inbox` answers it) into
the lines a HarmonyOS device would display: live-view placeholders replaced by their texts, the
big-text and multi-line styles applied, and messages the user never sees marked as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hmpush.messages.enums import FlightStatus, PushType, TaxiStatus, TrainStatus

__all__ = ["PhoneView", "fill_placeholders", "phone_view"]

_STATUS_ENUMS = {"FLIGHT": FlightStatus, "TAXI": TaxiStatus, "TRAIN": TrainStatus}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True)
class PhoneView:
    """One message as the device presents it."""

    kind: str  # "notification", "widget", "voice broadcast", "background", "live view", "call"
    title: str
    lines: list[str] = field(default_factory=list)
    visible: bool = True  # False: handed to the app, nothing shown to the user
    detail: str = ""  # category, layout or other context, in a few words


def fill_placeholders(
    text: str, *, event: str | None, status: str | None, keywords: Mapping[str, str]
) -> str:
    """Replace `{{status}}` by the status text (spec 8.3) and `{{flightNo}}`-style keywords."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "status":
            return _status_text(event, status) or match.group(0)
        return keywords.get(name, match.group(0))

    return _PLACEHOLDER.sub(replace, text)


def _status_text(event: str | None, status: str | None) -> str | None:
    enum = _STATUS_ENUMS.get(event or "")
    if enum is None or status is None:
        return status
    return next((member.text for member in enum if member.value == status), status)


def phone_view(entry: Mapping[str, Any]) -> PhoneView:
    """The device's presentation of one inbox entry."""
    payload: Mapping[str, Any] = entry.get("payload") or {}
    push_type = int(entry.get("pushType", -1))
    if push_type == PushType.NOTIFICATION:
        return _notification(payload.get("notification") or {}, entry)
    if push_type == PushType.FORM_UPDATE:
        return _widget(payload)
    if push_type == PushType.VOICE_BROADCAST:
        shown = _notification(payload.get("notification") or {}, entry)
        spoken = f"spoken by the app: {payload.get('extraData', '')}"
        return PhoneView("voice broadcast", shown.title, [*shown.lines, spoken], True, "PLAY_VOICE")
    if push_type == PushType.BACKGROUND:
        data = str(payload.get("extraData", ""))
        return PhoneView("background", "data for the app", [data], False)
    if push_type == PushType.LIVE_VIEW:
        return _live_view(payload)
    if push_type == PushType.VOIP_CALL:
        data = str(payload.get("extraData", ""))
        return PhoneView("call", "incoming call: the app rings", [data], True, "VoIP")
    return PhoneView("unknown", f"push-type {push_type}", [], False)


def _notification(notification: Mapping[str, Any], entry: Mapping[str, Any]) -> PhoneView:
    style = notification.get("style", 0)
    title = str(notification.get("title", ""))
    lines = [str(notification.get("body", ""))]
    if style == 1:  # big text: bigTitle and bigBody replace title and body
        title = str(notification.get("bigTitle", title))
        lines = [str(notification.get("bigBody", lines[0]))]
    elif style == 3:  # multi-line: the expanded view shows the inbox lines under the title
        lines = [str(line) for line in notification.get("inboxContent", [])]
    badge = notification.get("badge") or {}
    if "setNum" in badge:
        lines.append(f"badge set to {badge['setNum']}")
    elif "addNum" in badge:
        lines.append(f"badge +{badge['addNum']}")
    category = str(entry.get("category") or notification.get("category", ""))
    visible = notification.get("foregroundShow", True) is not False
    return PhoneView("notification", title, lines, visible, category)


def _widget(payload: Mapping[str, Any]) -> PhoneView:
    form_data: Mapping[str, Any] = payload.get("formData") or {}
    title = f"widget {payload.get('formName', '')} #{payload.get('formId', '')}"
    lines = [f"{key} = {value}" for key, value in form_data.items()]
    return PhoneView("widget", title, lines, True, f"version {payload.get('version', '')}")


def _live_view(payload: Mapping[str, Any]) -> PhoneView:
    activity = payload.get("activityData") or {}
    card: Mapping[str, Any] = activity.get("notificationData") or {}
    event = payload.get("event")
    keywords: Mapping[str, str] = card.get("keywords") or {}

    def fill(text: Any) -> str:
        return fill_placeholders(
            str(text), event=event, status=payload.get("status"), keywords=keywords
        )

    title = fill(card.get("contentTitle", payload.get("title", "")))
    lines = ["".join(fill(part.get("text", "")) for part in card.get("contentText") or [])]
    first, last = card.get("firstTextBlock"), card.get("lastTextBlock")
    if first and last:
        lines.append(f"{fill(first['firstLine'])}  →  {fill(last['firstLine'])}")
        lines.append(f"{fill(first['secondLine'])}  →  {fill(last['secondLine'])}")
    single = card.get("singleTextBlock")
    if single:
        lines.append(f"{fill(single['firstLine'])}: {fill(single['secondLine'])}")
    progress = card.get("richProgress")
    if progress:
        lines.append(f"progress {progress.get('progress', 0)} %")
    capsule = activity.get("capsuleData")
    if capsule and capsule.get("title"):
        lines.append(f"capsule: {capsule['title']}")
    operation = {0: "created", 1: "updated", 2: "ended"}.get(payload.get("operation", -1), "")
    return PhoneView(
        "live view", title, [line for line in lines if line], True, f"{event} {operation}"
    )
