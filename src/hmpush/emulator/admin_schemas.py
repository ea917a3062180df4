"""Response schemas of the admin API, so the OpenAPI document describes every answer.

The routes build plain dicts; FastAPI checks them against these models on the way out. Field
names are the JSON names (snake_case, except the request log and inbox, which reuse the camelCase
of Huawei's wire format).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from hmpush.emulator.faults import FaultRule

__all__ = [
    "COUNT_MAX",
    "SQL_INT_MAX",
    "AcceptedRequestOut",
    "AppDeliveryOut",
    "AppId",
    "ClockOut",
    "DefaultsOut",
    "DeviceStateOut",
    "DeviceViewOut",
    "DispatchOut",
    "DispatchSettingsOut",
    "FaultOut",
    "FormOut",
    "HeldMessageOut",
    "InboxEntryOut",
    "LiveViewOut",
    "OutboxEntryOut",
    "ProjectDeliveryOut",
    "ReceiptConfigOut",
    "ReleasedOut",
    "StatusOut",
]


# Numbers the admin API stores must fit SQLite's 64-bit integers; counts and quotas stay far
# below that so sums with times and counters cannot overflow either.
SQL_INT_MAX = 2**63 - 1
COUNT_MAX = 1_000_000_000

AppId = Annotated[int, Path(ge=1, le=SQL_INT_MAX, description="An app's id.")]


class _Out(BaseModel):
    # Forbidding extras makes a key the route adds without a schema field fail loudly in tests
    # instead of vanishing from the answer.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StatusOut(_Out):
    """A one-word answer (`ok`, `reset`, `cleared`, `removed`)."""

    status: str


class DefaultsOut(_Out):
    """The default project and app of a data directory."""

    project_id: str
    app_id: int


class AcceptedRequestOut(_Out):
    """One accepted `messages:send` request, as recorded."""

    request_id: str = Field(alias="requestId")
    project_id: str = Field(alias="projectId")
    push_type: int = Field(alias="pushType")
    test_message: bool = Field(alias="testMessage")
    code: str = Field(description="80000000 or 80100000.")
    msg: str
    success: int
    failure: int
    bi_tag: str | None = Field(alias="biTag")
    payload: dict[str, Any]
    push_options: dict[str, Any] = Field(alias="pushOptions")
    accepted_at_ms: int = Field(alias="acceptedAtMs", description="On the devices' clock.")


class InboxEntryOut(_Out):
    """One message a device received."""

    request_id: str = Field(alias="requestId")
    push_type: int = Field(alias="pushType")
    bi_tag: str | None = Field(alias="biTag")
    category: str | None = Field(description="As shown: MARKETING if the app lacks the right.")
    received_at_ms: int = Field(alias="receivedAtMs")
    payload: dict[str, Any]
    push_options: dict[str, Any] = Field(alias="pushOptions")


class FaultOut(FaultRule):
    """An active fault rule with its counters."""

    id: int
    seen: int = Field(description="Requests that matched the filters.")
    fired: int
    remaining: int | None = Field(description="Firings left before the rule retires.")


class DeviceStateOut(_Out):
    """A device's flags (see `PATCH /admin/devices/{token}/state`)."""

    installed: bool
    token_valid: bool
    notifications_enabled: bool
    active: bool
    online: bool
    daily_cap: int | None
    bound_profile_ids: list[str]


class FormOut(_Out):
    """A widget on the device and its refresh counters."""

    form_id: int
    version: int
    removed: bool
    refresh_limit: int | None
    refreshes_since_block: int
    refresh_day: int
    refreshes_today: int
    blocked_until_ms: int | None
    blocked_result: int | None


class LiveViewOut(_Out):
    """A live view on the device (or an activityId it blocked, result 265)."""

    activity_id: int
    event: str | None
    created_via: str
    phase: str
    version: int
    created_at_ms: int
    updated_at_ms: int
    rest_created_at_ms: int | None
    blocked_until_ms: int | None
    update_times: list[int]


class HeldMessageOut(_Out):
    """A message waiting for an offline device."""

    request_id: str
    push_type: int
    collapse_key: int | None
    expires_at_ms: int


class ReleasedOut(_Out):
    """What coming online did with the messages that waited."""

    delivered: int
    not_delivered: int = Field(description="Expired or refused by the device's state.")


class DeviceViewOut(_Out):
    """A device's delivery state; `released` (PATCH only) tells what coming online delivered."""

    token: str
    device_id: int
    app_id: int
    project_id: str
    state: DeviceStateOut
    forms: list[FormOut]
    live_views: list[LiveViewOut]
    offline_queue: list[HeldMessageOut]
    released: ReleasedOut | None = None


class AppDeliveryOut(_Out):
    """An app's quota settings."""

    app_id: int
    released: bool
    marketing_daily_limit: int


class ProjectDeliveryOut(_Out):
    """A project's daily test-message quota."""

    project_id: str
    test_message_daily_quota: int


class ReceiptConfigOut(_Out):
    """A receipt configuration; the secret itself is never shown."""

    receipt_id: str
    project_id: str
    app_id: int | None
    url: str
    user_name: str | None
    secret: None = Field(None, description="Always null: secrets are write-only.")
    has_secret: bool
    secret_format: Literal["base64", "utf8"]


class OutboxEntryOut(_Out):
    """A queued, sent or failed receipt callback (up to 100 statuses)."""

    id: int
    receipt_id: str
    statuses: list[dict[str, Any]]
    state: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    next_attempt_ms: int
    last_error: str | None


class DispatchSettingsOut(_Out):
    """How receipts are retried while a receiver is down."""

    max_attempts: int
    base_delay_ms: int
    max_delay_ms: int
    timeout_ms: int


class DispatchOut(_Out):
    """What one background round did: inbox rows indexed, messages expired, statuses posted."""

    indexed: int
    expired: int
    sent: int
    retrying: int
    failed: int


class ClockOut(_Out):
    """The devices' clock."""

    offset_ms: int = Field(description="How far the devices' clock is ahead of real time.")
    now_ms: int
