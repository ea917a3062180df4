"""`hmpush demo`: the main job, run on the embedded local Push server.

It starts `hmpush emulator` on a free loopback port, registers a virtual phone, sends one message
of every push-type over real HTTP with `PushClient`, and prints what the phone received. It exits
non-zero when any step does not behave, so it doubles as a smoke test of a fresh install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from hmpush._redact import shorten_token
from hmpush.cli._common import EXIT_REJECTED, console, err_console
from hmpush.messages import (
    ActivityData,
    AlertPayload,
    BackgroundPayload,
    Badge,
    CapsuleData,
    ClickAction,
    ExtensionPayload,
    FirstTextBlock,
    FormUpdatePayload,
    LastTextBlock,
    LiveViewPayload,
    Notification,
    NotificationData,
    Payload,
    RichText,
    VoIPCallPayload,
)

DEMO_FORM_ID = 42  # the widget the demo phone has placed on its home screen


def register(app: typer.Typer) -> None:
    """Add `hmpush demo`."""
    app.command("demo")(demo)


def demo(
    data: Annotated[
        Path | None,
        typer.Option(help="Keep the server's data here (default: a temporary directory)."),
    ] = None,
    stay: Annotated[
        bool,
        typer.Option("--stay", help="Keep the server running afterwards to browse its inbox page."),
    ] = False,
) -> None:
    """Start the local Push server, register a phone, send every push-type, show its inbox."""
    import httpx2

    from hmpush.client import PushClient
    from hmpush.emulator.process import EmulatorServer
    from hmpush.emulator.serve import SERVICE_ACCOUNT_FILE_NAME

    console.print("Starting the local Push server …")
    with (
        EmulatorServer(data) as server,
        httpx2.Client(base_url=f"{server.base_url}/admin", timeout=30.0) as admin,
    ):
        defaults = _admin(admin, "GET", "/defaults")
        key_file = server.data_dir / SERVICE_ACCOUNT_FILE_NAME
        console.print(f"  server   {server.base_url}  (project {defaults['project_id']})")
        console.print(f"  key file {key_file}")
        token = _admin(admin, "POST", f"/apps/{defaults['app_id']}/devices", {"count": 1})[
            "tokens"
        ][0]
        _admin(admin, "PATCH", f"/devices/{token}/state", {"forms": [{"form_id": DEMO_FORM_ID}]})
        console.print(f"  phone    token {shorten_token(token)} with widget #{DEMO_FORM_ID}\n")

        with PushClient(key_file, endpoint=server.base_url) as client:
            all_accepted = _send_all(client, token)
        inbox: list[dict[str, Any]] = _admin(admin, "GET", f"/devices/{token}/inbox")
        _print_phone(inbox)
        if stay:
            console.print(f"\nThe phone's screen in a browser: {server.base_url}/inbox")
            _wait_for_interrupt()
        else:
            console.print("\n`hmpush demo --stay` keeps the server up to show this in a browser.")
    if not all_accepted or len(inbox) != len(demo_messages()):
        err_console.print(f"demo: expected {len(demo_messages())} messages on the phone")
        raise typer.Exit(EXIT_REJECTED)


def _wait_for_interrupt() -> None:
    import time

    console.print("The server keeps running; press Ctrl-C to stop it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")


def _admin(client: Any, method: str, path: str, body: Any = None) -> Any:
    response = client.request(method, path, json=body)
    response.raise_for_status()
    return response.json()


def _send_all(client: Any, token: str) -> bool:
    table = Table(title="Sent over HTTP with PushClient", title_justify="left")
    for column in ("push-type", "scenario", "requestId", "outcome"):
        table.add_column(column)
    all_accepted = True
    for scenario, message in demo_messages():
        result = client.send(message, [token])
        outcome = next(iter(result))
        all_accepted &= outcome.accepted
        table.add_row(
            str(int(message.PUSH_TYPE)),
            scenario,
            outcome.request_id or "-",
            "accepted" if outcome.accepted else f"refused: {outcome.reason}",
        )
    console.print(table)
    return all_accepted


def _print_phone(inbox: list[dict[str, Any]]) -> None:
    from hmpush.emulator.phone import phone_view

    console.print(f"\nWhat the phone received ({len(inbox)} messages):")
    for entry in inbox:
        view = phone_view(entry)
        subtitle = f"{view.kind} · {view.detail}" if view.detail else view.kind
        if not view.visible:
            subtitle += " · not shown, handed to the app"
        body = "\n".join(view.lines) or " "
        console.print(Panel(body, title=f"[bold]{view.title}[/bold]", subtitle=subtitle, width=72))


def demo_messages() -> list[tuple[str, Payload]]:
    """One message of every push-type, as a backend would build them."""
    open_app = ClickAction(action_type=0)
    return [
        (
            "chat notification",
            AlertPayload(
                notification=Notification(
                    category="IM",
                    title="Ada",
                    body="Lunch at noon?",
                    click_action=open_app,
                    badge=Badge(add_num=1),
                )
            ),
        ),
        (
            "widget refresh",
            FormUpdatePayload(
                form_id=DEMO_FORM_ID,
                version=1,
                module_name="entry",
                form_name="weather",
                ability_name="WeatherFormAbility",
                form_data={"city": "Hangzhou", "temperature": 21},
            ),
        ),
        (
            "voice broadcast",
            ExtensionPayload(
                notification=Notification(
                    category="PLAY_VOICE",
                    title="Payment received",
                    body="12.50 received",
                    click_action=open_app,
                ),
                extra_data="amount=12.50",
            ),
        ),
        ("background data", BackgroundPayload(extra_data='{"sync": "inbox"}')),
        ("flight live view", _flight_live_view()),
        ("VoIP call", VoIPCallPayload(extra_data='{"scene": "voice"}')),
    ]


def _flight_live_view() -> LiveViewPayload:
    card = NotificationData(
        type=5,
        keywords={"flightNo": "CA1234"},
        content_title="Flight {{flightNo}} {{status}}",
        content_text=[RichText(text="Gate 12 · boarding 07:20")],
        click_action=ClickAction(action_type=0),
        first_text_block=FirstTextBlock(first_line="08:00", second_line="Beijing"),
        last_text_block=LastTextBlock(first_line="11:10", second_line="Hangzhou"),
        space_icon="plane.png",
    )
    capsule = CapsuleData(
        type=1,
        status=1,
        icon="plane.svg",
        bg_color="#FF317AF7",
        title="Boarding 07:20",
        content="Gate 12",
    )
    return LiveViewPayload(
        activity_id=1,
        operation=0,
        event="FLIGHT",
        status="DEPART",
        activity_data=ActivityData(notification_data=card, capsule_data=capsule),
    )
