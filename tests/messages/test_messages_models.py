"""The models speak exactly the spec's field names and enumeration values (sections 3 to 10)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hmpush import messages as m

SPEC_FIELDS: dict[type[BaseModel], str] = {
    m.PushOptions: "testMessage ttl biTag receiptId collapseKey backgroundMode",
    m.Target: "token",
    m.AlertPayload: "notification",
    m.Notification: (
        "category title body image overlayIcon style bigTitle bigBody notifyId appMessageId "
        "profileId inboxContent clickAction badge sound soundDuration foregroundShow priorityScene"
    ),
    m.ClickAction: "actionType action uri data",
    m.Badge: "addNum setNum",
    m.ExtensionPayload: "notification extraData",
    m.FormUpdatePayload: "formId version images moduleName formName abilityName formData",
    m.FormImage: "keyName url require",
    m.BackgroundPayload: "extraData proxyData",
    m.VoIPCallPayload: "extraData",
    m.LiveViewPayload: (
        "activityId operation event subEvent status title content mute version activityData trigger"
    ),
    m.ActivityData: "notificationData capsuleData externalData",
    m.Trigger: "type condition displayTime",
    m.Geofence: "longitude latitude coordinateSystemType monitorEvent radius delayTime",
    m.NotificationData: (
        "type keywords additionalText keepTime contentTitle contentText richProgress "
        "singleTextBlock firstTextBlock lastTextBlock displayHorizontalLine spaceIcon spaceText "
        "style spaceType extend game descPic clickAction lockScreen weather backgroundType "
        "descPicUrl spaceIconUrl"
    ),
    m.RichText: "text foregroundColor",
    m.Extend: "type text pic image imageUrl clickAction",
    m.Game: "host guest competition",
    m.Team: "icon iconUrl name score",
    m.Competition: "desc richDesc time",
    m.SingleTextBlock: "firstLine secondLine underlineColor",
    m.FirstTextBlock: "firstLine secondLine",
    m.LastTextBlock: "firstLine secondLine firstLineSuperscript secondLineSuperscript",
    m.LiveViewLockScreen: "picture abilityName",
    m.CapsuleData: (
        "type status icon iconUrl tailIcon tailIconUrl isContentDisplayed isTailIconDisplayed "
        "bgColor remind title content capsuleTimer progress"
    ),
    m.CapsuleTimer: "time countDown pause",
    m.Progress: "max progress indeterminate",
    m.RichProgress: "indicatorIcon progress color bgColor nodeIcons type indicatorType",
    m.Weather: "weatherType locationType highTemperature lowTemperature",
    m.ExternalData: "type bgColor bgImage title body",
    m.SendResponse: "code msg requestId",
}


@pytest.mark.parametrize("model", list(SPEC_FIELDS), ids=lambda model: model.__name__)
def test_json_names_are_the_specs(model: type[BaseModel]) -> None:
    aliases = [field.alias or name for name, field in model.model_fields.items()]
    assert aliases == SPEC_FIELDS[model].split()


def test_every_payload_model_knows_its_push_type() -> None:
    assert {model.PUSH_TYPE for model in m.PAYLOAD_MODELS.values()} == set(m.PushType)
    assert [int(kind) for kind in m.PushType] == [0, 1, 2, 6, 7, 10]


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (
            m.Category,
            "IM VOIP MISS_CALL SUBSCRIPTION TRAVEL HEALTH WORK ACCOUNT EXPRESS FINANCE "
            "DEVICE_REMINDER MAIL PLAY_VOICE MARKETING",
        ),
        (
            m.LiveViewEvent,
            "TAXI DELIVERY FLIGHT TRAIN QUEUE PICK_UP SCORE RENT TIMER WORKOUT "
            "NAVIGATION EXPRESS CHECK_IN",
        ),
        (
            m.TaxiStatus,
            "CALLING ABOUT_TO_BEGIN DRIVER_ON_THE_WAY DRIVER_ARRIVE "
            "HEADING_TO_DESTINATION COMPLETED RE_CALLING CANCELED",
        ),
        (
            m.TrainStatus,
            "DEPART PASSED_SECURITY_CHECK TICKET_CHECK CHECKED CHECK_IN_CLOSED "
            "SET_OFF HEADING_TO_DESTINATION ARRIVED GATE_CHANGE TRAIN_DELAY TRAIN_CANCEL",
        ),
        (m.PriorityScene, "PRIMARY_CONTACT AT_ME URGENT_MESSAGE SCHEDULE_REMINDER"),
        (m.CapsuleRemind, "DEFAULT FLIP EXPAND"),
    ],
)
def test_text_enumerations(enum: type, values: str) -> None:
    assert [member.value for member in enum] == values.split()


def test_flight_statuses() -> None:
    assert len(m.FlightStatus) == 18
    assert {"DEPART", "GATE_CHANGE", "FLIGHT_RETURN"} <= {s.value for s in m.FlightStatus}


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (m.ClickActionType, [0, 1, 3, 5]),
        (m.LiveViewOperation, [0, 1, 2, 4, 6]),
        (m.LayoutType, [-1, 3, 4, 5, 7]),
        (m.NotificationStyle, [0, 1, 3]),
        (m.ExtendType, [0, 1, 2, 3, 4]),
        (m.CapsuleType, [1, 2, 3]),
        (m.CapsuleStatus, [1, -1]),
        (m.BackgroundType, [0, 100, 101]),
    ],
)
def test_integer_enumerations(enum: type, values: list[int]) -> None:
    assert [member.value for member in enum] == values
