"""Admin routes for device state, inboxes, quotas and receipt configurations (under `/admin`).

Admin JSON uses snake_case field names, like the rest of the admin API.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any, Literal

import httpx2
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from hmpush._redact import shorten_token
from hmpush.emulator import device_clock, device_rules, device_state, offline_cache, receipt_sender
from hmpush.emulator.admin_schemas import (
    COUNT_MAX,
    SQL_INT_MAX,
    AppDeliveryOut,
    AppId,
    ClockOut,
    DeviceViewOut,
    DispatchOut,
    DispatchSettingsOut,
    InboxEntryOut,
    OutboxEntryOut,
    ProjectDeliveryOut,
    ReceiptConfigOut,
)
from hmpush.emulator.delivery_engine import bring_online, inbox, tick
from hmpush.emulator.device_rules import FormState
from hmpush.receipts import CallbackSecretError, callback_key

__all__ = ["router"]

router = APIRouter()

_INT32 = 2**31 - 1
_DAY_MS = 86_400_000
_TEN_YEARS_MS = 3650 * _DAY_MS


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FormIn(_Input):
    """A widget the device shows (spec §6); `removed` marks one the user deleted (261)."""

    form_id: int = Field(ge=0, le=_INT32, description="Device-generated widget id.")
    version: int = Field(0, ge=0, le=_INT32)
    removed: bool = False
    refresh_limit: int | None = Field(
        None,
        ge=0,
        le=COUNT_MAX,
        description="Device-side refresh count after which refreshes get 262.",
    )


class LiveViewIn(_Input):
    """A live view the app created on the device through Live View Kit (REST create → 158)."""

    activity_id: int = Field(ge=-(2**31), le=_INT32)
    event: str | None = None
    version: int = Field(0, ge=0, le=_INT32)


class DevicePatch(_Input):
    """Changes to a device's state; omitted fields keep their values (spec §11.3 results)."""

    installed: bool | None = Field(None, description="False: app uninstalled → receipt 2.")
    token_valid: bool | None = Field(None, description="False: token mismatch → receipt 5.")
    notifications_enabled: bool | None = Field(
        None, description="False: notifications off → receipt 6 for push-types 0, 2 and 7."
    )
    active: bool | None = Field(None, description="False: inactive device → receipt 10.")
    online: bool | None = Field(
        None, description="False: messages wait (ttl, collapseKey, 120 max → 15); True delivers."
    )
    daily_cap: int | None = Field(
        None,
        ge=0,
        le=COUNT_MAX,
        description="Device frequency control per day (null: none) → receipt 102.",
    )
    bound_profile_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=10, description="Profile ids the app bound; others → receipt 144."
    )
    forms: list[FormIn] | None = Field(None, description="Widgets to add or replace.")
    live_views: list[LiveViewIn] | None = Field(
        None, description="Live views created on the device to add or replace."
    )


class AppDeliveryPatch(_Input):
    """Per-app settings that change quotas (spec §5.2, §6)."""

    released: bool | None = Field(None, description="Widget refreshes/day: 2 released, 5 not.")
    marketing_daily_limit: int | None = Field(
        None,
        ge=0,
        le=COUNT_MAX,
        description="MARKETING notifications per device per day (2, or 5 for news).",
    )


class ProjectDeliveryPatch(_Input):
    """Per-project settings (spec §3.2)."""

    test_message_daily_quota: int = Field(
        ge=0,
        le=COUNT_MAX,
        description="Accepted test requests per day before test messages get receipt 256.",
    )


class ReceiptConfigIn(_Input):
    """A receipt configuration (spec §11.1); with `app_id` it is app-level and wins."""

    receipt_id: str | None = Field(
        None, min_length=1, max_length=64, description="Omit to have one generated."
    )
    app_id: int | None = Field(None, ge=1, le=SQL_INT_MAX)
    # Choice: plain http is accepted so receivers on loopback work; Huawei itself requires
    # HTTPS with a certificate from a commercial CA (§11.1).
    url: HttpUrl
    user_name: str | None = Field(None, min_length=1)
    secret: str | None = Field(None, min_length=1)
    secret_format: Literal["base64", "utf8"] = "base64"

    @model_validator(mode="after")
    def _user_and_secret_together(self) -> ReceiptConfigIn:
        if (self.user_name is None) != (self.secret is None):
            raise ValueError("user_name and secret must be given together (spec §11.2)")
        if self.secret is not None:
            try:
                callback_key(self.secret, self.secret_format)
            except CallbackSecretError as error:
                raise ValueError(f"secret: {error}") from error
        return self


class ClockAdvance(_Input):
    """How far to move the devices' clock forward."""

    advance_ms: int = Field(
        ge=0, le=_TEN_YEARS_MS, description="Milliseconds to add to the devices' clock."
    )


class DispatchSettingsPatch(_Input):
    """How receipts are retried while a receiver is down."""

    max_attempts: int | None = Field(None, ge=1, le=100)
    base_delay_ms: int | None = Field(None, ge=0, le=_DAY_MS)
    max_delay_ms: int | None = Field(None, ge=0, le=_DAY_MS)
    timeout_ms: int | None = Field(None, ge=1, le=600_000)


def _emulator(request: Request) -> Any:
    return request.app.state.emulator


def _device_row(conn: sqlite3.Connection, token: str) -> tuple[int, int, str]:
    row = conn.execute(
        "SELECT id, app_id, project_id FROM devices WHERE token = ?", (token,)
    ).fetchone()
    if row is None:
        raise HTTPException(404, f"no device has the token {shorten_token(token)}")
    return int(row[0]), int(row[1]), str(row[2])


def _require(conn: sqlite3.Connection, sql: str, key: object, what: str) -> tuple[Any, ...]:
    row = conn.execute(sql, (key,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no {what} {key}")
    return tuple(row)


def _device_view(conn: sqlite3.Connection, token: str) -> dict[str, Any]:
    device_id, app_id, project_id = _device_row(conn, token)
    return {
        "token": token,
        "device_id": device_id,
        "app_id": app_id,
        "project_id": project_id,
        "state": device_state.load_state(conn, device_id).to_json(),
        "forms": [
            {"form_id": form_id, **form.to_json()}
            for form_id, form in device_rules.load_forms(conn, device_id).items()
        ],
        "live_views": [
            {"activity_id": activity_id, **view.to_json()}
            for activity_id, view in device_rules.device_live_views(conn, device_id).items()
        ],
        "offline_queue": offline_cache.held(conn, device_id),
    }


@router.get(
    "/devices/{token}/inbox",
    tags=["devices"],
    summary="What a device received",
    response_model=list[InboxEntryOut],
)
def read_inbox(token: str, request: Request) -> list[dict[str, Any]]:
    """Messages the device holding `token` really received, oldest first."""
    with _emulator(request).store.read() as conn:
        _device_row(conn, token)
        return inbox(conn, token)


@router.get(
    "/devices/{token}/state",
    tags=["devices"],
    summary="A device's delivery state",
    response_model=DeviceViewOut,
)
def read_device_state(token: str, request: Request) -> dict[str, Any]:
    """Flags, widgets, live views and held messages of the device holding `token`."""
    with _emulator(request).store.read() as conn:
        return _device_view(conn, token)


@router.patch(
    "/devices/{token}/state",
    tags=["devices"],
    summary="Change a device's state",
    response_model=DeviceViewOut,
)
def patch_device(token: str, body: DevicePatch, request: Request) -> dict[str, Any]:
    """Apply state changes; coming online delivers what waited (reported under `released`)."""
    emulator = _emulator(request)
    with emulator.store.transaction() as conn:
        now_ms = device_clock.device_now_ms(conn, emulator)
        device_id, _, _ = _device_row(conn, token)
        before = device_state.load_state(conn, device_id)
        changes = {
            name: getattr(body, name)
            for name in device_state.STATE_FIELDS & body.model_fields_set
            if getattr(body, name) is not None or name == "daily_cap"  # null cap: no cap
        }
        after = before.updated(changes)
        device_state.save_state(conn, device_id, after)
        for form in body.forms or ():
            _put_form(conn, device_id, form)
        views = [
            (view.activity_id, device_rules.created_on_device(view.event, view.version, now_ms))
            for view in body.live_views or ()
        ]
        for activity_id, view in views:
            device_rules.save_live_views(conn, activity_id, [(device_id, view)])
        released = bring_online(conn, device_id, now_ms) if after.online else None
        return {**_device_view(conn, token), "released": released}


def _put_form(conn: sqlite3.Connection, device_id: int, form: FormIn) -> None:
    known = device_rules.load_form(conn, device_id, form.form_id) or FormState()
    device_rules.save_form(
        conn,
        device_id,
        form.form_id,
        FormState(
            version=form.version,
            removed=form.removed,
            refresh_limit=form.refresh_limit,
            refreshes_since_block=known.refreshes_since_block,
            refresh_day=known.refresh_day,
            refreshes_today=known.refreshes_today,
        ),
    )


@router.get(
    "/apps/{app_id}/delivery",
    tags=["devices"],
    summary="An app's quota settings",
    response_model=AppDeliveryOut,
)
def read_app_delivery(app_id: AppId, request: Request) -> dict[str, Any]:
    """Whether the app counts as released and its MARKETING daily limit."""
    with _emulator(request).store.read() as conn:
        _require(conn, "SELECT id FROM apps WHERE id = ?", app_id, "app")
        return {"app_id": app_id, **device_state.app_settings(conn, [app_id])[app_id].to_json()}


@router.patch(
    "/apps/{app_id}/delivery",
    tags=["devices"],
    summary="Change an app's quotas",
    response_model=AppDeliveryOut,
)
def patch_app_delivery(app_id: AppId, body: AppDeliveryPatch, request: Request) -> dict[str, Any]:
    """Set `released` (widget quota 2 or 5 per day) and `marketing_daily_limit`."""
    with _emulator(request).store.transaction() as conn:
        _require(conn, "SELECT id FROM apps WHERE id = ?", app_id, "app")
        current = device_state.app_settings(conn, [app_id])[app_id]
        changed = device_state.AppSettings(
            released=current.released if body.released is None else body.released,
            marketing_daily_limit=(
                current.marketing_daily_limit
                if body.marketing_daily_limit is None
                else body.marketing_daily_limit
            ),
        )
        device_state.save_app_settings(conn, app_id, changed)
        return {"app_id": app_id, **changed.to_json()}


@router.get(
    "/projects/{project_id}/delivery",
    tags=["devices"],
    summary="Project quotas",
    response_model=ProjectDeliveryOut,
)
def read_project_delivery(project_id: str, request: Request) -> dict[str, Any]:
    """The project's daily test-message quota."""
    with _emulator(request).store.read() as conn:
        _require(conn, "SELECT id FROM projects WHERE id = ?", project_id, "project")
        quota = device_state.test_message_daily_quota(conn, project_id)
        return {"project_id": project_id, "test_message_daily_quota": quota}


@router.patch(
    "/projects/{project_id}/delivery",
    tags=["devices"],
    summary="Set project quotas",
    response_model=ProjectDeliveryOut,
)
def patch_project_delivery(
    project_id: str, body: ProjectDeliveryPatch, request: Request
) -> dict[str, Any]:
    """Set the daily test-message quota (beyond it, test messages get receipt 256)."""
    with _emulator(request).store.transaction() as conn:
        _require(conn, "SELECT id FROM projects WHERE id = ?", project_id, "project")
        device_state.save_test_message_daily_quota(conn, project_id, body.test_message_daily_quota)
    return {"project_id": project_id, "test_message_daily_quota": body.test_message_daily_quota}


@router.post(
    "/projects/{project_id}/receipt-configs",
    status_code=201,
    tags=["receipts"],
    summary="Create or replace a receipt configuration",
    response_model=ReceiptConfigOut,
)
def put_receipt_config(project_id: str, body: ReceiptConfigIn, request: Request) -> dict[str, Any]:
    """Receipts of this project (or of `app_id`) are posted to `url`."""
    with _emulator(request).store.transaction() as conn:
        _require(conn, "SELECT id FROM projects WHERE id = ?", project_id, "project")
        if body.app_id is not None:
            (owner,) = _require(
                conn, "SELECT project_id FROM apps WHERE id = ?", body.app_id, "app"
            )
            if owner != project_id:
                raise HTTPException(400, f"app_id {body.app_id} belongs to another project")
        config = receipt_sender.ReceiptConfig(
            receipt_id=body.receipt_id or receipt_sender.new_receipt_id(),
            project_id=project_id,
            app_id=body.app_id,
            url=str(body.url),
            user_name=body.user_name,
            secret=body.secret,
            secret_format=body.secret_format,
        )
        taken = conn.execute(
            "SELECT project_id FROM receipt_configs WHERE receipt_id = ?", (config.receipt_id,)
        ).fetchone()
        if taken is not None and taken[0] != project_id:
            raise HTTPException(409, f"receipt_id {config.receipt_id} belongs to another project")
        receipt_sender.save_config(conn, config)
    return config.to_json()


@router.get(
    "/projects/{project_id}/receipt-configs",
    tags=["receipts"],
    summary="Receipt configurations",
    response_model=list[ReceiptConfigOut],
)
def list_receipt_configs(project_id: str, request: Request) -> list[dict[str, Any]]:
    """The project's receipt configurations (secrets are never shown)."""
    with _emulator(request).store.read() as conn:
        return [c.to_json() for c in receipt_sender.project_configs(conn, [project_id])]


@router.delete(
    "/projects/{project_id}/receipt-configs/{receipt_id}",
    status_code=204,
    tags=["receipts"],
    summary="Delete a receipt configuration",
)
def delete_receipt_config(project_id: str, receipt_id: str, request: Request) -> Response:
    """Stop posting receipts for this configuration."""
    with _emulator(request).store.transaction() as conn:
        configs = receipt_sender.project_configs(conn, [project_id])
        if not any(config.receipt_id == receipt_id for config in configs):
            raise HTTPException(404, f"no receipt configuration {receipt_id} in {project_id}")
        receipt_sender.delete_config(conn, receipt_id)
    return Response(status_code=204)


@router.get(
    "/receipts/outbox",
    tags=["receipts"],
    summary="Queued, sent and failed receipts",
    response_model=list[OutboxEntryOut],
)
def read_outbox(
    request: Request,
    state: Annotated[Literal["pending", "sending", "sent", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Receipts by state; `failed` lists those the server gave up on, with the last error."""
    with _emulator(request).store.read() as conn:
        return receipt_sender.outbox(conn, state, limit)


@router.get(
    "/receipts/settings",
    tags=["receipts"],
    summary="Receipt retry settings",
    response_model=DispatchSettingsOut,
)
def read_dispatch_settings(request: Request) -> dict[str, Any]:
    """Attempts, back-off and timeout used when posting receipts."""
    with _emulator(request).store.read() as conn:
        return receipt_sender.dispatch_settings(conn).to_json()


@router.patch(
    "/receipts/settings",
    tags=["receipts"],
    summary="Change receipt retry settings",
    response_model=DispatchSettingsOut,
)
def patch_dispatch_settings(body: DispatchSettingsPatch, request: Request) -> dict[str, Any]:
    """Change how often and how long the server retries a receiver that is down."""
    with _emulator(request).store.transaction() as conn:
        current = receipt_sender.dispatch_settings(conn).to_json()
        current.update(body.model_dump(exclude_none=True))
        settings = receipt_sender.DispatchSettings(**current)
        receipt_sender.save_dispatch_settings(conn, settings)
    return settings.to_json()


@router.post(
    "/receipts/dispatch",
    tags=["receipts"],
    summary="Post due receipts now",
    response_model=DispatchOut,
)
async def dispatch_now(request: Request) -> dict[str, int]:
    """Expire offline messages and post due receipts without waiting for the background."""
    async with httpx2.AsyncClient() as client:
        return await tick(_emulator(request), client)


@router.get(
    "/delivery/clock", tags=["devices"], summary="The devices' clock", response_model=ClockOut
)
def read_clock(request: Request) -> dict[str, int]:
    """The devices' now and how far it is ahead of the server's clock."""
    emulator = _emulator(request)
    with emulator.store.read() as conn:
        offset = device_clock.offset_ms(conn)
    return {"offset_ms": offset, "now_ms": device_clock.server_now_ms(emulator) + offset}


@router.post(
    "/delivery/clock",
    tags=["devices"],
    summary="Move the devices' clock forward",
    response_model=ClockOut,
)
def advance_clock(body: ClockAdvance, request: Request) -> dict[str, int]:
    """Let day quotas, ttl and live-view/widget windows pass without waiting."""
    emulator = _emulator(request)
    with emulator.store.transaction() as conn:
        offset = device_clock.advance(conn, body.advance_ms)
    return {"offset_ms": offset, "now_ms": device_clock.server_now_ms(emulator) + offset}
