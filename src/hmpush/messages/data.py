"""Data messages: BackgroundPayload (push-type 6) and VoIPCallPayload (push-type 10)."""

from __future__ import annotations

from typing import ClassVar, Literal

from hmpush.messages._base import Str, WireModel
from hmpush.messages.enums import PushType

__all__ = ["BackgroundPayload", "VoIPCallPayload"]


class BackgroundPayload(WireModel):
    """Push-type 6: data delivered to the app, never shown."""

    PUSH_TYPE: ClassVar[PushType] = PushType.BACKGROUND

    extra_data: Str
    # Only "ENABLE" (upper case) exists; omit the field to disable the DataShare proxy.
    proxy_data: Literal["ENABLE"] | None = None


class VoIPCallPayload(WireModel):
    """Push-type 10: wakes the app to ring for an in-app call."""

    PUSH_TYPE: ClassVar[PushType] = PushType.VOIP_CALL

    extra_data: Str
