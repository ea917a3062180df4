"""Messages, token files and result readers shared by the campaign tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from hmpush.messages import AlertPayload, ClickAction, Notification, PreparedMessage, prepare


def notification_message(title: str = "Spring sale") -> PreparedMessage:
    """A prepared push-type 0 MARKETING notification."""
    return prepare(
        AlertPayload(
            notification=Notification(
                category="MARKETING",
                title=title,
                body="Everything half price today.",
                click_action=ClickAction(action_type=0),
            )
        )
    )


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write a token file, one entry per line."""
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def outcomes(out_dir: Path) -> list[dict[str, Any]]:
    """The lines of `outcomes.jsonl`."""
    return [orjson.loads(line) for line in (out_dir / "outcomes.jsonl").read_bytes().splitlines()]


def summary(out_dir: Path) -> dict[str, Any]:
    """`summary.json` as a mapping."""
    document: dict[str, Any] = orjson.loads((out_dir / "summary.json").read_bytes())
    return document


def unregistered_tokens(count: int) -> list[str]:
    """Plausible tokens no device holds (the server answers tokenFormatError for them)."""
    return [f"MAMzLgEAAAAnobodyEverHeldThisToken{index:010d}" for index in range(count)]
