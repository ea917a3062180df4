"""How fast `validate_request` checks a request body, against stdlib `json.loads` of the same bytes.

Run: .venv/bin/python benchmarks/validate.py [--seconds 1.0]

Cases: a notification to 1000 tokens (the emulator's hot path; goal: validation from bytes costs
at most 2x `json.loads`), a full live-view create (every optional block),
`PreparedMessage.body_for` rendering a 1000-token body (the sender's side), and the token-format
rule over 1000 tokens, one by one and in bulk.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import pydantic

from hmpush.messages import implausible_tokens, is_plausible_token, prepare, validate_request


def _tokens(count: int) -> list[str]:
    generator = random.Random(7)
    return ["MAMzLg" + base64.b64encode(generator.randbytes(96)).decode() for _ in range(count)]


def notification_body(tokens: list[str]) -> dict[str, Any]:
    """A typical notification with a few optional fields."""
    return {
        "payload": {
            "notification": {
                "category": "IM",
                "title": "New message",
                "body": "Ada: the build is green, shipping at noon",
                "image": "https://example.com/avatars/ada.png",
                "notifyId": 1234,
                "clickAction": {"actionType": 1, "action": "app.action.chat", "data": {"c": 42}},
                "badge": {"addNum": 1},
            }
        },
        "pushOptions": {"ttl": 3600, "biTag": "chat"},
        "target": {"token": tokens},
    }


def live_view_body(tokens: list[str]) -> dict[str, Any]:
    """A FLIGHT create using every block a type-5 live view can carry."""
    rich = [{"text": "Flight "}, {"text": "{{flightNo}}", "foregroundColor": "#FF317AF7"}]
    return {
        "pushOptions": {"ttl": 1000, "biTag": "trip"},
        "payload": {
            "activityId": 1,
            "operation": 0,
            "event": "FLIGHT",
            "status": "DEPART",
            "title": "Departing soon",
            "content": "Head to the airport",
            "mute": False,
            "version": 1,
            "activityData": {
                "notificationData": {
                    "type": 5,
                    "keywords": {"flightNo": "CA1234"},
                    "additionalText": "Times are local",
                    "keepTime": 600,
                    "contentTitle": "Flight {{status}}",
                    "contentText": rich,
                    "firstTextBlock": {"firstLine": "08:00", "secondLine": "Beijing"},
                    "lastTextBlock": {
                        "firstLine": "01:10",
                        "secondLine": "Sydney",
                        "firstLineSuperscript": "+1",
                    },
                    "displayHorizontalLine": True,
                    "spaceIcon": "plane.png",
                    "style": 0,
                    "spaceType": 0,
                    "extend": {
                        "type": 3,
                        "image": "pass.png",
                        "clickAction": {"actionType": 5, "data": {"tel": "+86 10 1234 5678"}},
                    },
                    "clickAction": {"actionType": 1, "action": "app.action.trip"},
                    "lockScreen": {"picture": "lock.png"},
                    "weather": {
                        "weatherType": 1,
                        "locationType": 2,
                        "highTemperature": 28,
                        "lowTemperature": 19,
                    },
                    "backgroundType": 101,
                },
                "capsuleData": {
                    "type": 2,
                    "status": 1,
                    "icon": "capsule.svg",
                    "bgColor": "#FF317AF7",
                    "remind": "EXPAND",
                    "title": "Boarding",
                    "content": "Gate 12",
                    "capsuleTimer": {"time": 600000, "countDown": True, "pause": False},
                },
                "externalData": {
                    "type": 0,
                    "bgColor": "#102030",
                    "title": "CA1234",
                    "body": [{"text": "Gate 12", "foregroundColor": "#FF317AF7"}],
                },
            },
        },
        "target": {"token": tokens},
    }


def per_second(action: Callable[[], object], seconds: float) -> float:
    """Median rate over five runs of about `seconds` / 5 each."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            action()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        calls *= 2
    batch = max(1, int(calls * (seconds / 5) / elapsed))
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            action()
        rates.append(batch / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Measure and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    tokens = _tokens(1000)
    cases = [
        ("notification, 1000 tokens", 0, orjson.dumps(notification_body(tokens))),
        ("live view create, 1 token", 7, orjson.dumps(live_view_body(tokens[:1]))),
    ]
    print(
        f"Python {platform.python_version()}, pydantic {pydantic.VERSION}, "
        f"{platform.machine()}, {seconds:g} s per measurement"
    )
    print(f"{'case':<28} {'bytes':>7} {'json.loads/s':>13} {'validate/s':>11} {'cost':>6}")
    for name, push_type, raw in cases:
        loads_rate = per_second(lambda raw=raw: json.loads(raw), seconds)
        validate_rate = per_second(
            lambda raw=raw, push_type=push_type: validate_request(push_type, raw), seconds
        )
        print(
            f"{name:<28} {len(raw):>7} {loads_rate:>13,.0f} {validate_rate:>11,.0f} "
            f"{loads_rate / validate_rate:>5.2f}x"
        )

    checked = validate_request(0, cases[0][2])
    prepared = prepare(checked.payload, checked.push_options)
    render_rate = per_second(lambda: prepared.body_for(tokens), seconds)
    print(f"{'body_for, 1000 tokens':<28} {'':>7} {'':>13} {render_rate:>11,.0f}")
    one_by_one = per_second(lambda: [t for t in tokens if not is_plausible_token(t)], seconds)
    in_bulk = per_second(lambda: implausible_tokens(tokens), seconds)
    print(f"{'token format, 1 by 1 (1000)':<28} {'':>7} {'':>13} {one_by_one:>11,.0f}")
    print(f"{'implausible_tokens (1000)':<28} {'':>7} {'':>13} {in_bulk:>11,.0f}")


if __name__ == "__main__":
    main()
