"""Notification messages: AlertPayload (push-type 0) and ExtensionPayload (push-type 2)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import model_validator

from hmpush.messages._base import (
    INT32_MAX,
    Bool,
    Int,
    Str,
    WireModel,
    between,
    https_url,
    int_enum,
    matches,
    max_chars,
    max_items,
    non_empty,
    require,
    text_enum,
)
from hmpush.messages.common import Badge, ClickAction
from hmpush.messages.enums import (
    Category,
    ClickActionType,
    NotificationStyle,
    PriorityScene,
    PushType,
)

__all__ = ["AlertPayload", "ExtensionPayload", "Notification"]

# Where a notification's clickAction may point (spec 5.3.1, push-types 0 and 2).
NOTIFICATION_CLICK_ACTIONS = frozenset({ClickActionType.OPEN_APP, ClickActionType.OPEN_PAGE})


class Notification(WireModel):
    """A notification as shown by the device (spec 5.1).

    title and body must be present but may be empty (I: the spec gives no minimum, and newer docs
    mention badge-refresh messages whose text is not shown). inboxContent lines longer than 1024
    characters are truncated by the device, not refused (the spec says "truncated with …").
    sound with category MARKETING is accepted and ignored by the device (I: the spec says "not
    for MARKETING", not that it is refused).
    """

    category: Annotated[Category, text_enum(Category)]
    title: Str
    body: Str
    image: Annotated[Str, https_url()] | None = None
    overlay_icon: Annotated[Str, https_url()] | None = None
    style: Annotated[NotificationStyle, int_enum(NotificationStyle)] | None = None
    big_title: Str | None = None
    big_body: Str | None = None
    # -1 asks the server for an id; a revocable id is in [0, 2^31-1]; -1 is the only negative.
    notify_id: Annotated[Int, between(-1, INT32_MAX)] | None = None
    app_message_id: (
        Annotated[
            Str,
            matches(
                r"[A-Za-z0-9+/=\-_\s]{1,64}",
                "must be 1 to 64 characters of letters, digits, '+', '/', '=', '-', '_' "
                "and whitespace",
            ),
        ]
        | None
    ) = None
    profile_id: Annotated[Str, max_chars(64)] | None = None
    inbox_content: Annotated[list[Str], max_items(3)] | None = None
    click_action: ClickAction
    badge: Badge | None = None
    # A file name; an empty one names no file, so it is refused rather than ignored (I).
    sound: Annotated[Str, non_empty()] | None = None
    sound_duration: Annotated[Int, between(1, 60)] | None = None
    foreground_show: Bool | None = None
    priority_scene: Annotated[PriorityScene, text_enum(PriorityScene)] | None = None

    @model_validator(mode="after")
    def _check_conditional_fields(self) -> Self:
        if self.style == NotificationStyle.BIG_TEXT:
            require(self.big_title is not None, "is required when style is 1", "bigTitle")
            require(self.big_body is not None, "is required when style is 1", "bigBody")
        if self.style == NotificationStyle.INBOX:
            require(bool(self.inbox_content), "is required when style is 3", "inboxContent")
        if self.sound_duration is not None:
            require(self.sound is not None, "is only allowed with sound", "soundDuration")
        require(
            self.click_action.action_type in NOTIFICATION_CLICK_ACTIONS,
            "must be 0 or 1 in a notification",
            "clickAction.actionType",
        )
        return self


class AlertPayload(WireModel):
    """Push-type 0: a notification message.

    PLAY_VOICE here is not refused: Huawei fails every token with `notSupportPlayVoice`
    (see `ValidatedRequest.token_failure_for_all`).
    """

    PUSH_TYPE: ClassVar[PushType] = PushType.NOTIFICATION

    notification: Notification


class ExtensionPayload(WireModel):
    """Push-type 2: a voice-broadcast message handled by the app's notification extension."""

    PUSH_TYPE: ClassVar[PushType] = PushType.VOICE_BROADCAST

    notification: Notification
    extra_data: Str

    @model_validator(mode="after")
    def _check_category(self) -> Self:
        require(
            self.notification.category == Category.PLAY_VOICE,
            "must be PLAY_VOICE for push-type 2",
            "notification.category",
        )
        return self
