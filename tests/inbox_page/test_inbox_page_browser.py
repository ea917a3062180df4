"""The inbox page in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from hmpush import AlertPayload, ClickAction, Notification, PushClient
from hmpush.testing import EmulatorHandle

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium); CI installs it"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def test_a_phone_shows_the_notification_card(
    hmpush_emulator_server: EmulatorHandle, browser: object
) -> None:
    (token,) = hmpush_emulator_server.create_devices(1)
    message = AlertPayload(
        notification=Notification(
            category="IM",
            title="Ada",
            body="Lunch at noon?",
            click_action=ClickAction(action_type=0),
        )
    )
    with PushClient(
        hmpush_emulator_server.service_account, endpoint=hmpush_emulator_server.base_url
    ) as client:
        assert client.send(message, [token]).all_accepted

    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{hmpush_emulator_server.base_url}/inbox")
        page.click(f'a[href="/inbox/{quote(token, safe="")}"]')
        card = page.locator('.card[data-kind="notification"]')
        assert card.count() == 1
        assert card.locator(".title").inner_text() == "Ada"
        assert "Lunch at noon?" in card.inner_text()
        assert card.is_visible()
    finally:
        page.close()
