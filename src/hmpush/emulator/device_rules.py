"""What a virtual device does with a message: the rules behind each receipt result (spec §11.3).

`before_transit` holds the results the server knows from a device's standing state; `arrive`
applies the rules a device applies when a message reaches it (now, or when it comes back
online): profile binding, the notification switch, quotas, widgets and live views.
Widgets and live views are kept per device in `device_forms` and `live_views`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from hmpush.codes import ReceiptResult
from hmpush.emulator import quotas
from hmpush.emulator.delivery_model import (
    MessageFacts,
    Outcome,
    TargetDevice,
)
from hmpush.emulator.device_state import DEFAULT_DEVICE_STATE, DeviceState, app_settings
from hmpush.messages import PushType

__all__ = [
    "RULES_SCHEMA",
    "FormState",
    "LiveViewState",
    "apply_live_view",
    "arrive",
    "before_transit",
    "created_on_device",
    "device_live_views",
    "load_form",
    "load_forms",
    "load_live_views",
    "refresh_widget",
    "save_form",
    "save_live_views",
]

RULES_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_forms (
    device_id INTEGER NOT NULL,
    form_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    refresh_limit INTEGER,
    refreshes_since_block INTEGER NOT NULL,
    refresh_day INTEGER NOT NULL,
    refreshes_today INTEGER NOT NULL,
    blocked_until_ms INTEGER,
    blocked_result INTEGER,
    PRIMARY KEY (device_id, form_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS live_views (
    device_id INTEGER NOT NULL,
    activity_id INTEGER NOT NULL,
    event TEXT,
    created_via TEXT NOT NULL,
    phase TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    rest_created_at_ms INTEGER,
    blocked_until_ms INTEGER,
    update_times BLOB NOT NULL,
    PRIMARY KEY (device_id, activity_id)
) WITHOUT ROWID;
"""

R = ReceiptResult

# §11.3 results decided from a device's standing state before the message travels, in order.
_STANDING_STATE_RULES: tuple[tuple[Callable[[DeviceState], bool], ReceiptResult], ...] = (
    (lambda state: not state.installed, R.APP_UNINSTALLED),  # 2
    (lambda state: not state.token_valid, R.TOKEN_MISMATCH),  # 5
    (lambda state: not state.active, R.INACTIVE_DEVICE),  # 10
)

# §11.3 result 6: push-types whose messages the device shows as notifications or cards.
_SHOWN_PUSH_TYPES = frozenset({PushType.NOTIFICATION, PushType.VOICE_BROADCAST, PushType.LIVE_VIEW})
# §13: MARKETING is the one category with a per-device scenario quota; other categories meet
# only the device-level frequency control (102). Choice: that cap counts notifications (0, 2).
_MARKETING = "MARKETING"
_MARKETING_COUNTER = "marketing"
_DEVICE_CAP_COUNTER = "device_total"


def before_transit(state: DeviceState) -> ReceiptResult | None:
    """The result a device's standing state forces before delivery, or None."""
    if state is DEFAULT_DEVICE_STATE:
        return None
    for refuses, result in _STANDING_STATE_RULES:
        if refuses(state):
            return result
    return None


def arrive(
    conn: sqlite3.Connection,
    facts: MessageFacts,
    devices: Sequence[TargetDevice],
    states: Mapping[int, DeviceState],
    now_ms: int,
    *,
    delivered_outcomes: bool = True,
) -> tuple[list[TargetDevice], list[Outcome]]:
    """Apply the device-side rules; returns the devices that show the message and the outcomes
    (those of delivered devices only with `delivered_outcomes`, which receipts need)."""
    if not devices:
        return [], []
    outcomes: list[Outcome] = []
    candidates = _switch_and_profile(facts, devices, states, now_ms, outcomes)
    if facts.push_type == PushType.FORM_UPDATE:
        delivered = _arrive_widget(conn, facts, candidates, now_ms, outcomes)
    elif facts.push_type == PushType.LIVE_VIEW:
        delivered = _arrive_live_view(conn, facts, candidates, now_ms, outcomes)
    elif facts.push_type in (PushType.NOTIFICATION, PushType.VOICE_BROADCAST):
        delivered = _apply_notification_quotas(conn, facts, candidates, states, now_ms, outcomes)
    else:
        delivered = list(candidates)
    if delivered_outcomes:
        outcomes += [Outcome(facts, device, R.DELIVERED, now_ms) for device in delivered]
    return delivered, outcomes


def _switch_and_profile(
    facts: MessageFacts,
    devices: Sequence[TargetDevice],
    states: Mapping[int, DeviceState],
    now_ms: int,
    outcomes: list[Outcome],
) -> list[TargetDevice]:
    # §5.1 profileId → 144 when the device has not bound it; §11.3 → 6 when notifications are off.
    profile_id = facts.notification.get("profileId")
    shown = facts.push_type in _SHOWN_PUSH_TYPES
    if profile_id is None and (not shown or not states):
        return list(devices)
    kept: list[TargetDevice] = []
    for device in devices:
        state = states.get(device.device_id, DEFAULT_DEVICE_STATE)
        if profile_id is not None and profile_id not in state.bound_profile_ids:
            outcomes.append(Outcome(facts, device, R.PROFILE_NOT_BOUND, now_ms))
        elif shown and not state.notifications_enabled:
            outcomes.append(Outcome(facts, device, R.NOTIFICATIONS_DISABLED, now_ms))
        else:
            kept.append(device)
    return kept


def _apply_notification_quotas(
    conn: sqlite3.Connection,
    facts: MessageFacts,
    devices: list[TargetDevice],
    states: Mapping[int, DeviceState],
    now_ms: int,
    outcomes: list[Outcome],
) -> list[TargetDevice]:
    # §3.2: test messages are not subject to scenario limits.
    if facts.test_message or not devices:
        return devices
    day = quotas.day_start(now_ms)
    marketing = [device for device in devices if device.effective_category == _MARKETING]
    refused = _marketing_refusals(conn, marketing, day)
    capped = (
        [
            device
            for device in devices
            if device.device_id not in refused
            and states.get(device.device_id, DEFAULT_DEVICE_STATE).daily_cap is not None
        ]
        if states
        else []
    )
    refused |= _device_cap_refusals(conn, capped, states, day)
    delivered = [device for device in devices if device.device_id not in refused]
    outcomes += [
        Outcome(facts, device, refused[device.device_id], now_ms)
        for device in devices
        if device.device_id in refused
    ]
    if marketing:
        counted = [device.device_id for device in marketing if device.device_id not in refused]
        quotas.add_device_counts(conn, _MARKETING_COUNTER, day, counted)
    if capped:
        counted = [device.device_id for device in capped if device.device_id not in refused]
        quotas.add_device_counts(conn, _DEVICE_CAP_COUNTER, day, counted)
    return delivered


def _marketing_refusals(
    conn: sqlite3.Connection, marketing: list[TargetDevice], day: int
) -> dict[int, ReceiptResult]:
    """§5.2 / §13: MARKETING notifications beyond the app's daily limit per device → 256."""
    if not marketing:
        return {}
    used = quotas.device_counts(conn, _MARKETING_COUNTER, day, (d.device_id for d in marketing))
    limits = app_settings(conn, {device.app_id for device in marketing})
    return {
        device.device_id: R.SCENARIO_FREQUENCY_LIMIT
        for device in marketing
        if used.get(device.device_id, 0) >= limits[device.app_id].marketing_daily_limit
    }


def _device_cap_refusals(
    conn: sqlite3.Connection,
    capped: list[TargetDevice],
    states: Mapping[int, DeviceState],
    day: int,
) -> dict[int, ReceiptResult]:
    """§13: notifications beyond a device's own daily cap → 102 (device frequency control)."""
    if not capped:
        return {}
    used = quotas.device_counts(conn, _DEVICE_CAP_COUNTER, day, (d.device_id for d in capped))
    return {
        device.device_id: R.DEVICE_FREQUENCY_CONTROL
        for device in capped
        if used.get(device.device_id, 0) >= (states[device.device_id].daily_cap or 0)
    }


# --- widgets (push-type 1, spec §6) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormState:
    """A widget on a device: its version, whether it was removed, and its refresh counters."""

    version: int = 0
    removed: bool = False
    refresh_limit: int | None = None  # device-side refresh count; reaching it → 262
    refreshes_since_block: int = 0
    refresh_day: int = 0
    refreshes_today: int = 0
    blocked_until_ms: int | None = None
    blocked_result: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of this widget."""
        return asdict(self)


def refresh_widget(
    form: FormState | None,
    version: int,
    now_ms: int,
    *,
    daily_limit: int,
    test_message: bool,
) -> tuple[ReceiptResult, FormState | None]:
    """The result of one widget refresh and the widget's state afterwards (spec §6, §11.3)."""
    if form is None:
        return R.NOT_SHOWN_OR_FORM_MISSING, None  # 151: no such formId on the device
    if form.blocked_until_ms is not None and now_ms < form.blocked_until_ms:
        return R(form.blocked_result or R.FORM_NOT_EXIST), form
    if form.removed:
        if form.blocked_until_ms is not None:  # the 30-day block is over: the id is forgotten
            return R.NOT_SHOWN_OR_FORM_MISSING, form
        blocked = replace(
            form,
            blocked_until_ms=now_ms + quotas.WIDGET_REMOVED_BLOCK_MS,
            blocked_result=R.FORM_NOT_EXIST,
        )
        return R.FORM_NOT_EXIST, blocked  # 261
    # §6: version must grow, except 0 which resets the counter. Choice: a stale version is
    # reported as 151 ("message not shown"), the result the spec gives for unshown widgets.
    if version != 0 and version <= form.version:
        return R.NOT_SHOWN_OR_FORM_MISSING, form
    day = quotas.day_start(now_ms)
    today = form.refreshes_today if form.refresh_day == day else 0
    if not test_message and today >= daily_limit:
        return R.SCENARIO_FREQUENCY_LIMIT, replace(form, refresh_day=day, refreshes_today=today)
    if form.refresh_limit is not None and form.refreshes_since_block >= form.refresh_limit:
        blocked = replace(
            form,
            refreshes_since_block=0,
            blocked_until_ms=now_ms + quotas.WIDGET_LIMIT_BLOCK_MS,
            blocked_result=R.FORM_REFRESH_LIMIT,
        )
        return R.FORM_REFRESH_LIMIT, blocked  # 262
    refreshed = replace(
        form,
        version=version,
        refreshes_since_block=form.refreshes_since_block + 1,
        refresh_day=day,
        refreshes_today=today + (0 if test_message else 1),
        blocked_until_ms=None,
        blocked_result=None,
    )
    return R.DELIVERED, refreshed


def _arrive_widget(
    conn: sqlite3.Connection,
    facts: MessageFacts,
    devices: list[TargetDevice],
    now_ms: int,
    outcomes: list[Outcome],
) -> list[TargetDevice]:
    form_id = facts.form_id
    version = int(facts.payload.get("version", 0))
    delivered: list[TargetDevice] = []
    settings = app_settings(conn, {device.app_id for device in devices})
    for device in devices:  # one token per widget request (§4)
        form = load_form(conn, device.device_id, form_id) if form_id is not None else None
        result, after = refresh_widget(
            form,
            version,
            now_ms,
            daily_limit=quotas.widget_daily_limit(settings[device.app_id].released),
            test_message=facts.test_message,
        )
        if after is not None and form_id is not None:
            save_form(conn, device.device_id, form_id, after)
        if result == R.DELIVERED:
            delivered.append(device)
        else:
            outcomes.append(Outcome(facts, device, result, now_ms))
    return delivered


_FORM_COLUMNS = (
    "version, removed, refresh_limit, refreshes_since_block, refresh_day, refreshes_today,"
    " blocked_until_ms, blocked_result"
)


def load_form(conn: sqlite3.Connection, device_id: int, form_id: int) -> FormState | None:
    """The widget `form_id` on a device, or None if the device never had it."""
    row = conn.execute(
        f"SELECT {_FORM_COLUMNS} FROM device_forms WHERE device_id = ? AND form_id = ?",
        (device_id, form_id),
    ).fetchone()
    if row is None:
        return None
    return FormState(row[0], bool(row[1]), *row[2:])


def load_forms(conn: sqlite3.Connection, device_id: int) -> dict[int, FormState]:
    """Every widget a device has or had."""
    rows = conn.execute(
        f"SELECT form_id, {_FORM_COLUMNS} FROM device_forms WHERE device_id = ? ORDER BY form_id",
        (device_id,),
    )
    return {row[0]: FormState(row[1], bool(row[2]), *row[3:]) for row in rows}


def save_form(conn: sqlite3.Connection, device_id: int, form_id: int, form: FormState) -> None:
    """Store a widget's state."""
    conn.execute(
        f"INSERT OR REPLACE INTO device_forms (device_id, form_id, {_FORM_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            device_id,
            form_id,
            form.version,
            form.removed,
            form.refresh_limit,
            form.refreshes_since_block,
            form.refresh_day,
            form.refreshes_today,
            form.blocked_until_ms,
            form.blocked_result,
        ),
    )


# --- live views (push-type 7, spec §8) ----------------------------------------------------

CREATE, UPDATE, END, FENCE_CREATE, FENCE_END = 0, 1, 2, 4, 6
VIA_REST, VIA_DEVICE = "rest", "device"
ACTIVE, ENDED, BLOCKED = "active", "ended", "blocked"


@dataclass(frozen=True, slots=True)
class LiveViewState:
    """One live view on a device (or an activityId the device blocked, result 265)."""

    event: str | None
    created_via: str
    phase: str
    version: int
    created_at_ms: int
    updated_at_ms: int
    rest_created_at_ms: int | None = None
    blocked_until_ms: int | None = None
    update_times: tuple[int, ...] = ()

    def is_showing(self, now_ms: int) -> bool:
        """§8: shown until ended, 4 h without an update, or 8 h after creation."""
        return (
            self.phase == ACTIVE
            and now_ms - self.updated_at_ms < quotas.LIVE_VIEW_STALE_END_MS
            and now_ms - self.created_at_ms < quotas.LIVE_VIEW_MAX_LIFETIME_MS
        )

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of this live view."""
        data = asdict(self)
        data["update_times"] = list(self.update_times)
        return data


def created_on_device(event: str | None, version: int, now_ms: int) -> LiveViewState:
    """A live view the app created on the device through Live View Kit."""
    return LiveViewState(event, VIA_DEVICE, ACTIVE, version, now_ms, now_ms)


def apply_live_view(
    view: LiveViewState | None,
    payload: Mapping[str, Any],
    now_ms: int,
    *,
    test_message: bool,
) -> tuple[ReceiptResult, LiveViewState | None]:
    """The result of one live-view message and the view afterwards (spec §8.1, §8.16, §11.3)."""
    if view is not None and view.phase == BLOCKED:
        if view.blocked_until_ms is not None and now_ms < view.blocked_until_ms:
            return R.LIVE_VIEW_NOT_EXIST, view  # 265: the id is still blocked
        view = None
    operation = int(payload.get("operation", CREATE))
    version = payload.get("version")
    if operation == CREATE:
        return _create_live_view(view, payload.get("event"), version, now_ms)
    if operation == FENCE_CREATE:
        # Choice: a geofence-delayed creation is only registered; the view exists once it fires.
        return R.DELIVERED, view
    if view is None:
        blocked_until = now_ms + quotas.LIVE_VIEW_NOT_EXIST_BLOCK_MS
        blocked = LiveViewState(
            payload.get("event"), VIA_REST, BLOCKED, 0, now_ms, now_ms, None, blocked_until
        )
        return R.LIVE_VIEW_NOT_EXIST, blocked  # 265
    if not view.is_showing(now_ms):
        return R.LIVE_VIEW_UPDATE_FAILED, view  # 155: ended or expired
    if operation == UPDATE and view.created_via == VIA_REST and not payload.get("status"):
        return R.LIVE_VIEW_UPDATE_WITHOUT_STATUS, view  # 268
    if version is not None and int(version) <= view.version:
        return R.LIVE_VIEW_VERSION_NOT_GREATER, view  # 156
    if operation == FENCE_END:
        return R.DELIVERED, view
    recent = tuple(t for t in view.update_times if now_ms - t < quotas.HOUR_MS)
    if operation == UPDATE and not test_message and _over_update_rate(view.event, recent, now_ms):
        return R.SCENARIO_FREQUENCY_LIMIT, replace(view, update_times=recent)  # §8.16 → 256
    return R.DELIVERED, replace(
        view,
        phase=ENDED if operation == END else ACTIVE,
        version=view.version if version is None else int(version),
        updated_at_ms=now_ms,
        update_times=(*recent, now_ms) if operation == UPDATE else recent,
    )


def _create_live_view(
    view: LiveViewState | None, event: Any, version: Any, now_ms: int
) -> tuple[ReceiptResult, LiveViewState | None]:
    if view is not None:
        if (
            view.rest_created_at_ms is not None
            and now_ms - view.rest_created_at_ms < quotas.LIVE_VIEW_REST_RECREATE_MS
        ):
            return R.LIVE_VIEW_DUPLICATE_CREATE, view  # 269
        if view.created_via == VIA_DEVICE and view.is_showing(now_ms):
            return R.LIVE_VIEW_ALREADY_EXISTS, view  # 158
    created = LiveViewState(
        str(event) if event is not None else None,
        VIA_REST,
        ACTIVE,
        int(version or 0),
        now_ms,
        now_ms,
        rest_created_at_ms=now_ms,
    )
    return R.DELIVERED, created


def _over_update_rate(event: str | None, recent: tuple[int, ...], now_ms: int) -> bool:
    return any(
        sum(1 for t in recent if now_ms - t < window.length_ms) >= window.limit
        for window in quotas.live_view_update_windows(event)
    )


def _arrive_live_view(
    conn: sqlite3.Connection,
    facts: MessageFacts,
    devices: list[TargetDevice],
    now_ms: int,
    outcomes: list[Outcome],
) -> list[TargetDevice]:
    activity_id = int(facts.payload["activityId"])
    views = load_live_views(conn, activity_id, [device.device_id for device in devices])
    delivered: list[TargetDevice] = []
    changed: list[tuple[int, LiveViewState]] = []
    for device in devices:
        before = views.get(device.device_id)
        result, after = apply_live_view(
            before, facts.payload, now_ms, test_message=facts.test_message
        )
        if after is not None and after != before:
            changed.append((device.device_id, after))
        if result == R.DELIVERED:
            delivered.append(device)
        else:
            outcomes.append(Outcome(facts, device, result, now_ms))
    save_live_views(conn, activity_id, changed)
    return delivered


_VIEW_COLUMNS = (
    "event, created_via, phase, version, created_at_ms, updated_at_ms, rest_created_at_ms,"
    " blocked_until_ms, update_times"
)


def _view_from_row(row: Sequence[Any]) -> LiveViewState:
    event, via, phase, version, created, updated, rest_created, blocked_until, times = row
    return LiveViewState(
        event,
        via,
        phase,
        version,
        created,
        updated,
        rest_created,
        blocked_until,
        tuple(orjson.loads(times)),
    )


def load_live_views(
    conn: sqlite3.Connection, activity_id: int, device_ids: Sequence[int]
) -> dict[int, LiveViewState]:
    """The live view `activity_id` on each of the devices that have one, in one query."""
    rows = conn.execute(
        f"SELECT device_id, {_VIEW_COLUMNS} FROM live_views WHERE activity_id = ?"
        " AND device_id IN (SELECT value FROM json_each(?))",
        (activity_id, orjson.dumps(list(device_ids))),
    )
    return {row[0]: _view_from_row(row[1:]) for row in rows}


def device_live_views(conn: sqlite3.Connection, device_id: int) -> dict[int, LiveViewState]:
    """Every live view (or blocked activityId) on one device."""
    rows = conn.execute(
        f"SELECT activity_id, {_VIEW_COLUMNS} FROM live_views WHERE device_id = ?"
        " ORDER BY activity_id",
        (device_id,),
    )
    return {row[0]: _view_from_row(row[1:]) for row in rows}


def save_live_views(
    conn: sqlite3.Connection, activity_id: int, views: Sequence[tuple[int, LiveViewState]]
) -> None:
    """Store live views of one activityId on several devices."""
    conn.executemany(
        f"INSERT OR REPLACE INTO live_views (device_id, activity_id, {_VIEW_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                device_id,
                activity_id,
                view.event,
                view.created_via,
                view.phase,
                view.version,
                view.created_at_ms,
                view.updated_at_ms,
                view.rest_created_at_ms,
                view.blocked_until_ms,
                orjson.dumps(list(view.update_times)),
            )
            for device_id, view in views
        ],
    )
