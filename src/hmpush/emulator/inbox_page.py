"""The inbox web page: every virtual phone's messages, shown the way the phone would show them.

`GET /inbox` lists the phones by project and app; `GET /inbox/{token}` shows one phone: what
its user sees (notifications, widget, live views, calls) newest first, and apart from it what
was handed to the app without being shown. Pages are server-rendered HTML with every value
escaped, and reload themselves every few seconds.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hmpush._redact import shorten_token
from hmpush.emulator.delivery import inbox
from hmpush.emulator.phone import PhoneView, phone_view

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

DEVICES_PER_APP = 200  # the list page shows this many phones per app
REFRESH_SECONDS = 3

_STYLE = """
body { font-family: system-ui, sans-serif; background: #eef0f3; margin: 0; color: #1b1d21; }
main { max-width: 26rem; margin: 1.5rem auto; }
h1 { font-size: 1.1rem; margin: 0 0 .2rem; } h2 { font-size: .95rem; color: #555; }
.phone { background: #111; border-radius: 2rem; padding: 1rem .7rem 1.4rem; }
.screen { background: linear-gradient(#2c3e63, #6b5b95); border-radius: 1.4rem;
  padding: .8rem; min-height: 20rem; }
.status { color: #fff; font-size: .75rem; display: flex; justify-content: space-between; }
.card { background: rgba(255,255,255,.93); border-radius: .9rem; padding: .6rem .8rem;
  margin: .55rem 0; }
.card.hidden { background: rgba(255,255,255,.45); }
.kind { font-size: .7rem; color: #666; display: flex; justify-content: space-between; }
.title { font-weight: 600; margin: .15rem 0; } .line { font-size: .9rem; }
.empty { color: #eee; text-align: center; margin-top: 6rem; }
.section { color: #eee; font-size: .75rem; margin-top: 1rem; }
ul { background: #fff; border-radius: .6rem; padding: .6rem 1.6rem; }
code { font-size: .8rem; }
"""


@router.get("/inbox", response_class=HTMLResponse)
def list_phones(request: Request) -> HTMLResponse:
    """Every phone of every app, with a link to its inbox."""
    emulator = request.app.state.emulator
    sections: list[str] = []
    for app in emulator.list_apps():
        devices = emulator.list_devices(app.app_id, limit=DEVICES_PER_APP)
        items = "".join(
            f'<li><a href="/inbox/{quote(device.token, safe="")}">'
            f"<code>{_text(shorten_token(device.token))}</code></a></li>"
            for device in devices
        )
        sections.append(
            f"<h2>{_text(app.bundle_name)} · project {_text(app.project_id)}</h2>"
            f"<ul>{items or '<li>no phones yet</li>'}</ul>"
        )
    body = "".join(sections) or "<p>No apps yet: start with <code>hmpush demo</code>.</p>"
    return _page("Phones", f"<h1>Phones</h1>{body}")


@router.get("/inbox/{token}", response_class=HTMLResponse)
def show_phone(token: str, request: Request) -> HTMLResponse:
    """One phone's screen: what it shows, newest first, then what went to the app unseen."""
    emulator = request.app.state.emulator
    with emulator.store.read() as conn:
        known = conn.execute("SELECT 1 FROM devices WHERE token = ?", (token,)).fetchone()
        entries = inbox(conn, token) if known else []
    if not known:
        return _page("Unknown phone", "<h1>No phone has this token.</h1>", status_code=404)
    views = [(entry, phone_view(entry)) for entry in reversed(entries)]
    shown = [_card(entry, view) for entry, view in views if view.visible]
    unseen = [_card(entry, view) for entry, view in views if not view.visible]
    screen = "".join(shown) or '<p class="empty">No notifications</p>'
    if unseen:
        screen += '<p class="section">Handed to the app, not shown</p>' + "".join(unseen)
    heading = (
        f"<h1>Phone <code>{_text(shorten_token(token))}</code></h1>"
        f"<h2>{len(entries)} messages received</h2>"
    )
    status = f'<div class="status"><span>{time.strftime("%H:%M")}</span><span>5G ▮▮▮</span></div>'
    phone = f'<div class="phone"><div class="screen">{status}{screen}</div></div>'
    return _page(f"Phone {shorten_token(token)}", heading + phone)


def _card(entry: dict[str, Any], view: PhoneView) -> str:
    received = time.strftime("%H:%M:%S", time.localtime(entry.get("receivedAtMs", 0) / 1000))
    kind = f"{view.kind} · {view.detail}" if view.detail else view.kind
    lines = "".join(f'<div class="line">{_text(line)}</div>' for line in view.lines)
    css_class = "card" if view.visible else "card hidden"
    return (
        f'<div class="{css_class}" data-kind="{_text(view.kind)}">'
        f'<div class="kind"><span>{_text(kind)}</span><span>{received}</span></div>'
        f'<div class="title">{_text(view.title)}</div>{lines}</div>'
    )


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(title)} · hmpush</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status_code)


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)
