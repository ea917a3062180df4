"""How a virtual phone presents inbox entries."""

from __future__ import annotations

from typing import Any

from hmpush.emulator.phone import fill_placeholders, phone_view


def _entry(push_type: int, payload: dict[str, Any], category: str | None = None) -> dict[str, Any]:
    return {"pushType": push_type, "payload": payload, "category": category}


def test_status_and_keywords_are_replaced_by_their_texts() -> None:
    text = fill_placeholders(
        "Train {{trainNo}} {{status}}",
        event="TRAIN",
        status="DEPART",
        keywords={"trainNo": "G12"},
    )
    assert text == "Train G12 计划出发"


def test_unknown_placeholders_stay_visible() -> None:
    text = fill_placeholders("{{status}} {{gate}}", event="SCORE", status=None, keywords={})
    assert text == "{{status}} {{gate}}"


def test_multi_line_style_shows_the_inbox_lines() -> None:
    notification = {
        "category": "IM",
        "title": "Group",
        "body": "3 new",
        "style": 3,
        "inboxContent": ["a: hi", "b: yo"],
        "clickAction": {"actionType": 0},
    }
    view = phone_view(_entry(0, {"notification": notification}, category="MARKETING"))
    assert view.lines == ["a: hi", "b: yo"]
    assert view.detail == "MARKETING"  # the category the server applied, not the requested one


def test_big_text_style_replaces_title_and_body() -> None:
    notification = {
        "category": "IM",
        "title": "t",
        "body": "b",
        "style": 1,
        "bigTitle": "Big",
        "bigBody": "Long text",
        "clickAction": {"actionType": 0},
    }
    view = phone_view(_entry(0, {"notification": notification}))
    assert (view.title, view.lines) == ("Big", ["Long text"])


def test_background_data_and_foreground_only_notifications_are_not_shown() -> None:
    assert not phone_view(_entry(6, {"extraData": "x"})).visible
    hidden = {"category": "IM", "title": "t", "body": "b", "foregroundShow": False}
    assert not phone_view(_entry(0, {"notification": hidden})).visible
