"""Valid request bodies for every push-type, modelled on the request examples of Huawei's docs.

The texts, ids and tokens are this project's own; the shapes follow the documented examples
(every field each of them sets, a form-data key of digits, and non-ASCII text as in the docs).
Each builder returns a fresh dict so tests may modify it.
"""

from __future__ import annotations

import re
from typing import Any

TOKEN = "MAAALgE4G98BAAAAstExampleTokenForTests0001jg"


def target(*tokens: str) -> dict[str, Any]:
    """A target block with the given tokens (one example token by default)."""
    return {"token": list(tokens) or [TOKEN]}


def notification() -> dict[str, Any]:
    """Push-type 0: a plain notification with a large icon."""
    return {
        "payload": {
            "notification": {
                "category": "IM",
                "title": "New message",
                "body": "Ada: see you at noon",
                "clickAction": {"actionType": 0},
                "style": 0,
                "image": "https://example.com/avatar/ada.png",
            }
        },
        "target": target(),
    }


def notification_foreground_hidden() -> dict[str, Any]:
    """Push-type 0: a test message that the app handles itself while in the foreground."""
    return {
        "payload": {
            "notification": {
                "category": "MARKETING",
                "title": "Weekly digest",
                "body": "Five new articles",
                "clickAction": {"actionType": 0},
                "foregroundShow": False,
            }
        },
        "target": target(),
        "pushOptions": {"testMessage": True, "ttl": 86400},
    }


def form_update() -> dict[str, Any]:
    """Push-type 1: a widget refresh with one image."""
    return {
        "payload": {
            "formData": {"temperature": 21, "7": "sunny", "city": "Hangzhou"},
            "version": 922337203,
            "images": [{"keyName": "icon", "url": "https://example.com/sun.png", "require": 1}],
            "formId": 0,
            "moduleName": "entry",
            "formName": "weather",
            "abilityName": "WeatherFormAbility",
        },
        "pushOptions": {"biTag": "widget-refresh", "ttl": 666},
        "target": target(),
    }


def voice_broadcast() -> dict[str, Any]:
    """Push-type 2: a PLAY_VOICE notification handled by the extension process."""
    return {
        "payload": {
            "extraData": "amount=12.50",
            "notification": {
                "category": "PLAY_VOICE",
                "title": "Payment received",
                "body": "12.50 received",
                "clickAction": {"actionType": 0},
                "style": 0,
                "image": "https://example.com/shop/logo.png",
            },
        },
        "target": target(),
    }


def background() -> dict[str, Any]:
    """Push-type 6: data for the app."""
    return {"payload": {"extraData": '{"sync": "收件箱"}'}, "target": target()}


def voip_call() -> dict[str, Any]:
    """Push-type 10: wake the app for an incoming call."""
    return {
        "pushOptions": {"biTag": "call", "ttl": 30},
        "payload": {"extraData": '{"scene": "voice"}'},
        "target": target(),
    }


def _capsule(title: str, content: str, *, remind: str | None = "EXPAND") -> dict[str, Any]:
    capsule: dict[str, Any] = {
        "type": 1,
        "status": 1,
        "icon": "capsule.svg",
        "bgColor": "#FF317AF7",
        "title": title,
        "content": content,
    }
    if remind:
        capsule["remind"] = remind
    return capsule


def _live_view(payload: dict[str, Any]) -> dict[str, Any]:
    return {"pushOptions": {"ttl": 1000, "biTag": "trip"}, "payload": payload, "target": target()}


def flight_create() -> dict[str, Any]:
    """Push-type 7: create a FLIGHT live view with the left/right text layout."""
    return _live_view(
        {
            "activityId": 1,
            "operation": 0,
            "event": "FLIGHT",
            "status": "DEPART",
            "activityData": {
                "notificationData": {
                    "keywords": {"flightNo": "CA1234"},
                    "type": 5,
                    "contentTitle": "Flight {{status}}",
                    "contentText": [
                        {"text": "Flight no. "},
                        {"text": "{{flightNo}}", "foregroundColor": "#FF317AF7"},
                    ],
                    "clickAction": {"actionType": 0},
                    "firstTextBlock": {"firstLine": "08:00", "secondLine": "Beijing"},
                    "lastTextBlock": {
                        "firstLine": "01:10",
                        "secondLine": "Sydney",
                        "firstLineSuperscript": "+1",
                    },
                    "displayHorizontalLine": True,
                    "spaceIcon": "plane.png",
                    "extend": {
                        "type": 3,
                        "image": "boarding-pass.png",
                        "clickAction": {"actionType": 1, "action": "app.action.boarding"},
                    },
                },
                "capsuleData": _capsule("Departing soon", "Head to the airport"),
            },
        }
    )


def taxi_create() -> dict[str, Any]:
    """Push-type 7: create a TAXI live view with the progress layout and a dial button."""
    return _live_view(
        {
            "activityId": 2,
            "operation": 0,
            "event": "TAXI",
            "status": "DRIVER_ON_THE_WAY",
            "activityData": {
                "notificationData": {
                    "type": 3,
                    "contentTitle": "{{status}}",
                    "contentText": [
                        {"text": "Distance "},
                        {"text": "1.2 km", "foregroundColor": "#FF317AF7"},
                        {"text": " | "},
                        {"text": "5 min", "foregroundColor": "#FF317AF7"},
                    ],
                    "clickAction": {"actionType": 1, "action": "app.action.trip"},
                    "richProgress": {
                        "type": 0,
                        "nodeIcons": ["start.png", "car.png", "end.png"],
                        "indicatorIcon": "taxi.png",
                        "progress": 40,
                        "indicatorType": 1,
                        "color": "#FF317AF7",
                        "bgColor": "#19000000",
                    },
                    "extend": {
                        "type": 3,
                        "pic": "phone.png",
                        "clickAction": {"actionType": 5, "data": {"tel": "+86 138-0000-0000"}},
                    },
                },
                "capsuleData": _capsule("Driver coming", "About 5 min"),
            },
        }
    )


def train_create() -> dict[str, Any]:
    """Push-type 7: create a TRAIN live view with fallback title and content."""
    return _live_view(
        {
            "activityId": 3,
            "operation": 0,
            "event": "TRAIN",
            "status": "DEPART",
            "title": "Train leaving soon",
            "content": "Head to the station",
            "activityData": {
                "notificationData": {
                    "keywords": {"trainNo": "G7502"},
                    "type": 5,
                    "contentTitle": "Train {{status}}",
                    "contentText": [
                        {"text": "Train "},
                        {"text": "{{trainNo}}", "foregroundColor": "#FF317AF7"},
                    ],
                    "clickAction": {"actionType": 0},
                    "firstTextBlock": {"firstLine": "13:00", "secondLine": "杭州东"},
                    "lastTextBlock": {"firstLine": "14:20", "secondLine": "苏州北"},
                    "displayHorizontalLine": True,
                    "spaceIcon": "train.png",
                    "extend": {
                        "type": 3,
                        "pic": "ticket.png",
                        "clickAction": {"actionType": 1, "action": "app.action.ticket"},
                    },
                },
                "capsuleData": _capsule("Leaving soon", "Head to the station"),
            },
        }
    )


def flight_update() -> dict[str, Any]:
    """Push-type 7: update a FLIGHT live view (checked in)."""
    body = flight_create()
    payload = body["payload"]
    payload.update(operation=1, status="CHECKED_IN", version=1)
    data = payload["activityData"]["notificationData"]
    data["contentTitle"] = "Gate 12"
    data["contentText"][0]["text"] = "{{status}} | "
    payload["activityData"]["capsuleData"] = _capsule("Gate 12", "Go through security")
    return body


def taxi_update_progress() -> dict[str, Any]:
    """Push-type 7: update a TAXI live view (heading to the destination)."""
    body = taxi_create()
    payload = body["payload"]
    payload.update(operation=1, status="HEADING_TO_DESTINATION", version=1)
    data = payload["activityData"]["notificationData"]
    data["richProgress"]["progress"] = 60
    data["extend"] = {"type": 0}
    payload["activityData"]["capsuleData"] = _capsule("27 min", "7.2 km to go", remind=None)
    return body


def taxi_update_pickup() -> dict[str, Any]:
    """Push-type 7: update a TAXI live view to the emphasised-text layout (trip completed)."""
    return _live_view(
        {
            "activityId": 2,
            "operation": 1,
            "event": "TAXI",
            "status": "COMPLETED",
            "version": 2,
            "activityData": {
                "notificationData": {
                    "type": 4,
                    "contentTitle": "{{status}}, please pay",
                    "contentText": [
                        {"text": "Total "},
                        {"text": "10 km", "foregroundColor": "#FF317AF7"},
                    ],
                    "clickAction": {"actionType": 1, "action": "app.action.pay"},
                    "singleTextBlock": {
                        "firstLine": "Fare",
                        "secondLine": "35.20",
                        "underlineColor": "#FF317AF7",
                    },
                    "descPic": "payment.png",
                    "extend": {"type": 0},
                },
                "capsuleData": _capsule("To pay", "35.20", remind=None),
            },
        }
    )


def train_update() -> dict[str, Any]:
    """Push-type 7: update a TRAIN live view (running)."""
    body = train_create()
    payload = body["payload"]
    payload.update(operation=1, status="HEADING_TO_DESTINATION", version=1)
    del payload["title"], payload["content"]
    payload["activityData"]["notificationData"]["contentTitle"] = "{{status}}"
    return body


def score_update() -> dict[str, Any]:
    """Push-type 7: update a SCORE live view (no status needed)."""
    return _live_view(
        {
            "activityId": 4,
            "operation": 1,
            "event": "SCORE",
            "activityData": {
                "notificationData": {
                    "type": 7,
                    "contentTitle": "Fourth quarter",
                    "contentText": [
                        {"text": "Lions", "foregroundColor": "#FF317AF7"},
                        {"text": " vs "},
                        {"text": "Tigers", "foregroundColor": "#FF317AF7"},
                    ],
                    "game": {
                        "host": {"icon": "lions.png", "name": "Lions", "score": "110"},
                        "guest": {"icon": "tigers.png", "name": "Tigers", "score": "102"},
                        "competition": {"desc": "Q4", "time": "02:16"},
                    },
                    "displayHorizontalLine": True,
                    "clickAction": {"actionType": 1, "action": "app.action.match"},
                },
                "capsuleData": _capsule("110:102", "Fourth quarter", remind=None),
            },
        }
    )


# (push-type, builder) for every documented request example.
DOCUMENTED_EXAMPLES = [
    (0, notification),
    (0, notification_foreground_hidden),
    (1, form_update),
    (2, voice_broadcast),
    (6, background),
    (7, flight_create),
    (7, taxi_create),
    (7, train_create),
    (7, flight_update),
    (7, taxi_update_progress),
    (7, taxi_update_pickup),
    (7, train_update),
    (7, score_update),
    (10, voip_call),
]


DELETE = object()
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _SEGMENT.findall(path)]


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the value at a dotted path (`a.b[1].c`) replaced, added or (DELETE) removed."""
    steps = _steps(path)
    node: Any = body
    for step in steps[:-1]:
        if isinstance(step, str) and step not in node:
            node[step] = {}
        node = node[step]
    last = steps[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return body
