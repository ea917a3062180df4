"""The standing state of virtual devices and the delivery settings of apps and projects.

A device without a row here is in the default state: app installed, token valid, notifications
on, active, online, no device cap, no bound profile ids. Widgets and live views on a device
are kept in `device_forms` and `live_views` (see `device_rules`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from hmpush.emulator.quotas import DEFAULT_MARKETING_DAILY_LIMIT, DEFAULT_TEST_MESSAGE_DAILY_QUOTA

__all__ = [
    "DEFAULT_APP_SETTINGS",
    "DEFAULT_DEVICE_STATE",
    "STATE_FIELDS",
    "STATE_SCHEMA",
    "AppSettings",
    "DeviceState",
    "app_settings",
    "load_state",
    "load_states",
    "save_app_settings",
    "save_state",
    "save_test_message_daily_quota",
    "test_message_daily_quota",
]

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_state (
    device_id INTEGER PRIMARY KEY,
    installed INTEGER NOT NULL,
    token_valid INTEGER NOT NULL,
    notifications_enabled INTEGER NOT NULL,
    active INTEGER NOT NULL,
    online INTEGER NOT NULL,
    daily_cap INTEGER,
    bound_profile_ids BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS app_delivery_settings (
    app_id INTEGER PRIMARY KEY,
    released INTEGER NOT NULL,
    marketing_daily_limit INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS project_delivery_settings (
    project_id TEXT PRIMARY KEY,
    test_message_daily_quota INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a device's owner did to it; each flag maps to one receipt result (spec §11.3)."""

    installed: bool = True  # False: app uninstalled → 2
    token_valid: bool = True  # False: data cleared / token deleted → 5
    notifications_enabled: bool = True  # False: notifications switched off → 6
    active: bool = True  # False: offline for 30 days or more → 10
    online: bool = True  # False: messages wait in the offline cache (ttl, collapseKey) → 15
    daily_cap: int | None = None  # device frequency control per day, None = unlimited → 102
    bound_profile_ids: frozenset[str] = field(default_factory=frozenset)  # else → 144

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of this state."""
        data = asdict(self)
        data["bound_profile_ids"] = sorted(self.bound_profile_ids)
        return data

    def updated(self, changes: Mapping[str, Any]) -> DeviceState:
        """A copy with `changes` applied (keys are field names)."""
        values = dict(changes)
        if "bound_profile_ids" in values:
            values["bound_profile_ids"] = frozenset(values["bound_profile_ids"])
        return replace(self, **values)


DEFAULT_DEVICE_STATE = DeviceState()
STATE_FIELDS = frozenset(DeviceState.__dataclass_fields__)


def load_states(conn: sqlite3.Connection, device_ids: Iterable[int]) -> dict[int, DeviceState]:
    """States of the devices that differ from the default, in one query."""
    rows = conn.execute(
        "SELECT device_id, installed, token_valid, notifications_enabled, active, online,"
        " daily_cap, bound_profile_ids FROM device_state"
        " WHERE device_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(device_ids)),),
    )
    return {row[0]: _state_from_row(row) for row in rows}


def load_state(conn: sqlite3.Connection, device_id: int) -> DeviceState:
    """The state of one device."""
    return load_states(conn, (device_id,)).get(device_id, DEFAULT_DEVICE_STATE)


def _state_from_row(row: tuple[Any, ...]) -> DeviceState:
    _, installed, token_valid, notifications_enabled, active, online, cap, profiles = row
    return DeviceState(
        installed=bool(installed),
        token_valid=bool(token_valid),
        notifications_enabled=bool(notifications_enabled),
        active=bool(active),
        online=bool(online),
        daily_cap=cap,
        bound_profile_ids=frozenset(orjson.loads(profiles)),
    )


def save_state(conn: sqlite3.Connection, device_id: int, state: DeviceState) -> None:
    """Store a device's state (the default state is stored as no row)."""
    if state == DEFAULT_DEVICE_STATE:
        conn.execute("DELETE FROM device_state WHERE device_id = ?", (device_id,))
        return
    conn.execute(
        "INSERT OR REPLACE INTO device_state (device_id, installed, token_valid,"
        " notifications_enabled, active, online, daily_cap, bound_profile_ids)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            device_id,
            state.installed,
            state.token_valid,
            state.notifications_enabled,
            state.active,
            state.online,
            state.daily_cap,
            orjson.dumps(sorted(state.bound_profile_ids)),
        ),
    )


@dataclass(frozen=True, slots=True)
class AppSettings:
    """Per-app delivery settings that change quotas."""

    # Choice: apps count as released unless told otherwise, so the widget limit a developer meets
    # here is the stricter one they will meet in production (§6: 2 released, 5 unreleased).
    released: bool = True
    marketing_daily_limit: int = DEFAULT_MARKETING_DAILY_LIMIT

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of these settings."""
        return asdict(self)


DEFAULT_APP_SETTINGS = AppSettings()


def app_settings(conn: sqlite3.Connection, app_ids: Iterable[int]) -> dict[int, AppSettings]:
    """Settings of each app (defaults where none were set)."""
    wanted = set(app_ids)
    found = {
        row[0]: AppSettings(released=bool(row[1]), marketing_daily_limit=row[2])
        for row in conn.execute(
            "SELECT app_id, released, marketing_daily_limit FROM app_delivery_settings"
            " WHERE app_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(sorted(wanted)),),
        )
    }
    return {app_id: found.get(app_id, DEFAULT_APP_SETTINGS) for app_id in wanted}


def save_app_settings(conn: sqlite3.Connection, app_id: int, settings: AppSettings) -> None:
    """Store an app's delivery settings."""
    conn.execute(
        "INSERT OR REPLACE INTO app_delivery_settings (app_id, released, marketing_daily_limit)"
        " VALUES (?, ?, ?)",
        (app_id, settings.released, settings.marketing_daily_limit),
    )


def test_message_daily_quota(conn: sqlite3.Connection, project_id: str) -> int:
    """Accepted test requests per day after which a project's test messages get receipt 256."""
    row = conn.execute(
        "SELECT test_message_daily_quota FROM project_delivery_settings WHERE project_id = ?",
        (project_id,),
    ).fetchone()
    return DEFAULT_TEST_MESSAGE_DAILY_QUOTA if row is None else int(row[0])


def save_test_message_daily_quota(conn: sqlite3.Connection, project_id: str, quota: int) -> None:
    """Set a project's daily test-message quota."""
    conn.execute(
        "INSERT OR REPLACE INTO project_delivery_settings (project_id, test_message_daily_quota)"
        " VALUES (?, ?)",
        (project_id, quota),
    )
