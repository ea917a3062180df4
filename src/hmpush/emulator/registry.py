"""Projects, their service-account keys, apps and virtual devices: the core tables' rows.

Functions here take a connection so callers choose the transaction; `Emulator` wraps them.
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from hmpush.messages import Category, LiveViewEvent, PushType

__all__ = [
    "ALL_CATEGORIES",
    "ALL_LIVE_VIEW_EVENTS",
    "ALL_PUSH_TYPES",
    "AppRecord",
    "DeviceRecord",
    "ProjectRecord",
    "RegistryError",
    "generate_token",
]

# A new app is granted everything unless told otherwise: the common case in development is
# "let me send anything", and tests that need a missing right say so explicitly.
ALL_PUSH_TYPES: tuple[int, ...] = tuple(int(push_type) for push_type in PushType)
ALL_CATEGORIES: tuple[str, ...] = tuple(category.value for category in Category)
ALL_LIVE_VIEW_EVENTS: tuple[str, ...] = tuple(event.value for event in LiveViewEvent)

# Real tokens look like ``MAMzLgEAAAA…`` followed by base64 text (about 130 characters).
_TOKEN_PREFIX = "MAMzLgEAAAA"
_TOKEN_RANDOM_BYTES = 90


class RegistryError(Exception):
    """A registry request that cannot be applied; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project and the switches the server honours for it."""

    project_id: str
    push_enabled: bool
    penalty: bool
    key_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppRecord:
    """An app of a project and the rights Huawei granted it."""

    app_id: int
    project_id: str
    bundle_name: str
    push_types: frozenset[int]
    categories: frozenset[str]
    live_view_events: frozenset[str]

    def to_dict(self) -> dict[str, object]:
        """JSON form for the admin API (lists in a stable order)."""
        return {
            "app_id": self.app_id,
            "project_id": self.project_id,
            "bundle_name": self.bundle_name,
            "push_types": sorted(self.push_types),
            "categories": [c for c in ALL_CATEGORIES if c in self.categories],
            "live_view_events": [e for e in ALL_LIVE_VIEW_EVENTS if e in self.live_view_events],
        }


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A virtual device: its id, push token and app."""

    device_id: int
    token: str
    app_id: int
    project_id: str


def now_ms() -> int:
    """Wall-clock time in milliseconds (the unit receipts and inboxes use)."""
    return time.time_ns() // 1_000_000


def generate_token() -> str:
    """A fresh push token shaped like Huawei's (prefix + base64 text, ~130 characters)."""
    random_text = base64.b64encode(os.urandom(_TOKEN_RANDOM_BYTES)).decode("ascii")
    return _TOKEN_PREFIX + random_text.replace("+", "x").replace("/", "y")


def new_project_id() -> str:
    """A project id in AppGallery Connect's style: 18 digits."""
    return str(100_000_000_000_000_000 + secrets.randbelow(900_000_000_000_000_000))


# --- projects and keys -------------------------------------------------------------------


def insert_project(conn: sqlite3.Connection, project_id: str) -> None:
    """Create a project; refuses an id that exists."""
    try:
        conn.execute(
            "INSERT INTO projects (id, created_at_ms) VALUES (?, ?)", (project_id, now_ms())
        )
    except sqlite3.IntegrityError:
        raise RegistryError(f"project {project_id!r} already exists", 409) from None


def insert_key(
    conn: sqlite3.Connection, project_id: str, key_id: str, sub_account: str, public_key_pem: str
) -> None:
    """Register a service-account public key for a project."""
    try:
        conn.execute(
            "INSERT INTO service_account_keys"
            " (key_id, project_id, sub_account, public_key_pem, created_at_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (key_id, project_id, sub_account, public_key_pem, now_ms()),
        )
    except sqlite3.IntegrityError:
        raise RegistryError(f"key id {key_id!r} is already registered", 409) from None


def get_project(conn: sqlite3.Connection, project_id: str) -> ProjectRecord:
    """One project; RegistryError 404 if unknown."""
    row = conn.execute(
        "SELECT id, push_enabled, penalty FROM projects WHERE id = ?", (project_id,)
    ).fetchone()
    if row is None:
        raise RegistryError(f"no project {project_id!r}", 404)
    key_ids = tuple(
        key_id
        for (key_id,) in conn.execute(
            "SELECT key_id FROM service_account_keys WHERE project_id = ? ORDER BY created_at_ms",
            (project_id,),
        )
    )
    return ProjectRecord(row[0], bool(row[1]), bool(row[2]), key_ids)


def list_projects(conn: sqlite3.Connection) -> list[ProjectRecord]:
    """Every project, oldest first."""
    ids = [row[0] for row in conn.execute("SELECT id FROM projects ORDER BY created_at_ms, id")]
    return [get_project(conn, project_id) for project_id in ids]


def update_project(
    conn: sqlite3.Connection,
    project_id: str,
    *,
    push_enabled: bool | None = None,
    penalty: bool | None = None,
) -> ProjectRecord:
    """Switch Push Kit on/off or a penalty on/off for a project."""
    get_project(conn, project_id)
    if push_enabled is not None:
        conn.execute(
            "UPDATE projects SET push_enabled = ? WHERE id = ?", (int(push_enabled), project_id)
        )
    if penalty is not None:
        conn.execute("UPDATE projects SET penalty = ? WHERE id = ?", (int(penalty), project_id))
    return get_project(conn, project_id)


def project_switches(conn: sqlite3.Connection, project_id: str) -> tuple[bool, bool] | None:
    """(push_enabled, penalty) of a project, or None if unknown."""
    row = conn.execute(
        "SELECT push_enabled, penalty FROM projects WHERE id = ?", (project_id,)
    ).fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]))


# --- apps ----------------------------------------------------------------------------------


def _checked_push_types(values: Iterable[int]) -> list[int]:
    valid = set(ALL_PUSH_TYPES)
    result = sorted({int(value) for value in values})
    unknown = [value for value in result if value not in valid]
    if unknown:
        raise RegistryError(f"push_types: unknown push-type(s) {unknown}; known: {ALL_PUSH_TYPES}")
    return result


def _checked_names(field: str, values: Iterable[str], known: Sequence[str]) -> list[str]:
    result = sorted(set(values))
    unknown = [value for value in result if value not in known]
    if unknown:
        raise RegistryError(f"{field}: unknown value(s) {unknown}; known: {list(known)}")
    return result


def insert_app(
    conn: sqlite3.Connection,
    project_id: str,
    *,
    bundle_name: str | None = None,
    push_types: Iterable[int] | None = None,
    categories: Iterable[str] | None = None,
    live_view_events: Iterable[str] | None = None,
) -> AppRecord:
    """Create an app in a project; a right left as None is granted in full."""
    get_project(conn, project_id)
    types = _checked_push_types(ALL_PUSH_TYPES if push_types is None else push_types)
    cats = _checked_names(
        "categories", ALL_CATEGORIES if categories is None else categories, ALL_CATEGORIES
    )
    events = _checked_names(
        "live_view_events",
        ALL_LIVE_VIEW_EVENTS if live_view_events is None else live_view_events,
        ALL_LIVE_VIEW_EVENTS,
    )
    cursor = conn.execute(
        "INSERT INTO apps (project_id, bundle_name, push_types, categories, live_view_events,"
        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
        (
            project_id,
            bundle_name or "",
            orjson.dumps(types).decode(),
            orjson.dumps(cats).decode(),
            orjson.dumps(events).decode(),
            now_ms(),
        ),
    )
    app_id = cursor.lastrowid
    assert app_id is not None
    if not bundle_name:
        conn.execute(
            "UPDATE apps SET bundle_name = ? WHERE id = ?", (f"com.example.app{app_id}", app_id)
        )
    return get_app(conn, app_id)


def update_app(
    conn: sqlite3.Connection,
    app_id: int,
    *,
    bundle_name: str | None = None,
    push_types: Iterable[int] | None = None,
    categories: Iterable[str] | None = None,
    live_view_events: Iterable[str] | None = None,
) -> AppRecord:
    """Change an app's bundle name or rights; None leaves a field as it is."""
    get_app(conn, app_id)
    changes: dict[str, str] = {}
    if bundle_name is not None:
        changes["bundle_name"] = bundle_name
    if push_types is not None:
        changes["push_types"] = orjson.dumps(_checked_push_types(push_types)).decode()
    if categories is not None:
        cats = _checked_names("categories", categories, ALL_CATEGORIES)
        changes["categories"] = orjson.dumps(cats).decode()
    if live_view_events is not None:
        events = _checked_names("live_view_events", live_view_events, ALL_LIVE_VIEW_EVENTS)
        changes["live_view_events"] = orjson.dumps(events).decode()
    for column, value in changes.items():  # column names come from the fixed list above
        conn.execute(f"UPDATE apps SET {column} = ? WHERE id = ?", (value, app_id))
    return get_app(conn, app_id)


_APP_COLUMNS = "id, project_id, bundle_name, push_types, categories, live_view_events"


def _app_from_row(row: Sequence[object]) -> AppRecord:
    app_id, project_id, bundle_name, push_types, categories, events = row
    return AppRecord(
        app_id=int(app_id),  # type: ignore[call-overload]
        project_id=str(project_id),
        bundle_name=str(bundle_name),
        push_types=frozenset(orjson.loads(push_types)),  # type: ignore[arg-type]
        categories=frozenset(orjson.loads(categories)),  # type: ignore[arg-type]
        live_view_events=frozenset(orjson.loads(events)),  # type: ignore[arg-type]
    )


def get_app(conn: sqlite3.Connection, app_id: int) -> AppRecord:
    """One app; RegistryError 404 if unknown."""
    row = conn.execute(f"SELECT {_APP_COLUMNS} FROM apps WHERE id = ?", (app_id,)).fetchone()
    if row is None:
        raise RegistryError(f"no app {app_id}", 404)
    return _app_from_row(row)


def list_apps(conn: sqlite3.Connection, project_id: str | None = None) -> list[AppRecord]:
    """Apps of one project (or all), oldest first."""
    if project_id is None:
        rows = conn.execute(f"SELECT {_APP_COLUMNS} FROM apps ORDER BY id").fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_APP_COLUMNS} FROM apps WHERE project_id = ? ORDER BY id", (project_id,)
        ).fetchall()
    return [_app_from_row(row) for row in rows]


# --- devices -------------------------------------------------------------------------------


def insert_devices(conn: sqlite3.Connection, app_id: int, count: int) -> list[DeviceRecord]:
    """Register `count` new devices of an app, each with a fresh token."""
    app = get_app(conn, app_id)
    created = now_ms()
    devices: list[DeviceRecord] = []
    for _ in range(count):
        token = generate_token()
        cursor = conn.execute(
            "INSERT INTO devices (token, app_id, project_id, created_at_ms) VALUES (?, ?, ?, ?)",
            (token, app_id, app.project_id, created),
        )
        assert cursor.lastrowid is not None
        devices.append(DeviceRecord(cursor.lastrowid, token, app_id, app.project_id))
    return devices


def list_devices(conn: sqlite3.Connection, app_id: int, limit: int) -> list[DeviceRecord]:
    """Devices of an app, oldest first."""
    get_app(conn, app_id)
    rows = conn.execute(
        "SELECT id, token, app_id, project_id FROM devices WHERE app_id = ? ORDER BY id LIMIT ?",
        (app_id, limit),
    ).fetchall()
    return [DeviceRecord(*row) for row in rows]


def devices_by_token(
    conn: sqlite3.Connection, tokens: Sequence[str]
) -> dict[str, tuple[int, int, str]]:
    """token → (device_id, app_id, project_id) for the known tokens among `tokens` (one query)."""
    rows = conn.execute(
        "SELECT token, id, app_id, project_id FROM devices"
        " WHERE token IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(tokens)).decode(),),
    ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}
