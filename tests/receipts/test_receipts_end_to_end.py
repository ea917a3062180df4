"""End to end over real HTTP: client → local Push server → devices → signed receipts → receiver.

`hmpush.client.PushClient` sends to the local server (`hmpush_emulator_server`, a real process on
127.0.0.1); devices are put in different states through the admin API; the server posts signed
V2 receipts to `hmpush receipts serve` processes on loopback; the receivers' SQLite stores must
show the expected result for every token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from receipts_support import RunningReceiver, receipts_server

from hmpush.client import PushClient
from hmpush.codes import ReceiptResult
from hmpush.messages import AlertPayload, Category, ClickAction, ClickActionType, Notification
from hmpush.receipts import ReceiptStore, tokens_to_delete
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.slow

USER = "e2e-receipts"
BASE64_SECRET = "ZTJlLXJlY2VpcHQtc2VjcmV0LWJ5dGVz"
UTF8_SECRET = "older style secret"

# Device state set through the admin API → the receipt result the device must produce.
STATES: dict[str, tuple[dict[str, Any], ReceiptResult]] = {
    "delivered": ({}, ReceiptResult.DELIVERED),
    "uninstalled": ({"installed": False}, ReceiptResult.APP_UNINSTALLED),
    "token-mismatch": ({"token_valid": False}, ReceiptResult.TOKEN_MISMATCH),
    "notifications-off": ({"notifications_enabled": False}, ReceiptResult.NOTIFICATIONS_DISABLED),
    "inactive": ({"active": False}, ReceiptResult.INACTIVE_DEVICE),
    "capped": ({"daily_cap": 0}, ReceiptResult.DEVICE_FREQUENCY_CONTROL),
}


def _message(title: str) -> AlertPayload:
    notification = Notification(
        category=Category.IM,
        title=title,
        body="hi",
        click_action=ClickAction(action_type=ClickActionType.OPEN_APP),
    )
    return AlertPayload(notification=notification)


def _dispatch_until(
    handle: EmulatorHandle, receiver: RunningReceiver, done: Callable[[ReceiptStore], bool]
) -> None:
    """Have the server post due receipts until `done(store)` holds (or a minute has passed)."""
    deadline = time.monotonic() + 60
    while True:
        handle.admin("POST", "/receipts/dispatch")  # post now rather than on the next tick
        with ReceiptStore(receiver.db) as store:
            if done(store) or time.monotonic() > deadline:
                return
        time.sleep(0.2)


def _latest(receiver: RunningReceiver, tokens: list[str]) -> dict[str, int]:
    """The latest stored result of each of `tokens`, once all have one."""
    with ReceiptStore(receiver.db) as store:
        latest = store.latest_results()
    return {token: latest[token] for token in tokens if token in latest}


def test_receipts_flow_from_devices_to_the_receiver_store(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    handle = hmpush_emulator_server
    bundle = handle.admin("GET", f"/apps/{handle.app_id}")["bundle_name"]
    tokens = {name: handle.create_devices(1, **state)[0] for name, (state, _) in STATES.items()}
    by_token = {token: STATES[name][1] for name, token in tokens.items()}

    base64_arguments = ["--user-name", USER, "--secret-env", "E2E_RECEIPT_SECRET"]
    secret_file = tmp_path / "old-secret.txt"
    secret_file.write_text(UTF8_SECRET + "\n")
    utf8_arguments = ["--user-name", USER, "--secret-file", str(secret_file), "--secret-format"]
    with (
        receipts_server(
            tmp_path / "main.db", base64_arguments, {"E2E_RECEIPT_SECRET": BASE64_SECRET}
        ) as main,
        receipts_server(tmp_path / "old.db", [*utf8_arguments, "utf8"]) as old,
    ):
        # Project-level config (new-style Base64 secret) and one selected by receiptId (old style).
        handle.admin(
            "POST",
            f"/projects/{handle.project_id}/receipt-configs",
            {"url": main.url, "user_name": USER, "secret": BASE64_SECRET},
        )
        handle.admin(
            "POST",
            f"/projects/{handle.project_id}/receipt-configs",
            {
                "receipt_id": "e2e-old-style",
                "url": old.url,
                "user_name": USER,
                "secret": UTF8_SECRET,
                "secret_format": "utf8",
            },
        )
        with PushClient(handle.service_account, endpoint=handle.base_url) as client:
            sent = client.send(_message("to every state"), list(by_token), bi_tag="e2e-states")
            selected = [tokens["delivered"], tokens["notifications-off"]]
            via_old = client.send(_message("old-style"), selected, receipt_id="e2e-old-style")
        assert all(outcome.accepted for outcome in sent), list(sent)
        assert all(outcome.accepted for outcome in via_old), list(via_old)

        _dispatch_until(handle, main, lambda store: set(by_token) <= set(store.latest_results()))
        _dispatch_until(handle, old, lambda store: set(selected) <= set(store.latest_results()))
        main_results = _latest(main, list(by_token))
        old_results = _latest(old, selected)

    assert main_results == {token: int(result) for token, result in by_token.items()}
    assert old_results == {
        tokens["delivered"]: ReceiptResult.DELIVERED,
        tokens["notifications-off"]: ReceiptResult.NOTIFICATIONS_DISABLED,
    }
    with ReceiptStore(main.db) as store:
        stored = store.receipts()
        assert {receipt.request_id for receipt in stored} == set(sent.request_ids)
        assert {receipt.bi_tag for receipt in stored} == {"e2e-states"}
        assert {receipt.app_package_name for receipt in stored} == {bundle}
        assert {receipt.push_type for receipt in stored} == {0}
        assert sorted(tokens_to_delete(store)) == sorted(
            tokens[name]
            for name in ("uninstalled", "token-mismatch", "notifications-off", "inactive")
        )
    with ReceiptStore(old.db) as store:
        assert {receipt.request_id for receipt in store.receipts()} == set(via_old.request_ids)


def test_an_offline_device_reports_late_and_collapsed_messages(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    handle = hmpush_emulator_server
    (token,) = handle.create_devices(1, online=False)
    arguments = ["--user-name", USER, "--secret-env", "E2E_RECEIPT_SECRET"]
    env = {"E2E_RECEIPT_SECRET": BASE64_SECRET}
    with receipts_server(tmp_path / "offline.db", arguments, env) as receiver:
        handle.admin(
            "POST",
            f"/projects/{handle.project_id}/receipt-configs",
            {"url": receiver.url, "user_name": USER, "secret": BASE64_SECRET},
        )
        with PushClient(handle.service_account, endpoint=handle.base_url) as client:
            first = client.send(_message("first"), [token], collapse_key=7, bi_tag="offline")
            second = client.send(_message("second"), [token], collapse_key=7, bi_tag="offline")
        handle.admin("PATCH", f"/devices/{token}/state", {"online": True})
        _dispatch_until(handle, receiver, lambda store: len(store.receipts(token=token)) == 2)
        with ReceiptStore(receiver.db) as store:
            by_request = {receipt.request_id: receipt.result for receipt in store.receipts()}
    assert by_request == {
        first.request_ids[0]: ReceiptResult.OFFLINE_MESSAGE_CONTROL,
        second.request_ids[0]: ReceiptResult.DELIVERED,
    }
    assert [entry["requestId"] for entry in handle.inbox(token)] == second.request_ids
