"""Device state, inboxes and receipt sending through the real server's HTTP API.

Messages go through `AsyncPushClient` to the in-process server; receipts go over real loopback
HTTP to a small receiver that checks `X-HUAWEI-CALLBACK-ID` with `hmpush.receipts`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from hmpush.client import AsyncPushClient
from hmpush.codes import ReceiptResult as R
from hmpush.messages import (
    AlertPayload,
    Category,
    ClickAction,
    ClickActionType,
    FormUpdatePayload,
    LiveViewPayload,
    Notification,
)
from hmpush.receipts import CALLBACK_HEADER, MemoryNonceCache, verify_callback
from hmpush.testing import EmulatorAdminError, EmulatorHandle

pytestmark = pytest.mark.anyio

USER = "receipt-user"
SECRET = "c2VjcmV0LWJ5dGVzLWZvci10ZXN0cw=="  # base64


class LoopbackReceiver:
    """A receipt endpoint on 127.0.0.1 that records posts and can pretend to be down."""

    def __init__(
        self, *, user_name: str | None = None, secret: str | None = None, port: int = 0
    ) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.refused: list[str] = []
        self.answer_status = 200
        receiver = self
        nonces = MemoryNonceCache()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if user_name is not None and secret is not None:
                    try:
                        verify_callback(
                            self.headers.get(CALLBACK_HEADER),
                            user_name=user_name,
                            secret=secret,
                            secret_format="base64",
                            nonce_cache=nonces,
                        )
                    except Exception as error:  # recorded, and answered like a real receiver
                        receiver.refused.append(type(error).__name__)
                        self._answer(401, b'{"code":"401","message":"unauthorized"}')
                        return
                receiver.posts.append((dict(self.headers), orjson.loads(body)))
                self._answer(receiver.answer_status, b'{"code":"0","message":"success"}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/receipts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def statuses(self) -> list[dict[str, Any]]:
        """Every status received, in arrival order."""
        return [status for _, body in self.posts for status in body["statuses"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[LoopbackReceiver]:
    running = LoopbackReceiver(user_name=USER, secret=SECRET)
    yield running
    running.close()


@pytest.fixture
def plain_receiver() -> Iterator[LoopbackReceiver]:
    running = LoopbackReceiver()
    yield running
    running.close()


def notification(title: str = "hello", category: Category = Category.IM) -> AlertPayload:
    return AlertPayload(
        notification=Notification(
            category=category,
            title=title,
            body="text",
            click_action=ClickAction(action_type=ClickActionType.OPEN_APP),
        )
    )


def client(handle: EmulatorHandle) -> AsyncPushClient:
    return AsyncPushClient(
        handle.service_account, endpoint=handle.base_url, transport=handle.transport
    )


def dispatch_until(handle: EmulatorHandle, done: Any, timeout: float = 30.0) -> None:
    """Run dispatch rounds (the background runs too) until `done()` holds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "receipts did not arrive in time"
        handle.admin("POST", "/receipts/dispatch")
        time.sleep(0.05)


def results(receiver: LoopbackReceiver) -> dict[str, int]:
    return {
        status["token"]: (status.get("deliveryStatus") or status["formStatus"])["result"]
        for status in receiver.statuses()
    }


# --- device state ---------------------------------------------------------------------------


def test_device_state_round_trip_and_clear_errors(hmpush_emulator: EmulatorHandle) -> None:
    (token,) = hmpush_emulator.create_devices()
    state = hmpush_emulator.admin("GET", f"/devices/{token}/state")
    assert state["state"] == {
        "installed": True,
        "token_valid": True,
        "notifications_enabled": True,
        "active": True,
        "online": True,
        "daily_cap": None,
        "bound_profile_ids": [],
    }
    changed = hmpush_emulator.admin(
        "PATCH",
        f"/devices/{token}/state",
        {"notifications_enabled": False, "daily_cap": 3, "bound_profile_ids": ["p1"]},
    )
    assert changed["state"]["notifications_enabled"] is False
    assert changed["state"]["daily_cap"] == 3
    cleared = hmpush_emulator.admin("PATCH", f"/devices/{token}/state", {"daily_cap": None})
    assert cleared["state"]["daily_cap"] is None
    assert cleared["state"]["bound_profile_ids"] == ["p1"]
    with pytest.raises(EmulatorAdminError) as unknown_field:
        hmpush_emulator.admin("PATCH", f"/devices/{token}/state", {"instaled": False})
    assert unknown_field.value.status == 422
    assert "instaled" in str(unknown_field.value)
    with pytest.raises(EmulatorAdminError) as unknown_token:
        hmpush_emulator.admin("GET", "/devices/MAAAnot-a-token/state")
    assert unknown_token.value.status == 404


async def test_offline_device_gets_the_newest_of_a_collapse_group_when_online(
    hmpush_emulator: EmulatorHandle,
) -> None:
    (token,) = hmpush_emulator.create_devices(1, online=False)
    async with client(hmpush_emulator) as push:
        await push.send(notification("first"), [token], collapse_key=1)
        await push.send(notification("second"), [token], collapse_key=1)
    assert hmpush_emulator.inbox(token) == []
    waiting = hmpush_emulator.admin("GET", f"/devices/{token}/state")["offline_queue"]
    assert [entry["collapse_key"] for entry in waiting] == [1]
    online = hmpush_emulator.admin("PATCH", f"/devices/{token}/state", {"online": True})
    assert online["released"] == {"delivered": 1, "not_delivered": 0}
    titles = [e["payload"]["notification"]["title"] for e in hmpush_emulator.inbox(token)]
    assert titles == ["second"]


async def test_widgets_and_live_views_follow_the_state_set_through_admin(
    hmpush_emulator: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    handle.admin(
        "POST", f"/projects/{handle.project_id}/receipt-configs", {"url": plain_receiver.url}
    )
    with_form, without_form = handle.create_devices(2)
    state = handle.admin(
        "PATCH",
        f"/devices/{with_form}/state",
        {
            "forms": [{"form_id": 5, "version": 1}],
            "live_views": [{"activity_id": 9, "event": "TAXI"}],
        },
    )
    assert [(form["form_id"], form["version"]) for form in state["forms"]] == [(5, 1)]
    assert state["live_views"][0]["created_via"] == "device"

    def refresh(version: int) -> FormUpdatePayload:
        return FormUpdatePayload(
            form_id=5,
            version=version,
            module_name="entry",
            form_name="card",
            ability_name="CardAbility",
            form_data={"temperature": "21"},
        )

    create = LiveViewPayload.model_validate(
        {
            "activityId": 9,
            "operation": 0,
            "event": "TAXI",
            "status": "CALLING",
            "activityData": {
                "notificationData": {
                    "type": 3,
                    "contentTitle": "{{status}}",
                    "contentText": [{"text": "wait"}],
                    "clickAction": {"actionType": 0},
                    "richProgress": {"progress": 0, "nodeIcons": ["a.png", "b.png"]},
                }
            },
        }
    )
    async with client(handle) as push:
        await push.send(refresh(2), [with_form])
        await push.send(refresh(2), [without_form])
        await push.send(create, [with_form, without_form])
    dispatch_until(handle, lambda: len(plain_receiver.statuses()) == 4)
    by_type = {
        (s["token"], s["pushType"]): s.get("formStatus") or s["deliveryStatus"]
        for s in plain_receiver.statuses()
    }
    assert by_type[(with_form, 1)]["result"] == R.DELIVERED
    assert by_type[(with_form, 1)]["formId"] == 5
    assert by_type[(without_form, 1)]["result"] == R.NOT_SHOWN_OR_FORM_MISSING
    assert by_type[(with_form, 7)]["result"] == R.LIVE_VIEW_ALREADY_EXISTS
    assert by_type[(without_form, 7)]["result"] == R.DELIVERED
    assert [entry["pushType"] for entry in handle.inbox(with_form)] == [1]
    assert [entry["pushType"] for entry in handle.inbox(without_form)] == [7]
    forms = handle.admin("GET", f"/devices/{with_form}/state")["forms"]
    assert forms[0]["version"] == 2


def test_app_and_project_quota_settings(hmpush_emulator: EmulatorHandle) -> None:
    handle = hmpush_emulator
    assert handle.admin("GET", f"/apps/{handle.app_id}/delivery") == {
        "app_id": handle.app_id,
        "released": True,
        "marketing_daily_limit": 2,
    }
    changed = handle.admin("PATCH", f"/apps/{handle.app_id}/delivery", {"released": False})
    assert changed["released"] is False
    assert changed["marketing_daily_limit"] == 2
    quota = handle.admin(
        "PATCH", f"/projects/{handle.project_id}/delivery", {"test_message_daily_quota": 3}
    )
    assert quota["test_message_daily_quota"] == 3
    with pytest.raises(EmulatorAdminError) as missing:
        handle.admin("GET", "/apps/999999/delivery")
    assert missing.value.status == 404


# --- receipts -------------------------------------------------------------------------------


async def test_receipts_are_signed_and_posted_in_batches_of_at_most_100(
    hmpush_emulator: EmulatorHandle, receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    config = handle.admin(
        "POST",
        f"/projects/{handle.project_id}/receipt-configs",
        {"url": receiver.url, "user_name": USER, "secret": SECRET},
    )
    assert config["has_secret"] is True
    assert config["secret"] is None
    tokens = handle.create_devices(250)
    handle.admin("PATCH", f"/devices/{tokens[0]}/state", {"installed": False})
    async with client(handle) as push:
        sent = await push.send(notification(), tokens, bi_tag="batch-test")
    dispatch_until(handle, lambda: len(receiver.statuses()) == 250)
    assert receiver.refused == []
    assert sorted(len(body["statuses"]) for _, body in receiver.posts) == [50, 100, 100]
    status = next(s for s in receiver.statuses() if s["token"] == tokens[1])
    app = handle.admin("GET", f"/apps/{handle.app_id}")
    assert status["pushType"] == 0
    assert status["appPackageName"] == app["bundle_name"]
    assert status["biTag"] == "batch-test"
    assert status["requestId"] == sent.request_ids[0]
    assert status["deliveryStatus"]["result"] == R.DELIVERED
    assert results(receiver)[tokens[0]] == R.APP_UNINSTALLED
    sent_rows = handle.admin("GET", "/receipts/outbox?state=sent")
    assert sum(len(row["statuses"]) for row in sent_rows) == 250


async def test_app_level_config_wins_and_receipt_id_selects(
    hmpush_emulator: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    project_level = LoopbackReceiver()
    try:
        base = f"/projects/{handle.project_id}/receipt-configs"
        handle.admin("POST", base, {"receipt_id": "project", "url": project_level.url})
        handle.admin(
            "POST", base, {"receipt_id": "app", "app_id": handle.app_id, "url": plain_receiver.url}
        )
        (own_app,) = handle.create_devices()
        (other_app,) = handle.create_devices(1, bundle_name="com.example.other")
        async with client(handle) as push:
            await push.send(notification("default"), [own_app, other_app])
            await push.send(notification("selected"), [own_app], receipt_id="project")
        dispatch_until(
            handle, lambda: len(project_level.statuses()) + len(plain_receiver.statuses()) == 3
        )
        assert [s["token"] for s in plain_receiver.statuses()] == [own_app]
        assert sorted(s["token"] for s in project_level.statuses()) == sorted([own_app, other_app])
        listed = handle.admin("GET", base)
        assert [(c["receipt_id"], c["app_id"]) for c in listed] == [
            ("project", None),
            ("app", handle.app_id),
        ]
    finally:
        project_level.close()


async def test_a_receiver_that_stays_down_gets_bounded_retries_then_failed(
    hmpush_emulator: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    settings = handle.admin("PATCH", "/receipts/settings", {"max_attempts": 3, "base_delay_ms": 0})
    assert settings["max_attempts"] == 3
    handle.admin(
        "POST", f"/projects/{handle.project_id}/receipt-configs", {"url": plain_receiver.url}
    )
    plain_receiver.answer_status = 503
    tokens = handle.create_devices(2)
    async with client(handle) as push:
        await push.send(notification(), tokens)

    def failed() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = handle.admin("GET", "/receipts/outbox?state=failed")
        return rows

    dispatch_until(handle, lambda: len(failed()) == 1)
    assert len(plain_receiver.posts) == 3  # one callback, three attempts
    (gave_up,) = failed()
    assert sorted(status["token"] for status in gave_up["statuses"]) == sorted(tokens)
    assert gave_up["attempts"] == 3
    assert "503" in gave_up["last_error"]
    plain_receiver.answer_status = 200
    async with client(handle) as push:
        await push.send(notification("after recovery"), tokens[:1])
    dispatch_until(handle, lambda: len(handle.admin("GET", "/receipts/outbox?state=sent")) == 1)
    assert len(failed()) == 1


async def test_a_receiver_that_recovers_gets_the_receipts_it_missed(
    hmpush_emulator: EmulatorHandle,
) -> None:
    handle = hmpush_emulator
    handle.admin("PATCH", "/receipts/settings", {"max_attempts": 100, "base_delay_ms": 50})
    receiver = LoopbackReceiver()
    url = receiver.url
    receiver.close()  # nobody listens: connection refused
    handle.admin("POST", f"/projects/{handle.project_id}/receipt-configs", {"url": url})
    (token,) = handle.create_devices()
    async with client(handle) as push:
        await push.send(notification(), [token])
    handle.admin("POST", "/receipts/dispatch")
    (pending,) = handle.admin("GET", "/receipts/outbox?state=pending")
    assert pending["attempts"] >= 1
    assert pending["last_error"]
    revived = _receiver_on_port(int(url.split(":")[2].split("/")[0]))
    try:
        dispatch_until(handle, lambda: len(revived.statuses()) == 1)
        assert revived.statuses()[0]["token"] == token
    finally:
        revived.close()


def _receiver_on_port(port: int) -> LoopbackReceiver:
    deadline = time.monotonic() + 10
    while True:
        try:
            return LoopbackReceiver(port=port)
        except OSError:  # the old socket may linger for a moment
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("config", "status", "words"),
    [
        ({"url": "http://127.0.0.1:1/r", "user_name": "u"}, 422, "together"),
        ({"url": "http://127.0.0.1:1/r", "user_name": "u", "secret": "not base64!"}, 422, "secret"),
        ({"url": "not a url"}, 422, "url"),
        ({"url": "http://127.0.0.1:1/r", "app_id": 999999}, 404, "app"),
    ],
)
def test_bad_receipt_configs_are_refused_with_the_field_named(
    hmpush_emulator: EmulatorHandle, config: dict[str, Any], status: int, words: str
) -> None:
    with pytest.raises(EmulatorAdminError) as refused:
        hmpush_emulator.admin(
            "POST", f"/projects/{hmpush_emulator.project_id}/receipt-configs", config
        )
    assert refused.value.status == status
    assert words in str(refused.value)


def test_device_state_and_inbox_over_a_real_server(
    hmpush_emulator_server: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    from hmpush.client import PushClient

    handle = hmpush_emulator_server
    handle.admin(
        "POST", f"/projects/{handle.project_id}/receipt-configs", {"url": plain_receiver.url}
    )
    online, offline, switched_off = handle.create_devices(3)
    handle.admin("PATCH", f"/devices/{offline}/state", {"online": False})
    handle.admin("PATCH", f"/devices/{switched_off}/state", {"notifications_enabled": False})
    with PushClient(handle.service_account, endpoint=handle.base_url) as push:
        sent = push.send(notification("over the wire"), [online, offline, switched_off])
    assert all(outcome.accepted for outcome in sent)
    dispatch_until(handle, lambda: len(plain_receiver.statuses()) == 2)
    assert results(plain_receiver) == {online: 0, switched_off: R.NOTIFICATIONS_DISABLED}
    assert len(handle.inbox(online)) == 1
    assert handle.inbox(offline) == handle.inbox(switched_off) == []
    handle.admin("PATCH", f"/devices/{offline}/state", {"online": True})
    dispatch_until(handle, lambda: len(plain_receiver.statuses()) == 3)
    assert results(plain_receiver)[offline] == R.DELIVERED
    assert [e["requestId"] for e in handle.inbox(offline)] == sent.request_ids


async def test_moving_the_devices_clock_passes_quota_days_and_ttls(
    hmpush_emulator: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    handle.admin(
        "POST", f"/projects/{handle.project_id}/receipt-configs", {"url": plain_receiver.url}
    )
    (token,) = handle.create_devices()
    (offline,) = handle.create_devices(1, online=False)
    marketing = notification("news", Category.MARKETING)
    async with client(handle) as push:
        today = [await push.send(marketing, [token]) for _ in range(3)]
        held = await push.send(notification("short-lived"), [offline], ttl=60)
        clock = handle.admin("POST", "/delivery/clock", {"advance_ms": 86_400_000})
        assert clock["offset_ms"] == 86_400_000
        tomorrow = await push.send(marketing, [token])
    dispatch_until(handle, lambda: len(plain_receiver.statuses()) == 5)
    by_request = {s["requestId"]: s["deliveryStatus"]["result"] for s in plain_receiver.statuses()}
    assert [by_request[r.request_ids[0]] for r in today] == [0, 0, R.SCENARIO_FREQUENCY_LIMIT]
    assert by_request[tomorrow.request_ids[0]] == R.DELIVERED
    assert by_request[held.request_ids[0]] == R.OFFLINE_MESSAGE_CONTROL  # ttl ran out
    assert handle.admin("GET", "/delivery/clock")["offset_ms"] == 86_400_000
    with pytest.raises(EmulatorAdminError) as backwards:
        handle.admin("POST", "/delivery/clock", {"advance_ms": -1})
    assert backwards.value.status == 422


async def test_handle_helpers_move_one_clock_for_requests_inboxes_and_receipts(
    hmpush_emulator: EmulatorHandle, receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    config = handle.add_receipt_config(
        receiver.url, receipt_id="helpers", user_name=USER, secret=SECRET
    )
    assert (config["receipt_id"], config["secret"], config["has_secret"]) == ("helpers", None, True)
    (token,) = handle.create_devices(online=False)
    assert handle.device_state(token)["state"]["online"] is False
    day_ms = 86_400_000
    before_ms = time.time_ns() // 1_000_000
    moved_now_ms = handle.advance_clock(day_ms)
    assert moved_now_ms >= before_ms + day_ms
    async with client(handle) as push:
        sent = await push.send(notification(), [token])
    [accepted] = handle.requests()
    assert accepted["acceptedAtMs"] >= moved_now_ms  # stamped by the moved clock
    released = handle.set_device_state(token, online=True)["released"]
    assert released is not None
    [received] = handle.inbox(token)
    assert received["requestId"] == sent.request_ids[0]
    assert received["receivedAtMs"] >= accepted["acceptedAtMs"]
    handle.dispatch_receipts()
    dispatch_until(handle, lambda: len(receiver.statuses()) == 1)
    [status] = receiver.statuses()
    assert status["deliveryStatus"]["result"] == R.DELIVERED
    assert status["deliveryStatus"]["timestamp"] >= accepted["acceptedAtMs"]
    with pytest.raises(EmulatorAdminError) as unknown_field:
        handle.set_device_state(token, mood="happy")
    assert unknown_field.value.status == 422 and "mood" in str(unknown_field.value.detail)


async def test_receipts_for_a_deleted_config_are_recorded_as_failed(
    hmpush_emulator: EmulatorHandle, plain_receiver: LoopbackReceiver
) -> None:
    handle = hmpush_emulator
    base = f"/projects/{handle.project_id}/receipt-configs"
    handle.admin("POST", base, {"receipt_id": "short-lived", "url": plain_receiver.url})
    handle.admin("PATCH", "/receipts/settings", {"base_delay_ms": 60_000})
    plain_receiver.answer_status = 500  # the first attempt fails, the retry waits a minute
    (token,) = handle.create_devices()
    async with client(handle) as push:
        await push.send(notification(), [token])
    dispatch_until(handle, lambda: len(plain_receiver.posts) == 1)
    handle.admin("DELETE", f"{base}/short-lived")
    handle.admin("POST", "/delivery/clock", {"advance_ms": 120_000})
    dispatch_until(handle, lambda: len(handle.admin("GET", "/receipts/outbox?state=failed")) == 1)
    (failed,) = handle.admin("GET", "/receipts/outbox?state=failed")
    assert "deleted" in failed["last_error"]
    assert len(plain_receiver.posts) == 1
    with pytest.raises(EmulatorAdminError) as gone:
        handle.admin("DELETE", f"{base}/short-lived")
    assert gone.value.status == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/receipts/settings", {"max_attempts": 0}),
        ("/apps/{app_id}/delivery", {"marketing_daily_limit": -1}),
        ("/projects/{project_id}/delivery", {}),
    ],
)
def test_bad_settings_are_refused(
    hmpush_emulator: EmulatorHandle, path: str, body: dict[str, Any]
) -> None:
    handle = hmpush_emulator
    target = path.format(app_id=handle.app_id, project_id=handle.project_id)
    with pytest.raises(EmulatorAdminError) as refused:
        handle.admin("PATCH", target, body)
    assert refused.value.status == 422


def test_outbox_state_filter_is_checked(hmpush_emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorAdminError) as refused:
        hmpush_emulator.admin("GET", "/receipts/outbox?state=lost")
    assert refused.value.status == 422
    assert hmpush_emulator.admin("GET", "/receipts/outbox?state=failed") == []
