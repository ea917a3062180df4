"""Live views: LiveViewPayload (push-type 7) and its parts (spec section 8).

Rules that hold for an object on its own sit in that object's model. Rules that depend on the
operation (what creation requires) or on the event (status values, keywords, placeholders,
layout types) sit in `LiveViewPayload`, in `_creation_rules` and `_check_status`.

Choices where the spec is silent (I):
* operation 4 (geofence-triggered delayed create) must satisfy the same rules as a create, since
  it creates the live view later without another chance to check it;
* the blocks "required for type N" (richProgress, singleTextBlock, first/lastTextBlock, game,
  capsuleTimer, progress) are required at creation only; on update, an omitted field keeps its
  previous value (spec 8.1);
* on update, `status` and FLIGHT/TRAIN `keywords` (when given) must follow the event's rules;
  the required-placeholder and required-keyword rules are creation rules, because an update may
  leave the texts unchanged;
* REST creation is allowed for FLIGHT, TAXI and TRAIN, the events of the spec's constraint table
  (EXPRESS and CHECK_IN have no documented status values or layouts, open question 4);
* `trigger` is required with operations 4 and 6 and refused with the others, where it would be
  silently useless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, model_validator

from hmpush.messages._base import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    Bool,
    Int,
    Number,
    Str,
    WireModel,
    argb_colour,
    between,
    distinct_colours,
    int_enum,
    matches,
    max_chars,
    max_items,
    non_empty,
    require,
    rgb_colour,
    rule_error,
    text_enum,
)
from hmpush.messages.common import ClickAction, RichText
from hmpush.messages.enums import (
    BackgroundType,
    CapsuleRemind,
    CapsuleStatus,
    CapsuleType,
    ClickActionType,
    CoordinateSystemType,
    ExtendType,
    ExternalDataType,
    FlightStatus,
    IndicatorType,
    LayoutType,
    LiveViewEvent,
    LiveViewOperation,
    LiveViewStyle,
    MonitorEvent,
    ProgressLineType,
    PushType,
    SpaceType,
    TaxiStatus,
    TrainStatus,
    TriggerType,
    WeatherLocationType,
)

__all__ = [
    "ActivityData",
    "CapsuleData",
    "CapsuleTimer",
    "Competition",
    "Extend",
    "ExternalData",
    "FirstTextBlock",
    "Game",
    "Geofence",
    "LastTextBlock",
    "LiveViewLockScreen",
    "LiveViewPayload",
    "NotificationData",
    "Progress",
    "RichProgress",
    "SingleTextBlock",
    "Team",
    "Trigger",
    "Weather",
]

MAX_CONTENT_CHARS = 1024
MAX_LINE_CHARS = 128
FORBIDDEN_CAPSULE_COLOURS = frozenset({"#FF000000", "#FFFFFFFF", "#FFF1F3F5"})
NOTIFICATION_DATA_CLICK_ACTIONS = frozenset({ClickActionType.OPEN_APP, ClickActionType.OPEN_PAGE})

# Status values per event, and what each event needs at creation (spec 8.2, 8.3).
STATUS_VALUES: dict[LiveViewEvent, frozenset[str]] = {
    LiveViewEvent.FLIGHT: frozenset(FlightStatus),
    LiveViewEvent.TAXI: frozenset(TaxiStatus),
    LiveViewEvent.TRAIN: frozenset(TrainStatus),
}
CREATION_LAYOUTS: dict[LiveViewEvent, frozenset[LayoutType]] = {
    LiveViewEvent.FLIGHT: frozenset({LayoutType.LEFT_RIGHT_TEXT}),
    LiveViewEvent.TAXI: frozenset(
        {LayoutType.PROGRESS, LayoutType.PICKUP, LayoutType.LEFT_RIGHT_TEXT, LayoutType.SCORE}
    ),
    LiveViewEvent.TRAIN: frozenset({LayoutType.LEFT_RIGHT_TEXT}),
}
CREATION_KEYWORD: dict[LiveViewEvent, str] = {
    LiveViewEvent.FLIGHT: "flightNo",
    LiveViewEvent.TRAIN: "trainNo",
}
CREATING_OPERATIONS = frozenset({LiveViewOperation.CREATE, LiveViewOperation.GEOFENCE_CREATE})
TRIGGERED_OPERATIONS = frozenset(
    {LiveViewOperation.GEOFENCE_CREATE, LiveViewOperation.GEOFENCE_END}
)
STATUS_PLACEHOLDER = "{{status}}"

Line = Annotated[Str, max_chars(MAX_LINE_CHARS, non_empty=True)]
Colour = Annotated[Str, argb_colour()]


def _total_text(items: list[RichText]) -> int:
    return sum(len(item.text) for item in items)


def _check_rich_texts(items: list[RichText] | None, limit: int, field: str) -> None:
    if items is None:
        return
    require(_total_text(items) <= limit, f"text must be at most {limit} characters in total", field)
    require(distinct_colours(items) <= 1, "items may use only one foregroundColor", field)


class Extend(WireModel):
    """The auxiliary area of a live-view card (spec 8.8)."""

    type: Annotated[ExtendType, int_enum(ExtendType)] | None = None
    text: Str | None = None
    # `pic` is being retired in favour of `image`; either satisfies types 3 and 4.
    pic: Str | None = None
    image: Str | None = None
    image_url: Str | None = None
    click_action: ClickAction | None = None

    @model_validator(mode="after")
    def _check_content(self) -> Self:
        if self.type in (ExtendType.TEXT, ExtendType.CAPSULE_TEXT):
            require(bool(self.text), "is required and non-empty for extend type 1 or 2", "text")
        if self.type in (ExtendType.PICTURE, ExtendType.ICON):
            require(bool(self.image or self.pic), "is required for extend type 3 or 4", "image")
        return self


class Team(WireModel):
    """One side of a score card (spec 8.9); fields are required at creation."""

    icon: Str | None = None
    icon_url: Str | None = None
    name: Str | None = None
    score: Str | None = None


class Competition(WireModel):
    """The match description of a score card (spec 8.9)."""

    desc: Str | None = None
    rich_desc: list[RichText] | None = None
    time: Str | None = None


class Game(WireModel):
    """The score area of layout type 7."""

    host: Team
    guest: Team
    competition: Competition


class SingleTextBlock(WireModel):
    """The emphasised text of layout type 4."""

    first_line: Line
    second_line: Line
    underline_color: Colour | None = None


class FirstTextBlock(WireModel):
    """The left block of layout type 5."""

    first_line: Line
    second_line: Line


# "+x" with x from 1 to 9 (e.g. arrival the next day). The device hides other values; refusing
# them tells the sender instead (I).
Superscript = Annotated[Str, matches(r"\+[1-9]", "must be '+' followed by a digit from 1 to 9")]


class LastTextBlock(WireModel):
    """The right block of layout type 5."""

    first_line: Line
    second_line: Line
    first_line_superscript: Superscript | None = None
    second_line_superscript: Superscript | None = None


class RichProgress(WireModel):
    """The progress block of layout type 3 (spec 8.13)."""

    indicator_icon: Str | None = None
    progress: Annotated[Int, between(0, 100)]
    color: Colour | None = None
    bg_color: Colour | None = None
    node_icons: Annotated[list[Str], max_items(5, min_items=2)] | None = None
    type: Annotated[ProgressLineType, int_enum(ProgressLineType)] | None = None
    indicator_type: Annotated[IndicatorType, int_enum(IndicatorType)] | None = None


class LiveViewLockScreen(WireModel):
    """The lock-screen immersive view."""

    picture: Str | None = None
    # Live View Kit's limit for this name (the field-mapping page gives none of its own).
    ability_name: Annotated[Str, max_chars(MAX_LINE_CHARS)] | None = None


class Weather(WireModel):
    """The weather badge of layout type 5 (spec 8.14).

    weatherType is any integer: the device shows no weather for values it does not know, so
    Huawei does not refuse them (see `WeatherType` for the known ones).
    """

    weather_type: Int | None = None
    location_type: Annotated[WeatherLocationType, int_enum(WeatherLocationType)] | None = None
    # Each temperature is held to the whole range -95..58 even when the other is absent (I: the
    # spec bounds high by 58 and low by -95, and each by the other).
    high_temperature: Annotated[Int, between(-95, 58)] | None = None
    low_temperature: Annotated[Int, between(-95, 58)] | None = None

    @model_validator(mode="after")
    def _check_temperatures(self) -> Self:
        if self.high_temperature is not None and self.low_temperature is not None:
            require(
                self.high_temperature > self.low_temperature,
                "must be greater than lowTemperature",
                "highTemperature",
            )
        return self


class NotificationData(WireModel):
    """The live-view card (spec 8.6)."""

    type: Annotated[LayoutType, int_enum(LayoutType)]
    keywords: dict[str, Str] | None = None
    # additionalText, weather and backgroundType are rendered only for type 5; elsewhere they
    # are accepted and have no effect (I: the spec says "only for type 5", not "refused").
    additional_text: Str | None = None
    keep_time: Annotated[Int, between(0, 3600)] | None = None
    content_title: Annotated[Str, max_chars(MAX_CONTENT_CHARS)] | None = None
    content_text: list[RichText] | None = None
    rich_progress: RichProgress | None = None
    single_text_block: SingleTextBlock | None = None
    first_text_block: FirstTextBlock | None = None
    last_text_block: LastTextBlock | None = None
    display_horizontal_line: Bool | None = None
    space_icon: Str | None = None
    space_text: Str | None = None
    style: Annotated[LiveViewStyle, int_enum(LiveViewStyle)] | None = None
    space_type: Annotated[SpaceType, int_enum(SpaceType)] | None = None
    extend: Extend | None = None
    game: Game | None = None
    desc_pic: Str | None = None
    click_action: ClickAction
    lock_screen: LiveViewLockScreen | None = None
    weather: Weather | None = None
    background_type: Annotated[BackgroundType, int_enum(BackgroundType)] | None = None
    desc_pic_url: Str | None = None
    space_icon_url: Str | None = None

    @model_validator(mode="after")
    def _check_texts_and_action(self) -> Self:
        _check_rich_texts(self.content_text, MAX_CONTENT_CHARS, "contentText")
        require(
            self.click_action.action_type in NOTIFICATION_DATA_CLICK_ACTIONS,
            "must be 0 or 1 in notificationData",
            "clickAction.actionType",
        )
        return self

    def placeholder_texts(self) -> Iterator[str]:
        """The texts in which `{{placeholders}}` are replaced, for this layout type (spec 8.2)."""
        if self.content_title:
            yield self.content_title
        for item in self.content_text or ():
            yield item.text
        if self.extend is not None and self.extend.text:
            yield self.extend.text
        blocks: list[SingleTextBlock | FirstTextBlock | LastTextBlock | None] = []
        if self.type == LayoutType.PICKUP:
            blocks = [self.single_text_block]
        elif self.type == LayoutType.LEFT_RIGHT_TEXT:
            blocks = [self.first_text_block, self.last_text_block]
        for block in blocks:
            if block is not None:
                yield block.first_line
                yield block.second_line


class CapsuleTimer(WireModel):
    """The timer of a type-2 capsule."""

    # Milliseconds shown on the timer; a negative time has no display, so it is refused (I).
    time: Annotated[Int, between(0, INT64_MAX)] | None = None
    count_down: Bool | None = None
    pause: Bool | None = None


class Progress(WireModel):
    """The progress of a type-3 capsule; progress must not exceed max (default 1)."""

    max: Annotated[Int, between(1, INT32_MAX)] | None = None
    progress: Annotated[Int, between(0, INT32_MAX)]
    indeterminate: Bool | None = None

    @model_validator(mode="after")
    def _check_progress(self) -> Self:
        limit = 1 if self.max is None else self.max
        require(self.progress <= limit, f"must not exceed max ({limit})", "progress")
        return self


def _check_capsule_colour(value: str) -> str:
    if value.upper() in FORBIDDEN_CAPSULE_COLOURS:
        raise rule_error("must not be " + ", ".join(sorted(FORBIDDEN_CAPSULE_COLOURS)))
    return value


class CapsuleData(WireModel):
    """The status-bar capsule (spec 8.12)."""

    type: Annotated[CapsuleType, int_enum(CapsuleType)]
    status: Annotated[CapsuleStatus, int_enum(CapsuleStatus)]
    icon: Annotated[Str, non_empty()]  # required; an empty file name names no icon (I)
    # The *Url fields come from the field-mapping page only, with no published constraints
    # (spec open question 3): any string is accepted, here and in Extend, Team, NotificationData.
    icon_url: Str | None = None
    tail_icon: Str | None = None
    tail_icon_url: Str | None = None
    is_content_displayed: Bool | None = None
    is_tail_icon_displayed: Bool | None = None
    bg_color: Annotated[Str, argb_colour(), AfterValidator(_check_capsule_colour)]
    remind: Annotated[CapsuleRemind, text_enum(CapsuleRemind)] | None = None
    title: Annotated[Str, max_chars(MAX_LINE_CHARS)] | None = None
    content: Annotated[Str, max_chars(MAX_LINE_CHARS)] | None = None
    capsule_timer: CapsuleTimer | None = None
    progress: Progress | None = None


class ExternalData(WireModel):
    """Cover-screen content for small foldables (spec 8.15)."""

    type: Annotated[ExternalDataType, int_enum(ExternalDataType)] | None = None
    bg_color: Annotated[Str, rgb_colour()] | None = None
    bg_image: Str | None = None
    title: Annotated[Str, max_chars(MAX_LINE_CHARS)] | None = None
    body: list[RichText] | None = None

    @model_validator(mode="after")
    def _check_body(self) -> Self:
        _check_rich_texts(self.body, MAX_LINE_CHARS, "body")
        return self


class ActivityData(WireModel):
    """The content of a live view."""

    notification_data: NotificationData
    capsule_data: CapsuleData | None = None
    external_data: ExternalData | None = None


class Geofence(WireModel):
    """A circular fence (spec 8.5); degrees may be fractional (I: the doc's "Long" is taken as
    a number, since whole degrees cannot place a fence of 200 m)."""

    longitude: Annotated[Number, between(-180, 180)]
    latitude: Annotated[Number, between(-90, 90)]
    coordinate_system_type: Annotated[CoordinateSystemType, int_enum(CoordinateSystemType)]
    monitor_event: Annotated[MonitorEvent, int_enum(MonitorEvent)]
    radius: Annotated[Int, between(200, 2000)]
    delay_time: Annotated[Int, between(0, 300)] | None = None


class Trigger(WireModel):
    """What starts a delayed create or end (operations 4 and 6)."""

    type: Annotated[TriggerType, int_enum(TriggerType)] | None = None
    condition: Geofence
    display_time: Annotated[Int, between(15, 1800)] | None = None


class LiveViewPayload(WireModel):
    """Push-type 7: create, update or end a live view (spec 8.1)."""

    PUSH_TYPE: ClassVar[PushType] = PushType.LIVE_VIEW

    activity_id: Annotated[Int, between(INT32_MIN, INT32_MAX)]
    operation: Annotated[LiveViewOperation, int_enum(LiveViewOperation)]
    event: Annotated[LiveViewEvent, text_enum(LiveViewEvent)]
    sub_event: Str | None = None
    status: Str | None = None
    title: Str | None = None
    content: Str | None = None
    mute: Bool | None = None
    version: Annotated[Int, between(0, INT32_MAX)] | None = None
    activity_data: ActivityData
    trigger: Trigger | None = None

    @model_validator(mode="after")
    def _check_operation_rules(self) -> Self:
        if self.operation in TRIGGERED_OPERATIONS:
            require(self.trigger is not None, "is required with operation 4 or 6", "trigger")
        else:
            require(self.trigger is None, "is only allowed with operation 4 or 6", "trigger")
        self._check_status()
        self._check_keyword_names()
        if self.operation in CREATING_OPERATIONS:
            self._creation_rules()
        return self

    @property
    def is_creation(self) -> bool:
        """Whether this message creates the live view (now, or when its geofence fires)."""
        return self.operation in CREATING_OPERATIONS

    def _check_status(self) -> None:
        allowed = STATUS_VALUES.get(self.event)
        if self.status is None or allowed is None:
            return
        require(
            self.status in allowed,
            f"must be one of {', '.join(sorted(allowed))} for event {self.event.value}",
            "status",
        )

    def _check_keyword_names(self) -> None:
        # FLIGHT and TRAIN keywords hold only their number, on any operation that sends them.
        keyword = CREATION_KEYWORD.get(self.event)
        keywords = self.activity_data.notification_data.keywords
        if keyword is None or not keywords:
            return
        extra = sorted(set(keywords) - {keyword})
        if extra:
            raise rule_error(
                f"may hold only {keyword}", f"activityData.notificationData.keywords.{extra[0]}"
            )

    def _creation_rules(self) -> None:
        layouts = CREATION_LAYOUTS.get(self.event)
        if layouts is None:
            raise rule_error("may be created by REST only for FLIGHT, TAXI and TRAIN", "event")
        require(bool(self.status), "is required when creating a live view", "status")
        data = self.activity_data.notification_data
        path = "activityData.notificationData"
        allowed_layouts = sorted(int(layout) for layout in layouts)
        require(
            data.type == LayoutType.BASIC or data.type in layouts,
            f"must be -1 or one of {allowed_layouts} when creating a {self.event.value} live view",
            f"{path}.type",
        )
        _check_creation_content(data, path)
        self._check_keywords_and_placeholders(data, path)
        if self.activity_data.capsule_data is not None:
            _check_capsule_creation(self.activity_data.capsule_data, "activityData.capsuleData")
        if self.activity_data.external_data is not None:
            _check_external_creation(self.activity_data.external_data, "activityData.externalData")

    def _check_keywords_and_placeholders(self, data: NotificationData, path: str) -> None:
        texts = list(data.placeholder_texts())
        require(
            any(STATUS_PLACEHOLDER in text for text in texts),
            f"must contain {STATUS_PLACEHOLDER} in a text field when creating a live view",
            f"{path}.contentTitle",
        )
        keyword = CREATION_KEYWORD.get(self.event)
        if keyword is None:
            return
        keywords = data.keywords or {}
        require(
            bool(keywords.get(keyword)),
            f"must hold a non-empty {keyword} when creating a {self.event.value} live view",
            f"{path}.keywords",
        )
        placeholder = "{{" + keyword + "}}"
        require(
            any(placeholder in text for text in texts),
            f"must contain {placeholder} in a text field when creating a "
            f"{self.event.value} live view",
            f"{path}.contentTitle",
        )


def _check_creation_content(data: NotificationData, path: str) -> None:
    require(
        bool(data.content_title), "is required and non-empty at creation", f"{path}.contentTitle"
    )
    require(bool(data.content_text), "is required and non-empty at creation", f"{path}.contentText")
    if data.type == LayoutType.PROGRESS:
        progress = data.rich_progress
        if progress is None:
            raise rule_error("is required for type 3", f"{path}.richProgress")
        require(
            bool(progress.node_icons),
            "is required at creation",
            f"{path}.richProgress.nodeIcons",
        )
        if progress.indicator_type in (IndicatorType.ABOVE_LINE, IndicatorType.ON_LINE):
            require(
                bool(progress.indicator_icon),
                "is required at creation when indicatorType is 1 or 2",
                f"{path}.richProgress.indicatorIcon",
            )
    elif data.type == LayoutType.PICKUP:
        require(
            data.single_text_block is not None, "is required for type 4", f"{path}.singleTextBlock"
        )
        require(
            bool(data.desc_pic),
            "is required and non-empty at creation for type 4",
            f"{path}.descPic",
        )
    elif data.type == LayoutType.LEFT_RIGHT_TEXT:
        require(
            data.first_text_block is not None, "is required for type 5", f"{path}.firstTextBlock"
        )
        require(data.last_text_block is not None, "is required for type 5", f"{path}.lastTextBlock")
        if data.space_type == SpaceType.TEXT:
            require(
                bool(data.space_text),
                "is required at creation when spaceType is 1",
                f"{path}.spaceText",
            )
        else:
            require(
                bool(data.space_icon),
                "is required at creation when spaceType is 0 or absent",
                f"{path}.spaceIcon",
            )
    elif data.type == LayoutType.SCORE:
        if data.game is None:
            raise rule_error("is required for type 7", f"{path}.game")
        _check_game_creation(data.game, f"{path}.game")


def _check_game_creation(game: Game, path: str) -> None:
    for side, team in (("host", game.host), ("guest", game.guest)):
        for field, value in (("icon", team.icon), ("name", team.name), ("score", team.score)):
            require(bool(value), "is required and non-empty at creation", f"{path}.{side}.{field}")
    competition = game.competition
    has_desc = bool(competition.desc) or bool(
        "".join(item.text for item in competition.rich_desc or ())
    )
    require(
        has_desc,
        "desc or richDesc is required and non-empty at creation",
        f"{path}.competition.desc",
    )
    require(
        bool(competition.time), "is required and non-empty at creation", f"{path}.competition.time"
    )


def _check_capsule_creation(capsule: CapsuleData, path: str) -> None:
    if capsule.type == CapsuleType.ICON_TEXT:
        require(bool(capsule.title), "is required at creation for capsule type 1", f"{path}.title")
    if capsule.type in (CapsuleType.ICON_TEXT, CapsuleType.TIMER):
        require(
            bool(capsule.content),
            "is required at creation for capsule type 1 or 2",
            f"{path}.content",
        )
    if capsule.type == CapsuleType.TIMER:
        require(
            capsule.capsule_timer is not None,
            "is required for capsule type 2",
            f"{path}.capsuleTimer",
        )
    if capsule.type == CapsuleType.PROGRESS:
        require(capsule.progress is not None, "is required for capsule type 3", f"{path}.progress")


def _check_external_creation(external: ExternalData, path: str) -> None:
    require(bool(external.title), "is required and non-empty at creation", f"{path}.title")
    require(bool(external.body), "is required and non-empty at creation", f"{path}.body")
    if external.type == ExternalDataType.IMAGE:
        require(
            bool(external.bg_image), "is required at creation when type is 1", f"{path}.bgImage"
        )
