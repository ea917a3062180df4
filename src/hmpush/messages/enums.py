"""Enumerations of the v3 wire format (spec sections 1.2, 5, 8)."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "BackgroundType",
    "CapsuleRemind",
    "CapsuleStatus",
    "CapsuleType",
    "Category",
    "ClickActionType",
    "CoordinateSystemType",
    "ExtendType",
    "ExternalDataType",
    "FlightStatus",
    "FormImageRequire",
    "IndicatorType",
    "LayoutType",
    "LiveViewEvent",
    "LiveViewOperation",
    "LiveViewStyle",
    "MonitorEvent",
    "NotificationStyle",
    "PriorityScene",
    "ProgressLineType",
    "PushType",
    "SpaceType",
    "TaxiStatus",
    "TrainStatus",
    "TriggerType",
    "WeatherLocationType",
    "WeatherType",
]


class PushType(IntEnum):
    """The `push-type` header: which payload schema the body carries."""

    NOTIFICATION = 0
    FORM_UPDATE = 1
    VOICE_BROADCAST = 2
    BACKGROUND = 6
    LIVE_VIEW = 7
    VOIP_CALL = 10


class Category(StrEnum):
    """Notification self-classification (spec 5.2).

    The legacy values (SYSTEM_REMINDER, NEWS, PROMO, ...) are unknown to the current docs (U);
    they are refused so that a sender learns about them before Huawei silently downgrades them.
    """

    IM = "IM"
    VOIP = "VOIP"
    MISS_CALL = "MISS_CALL"
    SUBSCRIPTION = "SUBSCRIPTION"
    TRAVEL = "TRAVEL"
    HEALTH = "HEALTH"
    WORK = "WORK"
    ACCOUNT = "ACCOUNT"
    EXPRESS = "EXPRESS"
    FINANCE = "FINANCE"
    DEVICE_REMINDER = "DEVICE_REMINDER"
    MAIL = "MAIL"
    PLAY_VOICE = "PLAY_VOICE"
    MARKETING = "MARKETING"


class NotificationStyle(IntEnum):
    """Notification layout: 0 normal, 1 big text (deprecated), 3 inbox (multi-line)."""

    NORMAL = 0
    BIG_TEXT = 1
    INBOX = 3


class PriorityScene(StrEnum):
    """Priority-notification kinds."""

    PRIMARY_CONTACT = "PRIMARY_CONTACT"
    AT_ME = "AT_ME"
    URGENT_MESSAGE = "URGENT_MESSAGE"
    SCHEDULE_REMINDER = "SCHEDULE_REMINDER"


class ClickActionType(IntEnum):
    """Tap behaviour; which values are allowed depends on where the ClickAction sits (5.3.1)."""

    OPEN_APP = 0
    OPEN_PAGE = 1
    CLEAR_NOTIFICATION = 3
    DIAL = 5


class FormImageRequire(IntEnum):
    """Widget image failure policy: 1 skip the whole refresh, 0 refresh the text only."""

    TEXT_ONLY = 0
    REQUIRED = 1


class LiveViewOperation(IntEnum):
    """Live-view action."""

    CREATE = 0
    UPDATE = 1
    END = 2
    GEOFENCE_CREATE = 4
    GEOFENCE_END = 6


class LiveViewEvent(StrEnum):
    """Live-view scenario."""

    TAXI = "TAXI"
    DELIVERY = "DELIVERY"
    FLIGHT = "FLIGHT"
    TRAIN = "TRAIN"
    QUEUE = "QUEUE"
    PICK_UP = "PICK_UP"
    SCORE = "SCORE"
    RENT = "RENT"
    TIMER = "TIMER"
    WORKOUT = "WORKOUT"
    NAVIGATION = "NAVIGATION"
    EXPRESS = "EXPRESS"
    CHECK_IN = "CHECK_IN"


class LayoutType(IntEnum):
    """`notificationData.type`: the live-view card layout."""

    BASIC = -1
    PROGRESS = 3
    PICKUP = 4
    LEFT_RIGHT_TEXT = 5
    SCORE = 7


class _LiveViewStatus(StrEnum):
    """A live-view `status` value with `text`, what the device shows for `{{status}}` (spec 8.3)."""

    text: str

    def __new__(cls, value: str, text: str) -> _LiveViewStatus:
        member = str.__new__(cls, value)
        member._value_ = value
        member.text = text
        return member


class FlightStatus(_LiveViewStatus):
    """FLIGHT `status` values.

    DEPART shows 计划 per the status table; the docs' own example renders 计划出发 (spec open
    question 13). The table wins here.
    """

    DEPART = "DEPART", "计划"
    WAITING_FOR_CHECK_IN = "WAITING_FOR_CHECK_IN", "未值机"
    CHECKED_IN = "CHECKED_IN", "已值机"
    PASSED_SECURITY_CHECK = "PASSED_SECURITY_CHECK", "已安检"
    START_BOARDING = "START_BOARDING", "开始登机"
    URGE_BOARDING = "URGE_BOARDING", "催促登机"
    BOARDED = "BOARDED", "已登机"
    END_BOARDING = "END_BOARDING", "结束登机"
    ABOUT_TO_TAKE_OFF = "ABOUT_TO_TAKE_OFF", "即将起飞"
    TAKEN_OFF = "TAKEN_OFF", "起飞"
    ARRIVED = "ARRIVED", "到达"
    TRANSFER = "TRANSFER", "中转提醒"
    NEW_ITINERARY = "NEW_ITINERARY", "新行程开启"
    GATE_CHANGE = "GATE_CHANGE", "登机口变更"
    FLIGHT_DELAY = "FLIGHT_DELAY", "延误"
    FLIGHT_CANCEL = "FLIGHT_CANCEL", "取消"
    FLIGHT_DIVERSION = "FLIGHT_DIVERSION", "备降"
    FLIGHT_RETURN = "FLIGHT_RETURN", "返航"


class TaxiStatus(_LiveViewStatus):
    """TAXI `status` values."""

    CALLING = "CALLING", "呼叫车辆中"
    ABOUT_TO_BEGIN = "ABOUT_TO_BEGIN", "行程即将开始"
    DRIVER_ON_THE_WAY = "DRIVER_ON_THE_WAY", "司机正在赶来"
    DRIVER_ARRIVE = "DRIVER_ARRIVE", "司机已到达上车点"
    HEADING_TO_DESTINATION = "HEADING_TO_DESTINATION", "正在去往目的地"
    COMPLETED = "COMPLETED", "行程结束"
    RE_CALLING = "RE_CALLING", "重新呼叫车辆中"
    CANCELED = "CANCELED", "订单已取消"


class TrainStatus(_LiveViewStatus):
    """TRAIN `status` values."""

    DEPART = "DEPART", "计划出发"
    PASSED_SECURITY_CHECK = "PASSED_SECURITY_CHECK", "已安检"
    TICKET_CHECK = "TICKET_CHECK", "检票提醒"
    CHECKED = "CHECKED", "已检票"
    CHECK_IN_CLOSED = "CHECK_IN_CLOSED", "停止检票"
    SET_OFF = "SET_OFF", "已出发"
    HEADING_TO_DESTINATION = "HEADING_TO_DESTINATION", "列车运行中"
    ARRIVED = "ARRIVED", "已到达"
    GATE_CHANGE = "GATE_CHANGE", "检票口变更"
    TRAIN_DELAY = "TRAIN_DELAY", "列车晚点"
    TRAIN_CANCEL = "TRAIN_CANCEL", "列车停运"


class LiveViewStyle(IntEnum):
    """Type-5 sub-style: 0 emphasis, 1 balanced."""

    EMPHASIS = 0
    BALANCED = 1


class SpaceType(IntEnum):
    """Type-5 middle content: 0 icon, 1 text."""

    ICON = 0
    TEXT = 1


class BackgroundType(IntEnum):
    """Type-5 card atmosphere."""

    NONE = 0
    MOON_VIEWING_FLIGHT = 100
    SUNSET_FLIGHT = 101


class ExtendType(IntEnum):
    """Auxiliary-area display type."""

    NONE = 0
    TEXT = 1
    CAPSULE_TEXT = 2
    PICTURE = 3
    ICON = 4


class ProgressLineType(IntEnum):
    """RichProgress line style."""

    DASHED = 0
    SOLID = 1
    THICK_SOLID = 2


class IndicatorType(IntEnum):
    """RichProgress indicator placement."""

    HIDDEN = 0
    ABOVE_LINE = 1
    ON_LINE = 2


class CapsuleType(IntEnum):
    """Capsule layout."""

    ICON_TEXT = 1
    TIMER = 2
    PROGRESS = 3


class CapsuleStatus(IntEnum):
    """Capsule visibility."""

    SHOW = 1
    HIDE = -1


class CapsuleRemind(StrEnum):
    """Capsule animation."""

    DEFAULT = "DEFAULT"
    FLIP = "FLIP"
    EXPAND = "EXPAND"


class ExternalDataType(IntEnum):
    """Cover-screen background: 0 colour, 1 image."""

    COLOUR = 0
    IMAGE = 1


class WeatherType(IntEnum):
    """Live View Kit weather kinds (spec 8.14); unknown values are accepted and not shown."""

    NONE = 0
    SUNNY = 1
    HAZY = 5
    CLOUDY = 7
    OVERCAST = 8
    FOG = 11
    SHOWERS = 12
    THUNDERSTORMS = 15
    RAIN = 18
    SNOW = 22
    SLEET = 29
    HOT = 30
    COLD = 31
    WINDY = 32
    HAIL = 45
    LIGHT_RAIN = 46
    MODERATE_RAIN = 47
    HEAVY_RAIN = 48
    STORM = 49
    SEVERE_STORM = 51
    LIGHT_SNOW = 52
    MODERATE_SNOW = 53
    HEAVY_SNOW = 54
    SNOWSTORM = 55
    DUST_STORM = 56
    DUST = 65
    SAND = 66
    SEVERE_SANDSTORM = 67


class WeatherLocationType(IntEnum):
    """Weather location: 1 local, 2 destination."""

    LOCAL = 1
    DESTINATION = 2


class TriggerType(IntEnum):
    """Live-view trigger kind (geofence only)."""

    GEOFENCE = 1


class CoordinateSystemType(IntEnum):
    """Geofence datum."""

    WGS84 = 1
    GCJ02 = 2


class MonitorEvent(IntEnum):
    """Geofence event."""

    ENTER = 1
    EXIT = 2
