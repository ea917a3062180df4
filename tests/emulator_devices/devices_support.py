"""A delivery bench: the core's real SQLite store and registry, real validated messages, and
direct calls to `deliver`, so device rules can be tested at any simulated time."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from hmpush.emulator import delivery, registry
from hmpush.emulator.delivery_engine import bring_online, expire_offline
from hmpush.emulator.store import Store
from hmpush.messages import validate_request

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000 + 8 * 3_600_000  # 08:00 UTC
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_request_numbers = itertools.count(1)


def notification(
    category: str = "IM", *, profile_id: str | None = None, title: str = "hello"
) -> dict[str, Any]:
    """A push-type 0 payload."""
    note: dict[str, Any] = {
        "category": category,
        "title": title,
        "body": "body text",
        "clickAction": {"actionType": 0},
    }
    if profile_id is not None:
        note["profileId"] = profile_id
    return {"notification": note}


def widget(form_id: int, version: int) -> dict[str, Any]:
    """A push-type 1 payload."""
    return {
        "formId": form_id,
        "version": version,
        "moduleName": "entry",
        "formName": "card",
        "abilityName": "CardAbility",
        "formData": {"temperature": "21"},
    }


def background() -> dict[str, Any]:
    """A push-type 6 payload."""
    return {"extraData": "sync"}


def taxi(
    operation: int,
    *,
    activity_id: int = 7,
    version: int | None = None,
    status: str | None = "DRIVER_ON_THE_WAY",
    event: str = "TAXI",
) -> dict[str, Any]:
    """A push-type 7 payload for a TAXI (or another event's) live view with the progress layout."""
    payload: dict[str, Any] = {
        "activityId": activity_id,
        "operation": operation,
        "event": event,
        "activityData": {
            "notificationData": {
                "type": 3,
                "contentTitle": "{{status}}",
                "contentText": [{"text": "5 min"}],
                "clickAction": {"actionType": 0},
                "richProgress": {"progress": 40, "nodeIcons": ["a.png", "b.png"]},
            }
        },
    }
    if status is not None:
        payload["status"] = status
    if version is not None:
        payload["version"] = version
    return payload


class Bench:
    """One in-memory store with a project, an app and helpers to send and inspect."""

    def __init__(self) -> None:
        self.store = Store(None)
        self.store.install(delivery.install_schema)
        with self.store.transaction() as conn:
            self.project_id = registry.new_project_id()
            registry.insert_project(conn, self.project_id)
            self.app = registry.insert_app(conn, self.project_id, bundle_name="com.example.app")
            # Every outcome becomes a queued receipt, which is how tests read results.
            conn.execute(
                "INSERT INTO receipt_configs (receipt_id, project_id, app_id, url, secret_format)"
                " VALUES ('bench', ?, NULL, 'http://127.0.0.1:9/receipts', 'base64')",
                (self.project_id,),
            )

    def devices(self, count: int = 1, app_id: int | None = None) -> list[str]:
        """Register devices and return their tokens."""
        with self.store.transaction() as conn:
            records = registry.insert_devices(conn, app_id or self.app.app_id, count)
        return [record.token for record in records]

    def device_id(self, token: str) -> int:
        """The device id of a token."""
        with self.store.transaction() as conn:
            return int(
                conn.execute("SELECT id FROM devices WHERE token = ?", (token,)).fetchone()[0]
            )

    def send(
        self,
        push_type: int,
        payload: dict[str, Any],
        tokens: list[str],
        now_ms: int = T0,
        **push_options: Any,
    ) -> str:
        """Validate a real request body and deliver it as the core does; returns the requestId."""
        body = orjson.dumps(
            {"payload": payload, "pushOptions": push_options, "target": {"token": tokens}}
        )
        validated = validate_request(push_type, body)
        request_id = f"req{next(_request_numbers)}"
        with self.store.transaction() as conn:
            known = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT d.token, d.id, d.app_id, a.bundle_name"
                    " FROM devices d JOIN apps a ON a.id = d.app_id"
                    " WHERE d.token IN (SELECT value FROM json_each(?))",
                    (orjson.dumps(tokens),),
                )
            }
            targets = [
                delivery.TargetDevice(
                    device_id=known[token][0],
                    token=token,
                    app_id=known[token][1],
                    bundle_name=known[token][2],
                    effective_category=validated.category,
                )
                for token in tokens
            ]
            message = delivery.AcceptedMessage(
                request_id=request_id,
                project_id=self.project_id,
                push_type=validated.push_type,
                payload=payload,
                push_options=push_options,
                body=body,
                accepted_at_ms=now_ms,
            )
            delivery.deliver(conn, message, targets)
        return request_id

    def results(self, request_id: str) -> dict[str, int]:
        """token → receipt result of one request (from the queued receipts)."""
        return {
            status["token"]: _result(status)
            for status in self.statuses()
            if status["requestId"] == request_id
        }

    def result(self, request_id: str, token: str) -> int | None:
        """The receipt result of one token of one request (None: nothing final yet)."""
        return self.results(request_id).get(token)

    def statuses(self) -> list[dict[str, Any]]:
        """Every queued V2 status, oldest first."""
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT statuses FROM receipt_outbox ORDER BY id").fetchall()
        return [status for row in rows for status in orjson.loads(row[0])]

    def inbox(self, token: str) -> list[dict[str, Any]]:
        """What the device received."""
        with self.store.transaction() as conn:
            return delivery.inbox(conn, token)

    def patch(self, token: str, **changes: Any) -> None:
        """Change a device's standing state."""
        from hmpush.emulator.device_state import load_state, save_state

        device_id = self.device_id(token)
        with self.store.transaction() as conn:
            save_state(conn, device_id, load_state(conn, device_id).updated(changes))

    def come_online(self, token: str, now_ms: int) -> dict[str, int]:
        """Switch a device online and deliver what waited."""
        self.patch(token, online=True)
        with self.store.transaction() as conn:
            return bring_online(conn, self.device_id(token), now_ms)

    def expire(self, now_ms: int) -> int:
        """Run the background expiry at `now_ms`."""
        with self.store.transaction() as conn:
            return expire_offline(conn, now_ms)

    def execute(self, sql: str, *params: Any) -> list[Any]:
        """Run SQL on the store (for settings the admin API would set)."""
        with self.store.transaction() as conn:
            return conn.execute(sql, params).fetchall()


def _result(status: dict[str, Any]) -> int:
    return int((status.get("deliveryStatus") or status["formStatus"])["result"])
