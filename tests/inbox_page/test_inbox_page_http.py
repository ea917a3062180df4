"""The inbox web page over HTTP: what each phone shows, escaped, newest first."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx2

from hmpush import AlertPayload, BackgroundPayload, ClickAction, Notification, PushClient
from hmpush.testing import EmulatorHandle


def _get(handle: EmulatorHandle, path: str) -> httpx2.Response:
    async def fetch() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=handle.transport, base_url=handle.base_url) as c:
            return await c.get(path)

    return asyncio.run(fetch())


def _notification(title: str) -> AlertPayload:
    return AlertPayload(
        notification=Notification(
            category="IM", title=title, body="body", click_action=ClickAction(action_type=0)
        )
    )


def _send(handle: EmulatorHandle, token: str, *messages: AlertPayload | BackgroundPayload) -> None:
    with PushClient(
        handle.service_account, endpoint=handle.base_url, transport=handle.transport
    ) as client:
        for message in messages:
            assert client.send(message, [token]).all_accepted


def test_phone_page_shows_notifications_newest_first(hmpush_emulator: EmulatorHandle) -> None:
    (token,) = hmpush_emulator.create_devices(1)
    _send(hmpush_emulator, token, _notification("first"), _notification("second"))
    page = _get(hmpush_emulator, f"/inbox/{quote(token, safe='')}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.index(">second<") < page.text.index(">first<")
    assert "2 messages received" in page.text


def test_values_are_escaped(hmpush_emulator: EmulatorHandle) -> None:
    (token,) = hmpush_emulator.create_devices(1)
    _send(hmpush_emulator, token, _notification("<script>alert(1)</script>"))
    page = _get(hmpush_emulator, f"/inbox/{quote(token, safe='')}").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_background_data_is_listed_apart_as_not_shown(hmpush_emulator: EmulatorHandle) -> None:
    (token,) = hmpush_emulator.create_devices(1)
    _send(hmpush_emulator, token, BackgroundPayload(extra_data="sync"))
    page = _get(hmpush_emulator, f"/inbox/{quote(token, safe='')}").text
    assert "No notifications" in page
    assert "Handed to the app, not shown" in page
    assert 'class="card hidden"' in page


def test_undelivered_messages_do_not_appear(hmpush_emulator: EmulatorHandle) -> None:
    (token,) = hmpush_emulator.create_devices(1, installed=False)
    _send(hmpush_emulator, token, _notification("never seen"))
    page = _get(hmpush_emulator, f"/inbox/{quote(token, safe='')}").text
    assert "never seen" not in page
    assert "0 messages received" in page


def test_list_page_links_every_phone_and_unknown_tokens_get_404(
    hmpush_emulator: EmulatorHandle,
) -> None:
    tokens = hmpush_emulator.create_devices(2)
    listing = _get(hmpush_emulator, "/inbox").text
    for token in tokens:
        assert f'href="/inbox/{quote(token, safe="")}"' in listing
    assert _get(hmpush_emulator, "/inbox/MAAAunknownToken00").status_code == 404
