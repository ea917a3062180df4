"""`Emulator`: one local Push server's state, verifier, limits and faults, usable without HTTP."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from hmpush.auth import JwtVerifier, ServiceAccount, VerificationKey, generate_service_account
from hmpush.emulator import delivery, registry
from hmpush.emulator.config import EmulatorConfig
from hmpush.emulator.device_state import save_test_message_daily_quota
from hmpush.emulator.faults import FaultInjector
from hmpush.emulator.limits import RateLimiter, TestMessageLimiter
from hmpush.emulator.lookup import TargetLookup
from hmpush.emulator.metrics import SendMetrics
from hmpush.emulator.quotas import DEFAULT_TEST_MESSAGE_DAILY_QUOTA
from hmpush.emulator.registry import AppRecord, DeviceRecord, ProjectRecord, RegistryError
from hmpush.emulator.store import Store

__all__ = ["CreatedProject", "Emulator"]

# Reset keeps who may send (projects, keys, apps) and forgets everything that was sent.
_KEPT_BY_RESET = frozenset({"projects", "service_account_keys", "apps"})


@dataclass(frozen=True, slots=True)
class CreatedProject:
    """A new project and, when the server generated its key, the service account to send with."""

    project: ProjectRecord
    service_account: ServiceAccount | None


class Emulator:
    """The local Push server's working parts; `create_app` puts an HTTP face on it."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        if self.config.data_dir is not None:
            self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.config.database_path)
        self.store.install(delivery.install_schema)
        self.faults = FaultInjector()
        self.rate_limiter = RateLimiter(self.config.rate_limit_tokens_per_second)
        self.test_limiter = TestMessageLimiter(self.config.test_requests_per_minute)
        self.lookup = TargetLookup()  # touch only inside store.transaction()
        self.metrics = SendMetrics()
        self._keys: dict[str, VerificationKey | None] = {}
        self._switches: dict[str, tuple[bool, bool] | None] = {}
        self._cache_lock = threading.Lock()
        self.verifier = JwtVerifier(self._verification_key)

    # --- hot-path lookups, cached in memory and cleared by every registry change ------------

    def _verification_key(self, key_id: str) -> VerificationKey | None:
        if key_id in self._keys:
            return self._keys[key_id]
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT project_id, key_id, sub_account, public_key_pem"
                " FROM service_account_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        key = None if row is None else VerificationKey(*row)
        with self._cache_lock:
            if len(self._keys) > 10_000:  # unknown kids must not grow the cache without bound
                self._keys.clear()
            self._keys[key_id] = key
        return key

    def project_switches(self, project_id: str) -> tuple[bool, bool] | None:
        """(push_enabled, penalty) of a project, None if it does not exist."""
        if project_id in self._switches:
            return self._switches[project_id]
        with self.store.read() as conn:
            switches = registry.project_switches(conn, project_id)
        with self._cache_lock:
            if len(self._switches) > 10_000:
                self._switches.clear()
            self._switches[project_id] = switches
        return switches

    def _forget_cached(self) -> None:
        with self._cache_lock:
            self._keys.clear()
            self._switches.clear()

    # --- projects and keys ------------------------------------------------------------------

    def create_project(
        self,
        project_id: str | None = None,
        *,
        key_bits: int | None = None,
        public_key: VerificationKey | None = None,
        account: ServiceAccount | None = None,
    ) -> CreatedProject:
        """Create a project with a key: a generated one, or a given account's or public key."""
        project_id = project_id or registry.new_project_id()
        generated: ServiceAccount | None = None
        if account is not None:
            public_key = VerificationKey.from_account(account)
        elif public_key is None:
            generated = generate_service_account(
                project_id,
                bits=key_bits or self.config.default_key_bits,
                key_id=secrets.token_hex(16),
            )
            public_key = VerificationKey.from_account(generated)
        if public_key.project_id != project_id:
            raise RegistryError("the key's project_id must equal the project's id")
        with self.store.transaction() as conn:
            registry.insert_project(conn, project_id)
            _insert_verification_key(conn, public_key)
            if self.config.test_requests_per_day != DEFAULT_TEST_MESSAGE_DAILY_QUOTA:
                # The daily test quota is applied on the device side (receipt 256 beyond it).
                save_test_message_daily_quota(conn, project_id, self.config.test_requests_per_day)
            project = registry.get_project(conn, project_id)
        self._forget_cached()
        return CreatedProject(project, generated)

    def add_key(self, key: VerificationKey) -> ProjectRecord:
        """Register another service-account public key for an existing project."""
        with self.store.transaction() as conn:
            registry.get_project(conn, key.project_id)
            _insert_verification_key(conn, key)
            project = registry.get_project(conn, key.project_id)
        self._forget_cached()
        return project

    def get_project(self, project_id: str) -> ProjectRecord:
        """One project (RegistryError 404 if unknown)."""
        with self.store.read() as conn:
            return registry.get_project(conn, project_id)

    def list_projects(self) -> list[ProjectRecord]:
        """Every project."""
        with self.store.read() as conn:
            return registry.list_projects(conn)

    def update_project(
        self, project_id: str, *, push_enabled: bool | None = None, penalty: bool | None = None
    ) -> ProjectRecord:
        """Switch Push Kit (80300002 when off) or a penalty (80300037 when on) for a project."""
        with self.store.transaction() as conn:
            project = registry.update_project(
                conn, project_id, push_enabled=push_enabled, penalty=penalty
            )
        self._forget_cached()
        return project

    # --- apps and devices -------------------------------------------------------------------

    def create_app(
        self,
        project_id: str,
        *,
        bundle_name: str | None = None,
        push_types: Iterable[int] | None = None,
        categories: Iterable[str] | None = None,
        live_view_events: Iterable[str] | None = None,
    ) -> AppRecord:
        """Create an app; rights left as None are granted in full."""
        with self.store.transaction() as conn:
            return registry.insert_app(
                conn,
                project_id,
                bundle_name=bundle_name,
                push_types=push_types,
                categories=categories,
                live_view_events=live_view_events,
            )

    def update_app(self, app_id: int, **changes: Any) -> AppRecord:
        """Change an app's bundle name or rights (see `registry.update_app`)."""
        with self.store.transaction() as conn:
            app = registry.update_app(conn, app_id, **changes)
            self.lookup.forget()
            return app

    def get_app(self, app_id: int) -> AppRecord:
        """One app (RegistryError 404 if unknown)."""
        with self.store.read() as conn:
            return registry.get_app(conn, app_id)

    def list_apps(self, project_id: str | None = None) -> list[AppRecord]:
        """Apps of a project, or all."""
        with self.store.read() as conn:
            return registry.list_apps(conn, project_id)

    def create_devices(self, app_id: int, count: int = 1) -> list[DeviceRecord]:
        """Register `count` devices of an app; each gets a realistic, unique token."""
        if count < 1:
            raise RegistryError("count must be at least 1")
        with self.store.transaction() as conn:
            devices = registry.insert_devices(conn, app_id, count)
            self.lookup.add_devices(devices)
            return devices

    def list_devices(self, app_id: int, *, limit: int = 1000) -> list[DeviceRecord]:
        """Devices of an app, oldest first."""
        with self.store.read() as conn:
            return registry.list_devices(conn, app_id, limit)

    # --- inspection and reset ---------------------------------------------------------------

    def list_requests(
        self, project_id: str | None = None, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Accepted requests, newest first."""
        return list_accepted_requests(self.store, project_id, limit)

    def reset(self) -> None:
        """Forget everything sent (requests, devices, inboxes, counters, receipts, faults, the
        moved clock); keep projects, keys, apps and configuration, so issued service-account
        files, quota settings and receipt endpoints stay valid.

        Configuration is the core's kept tables plus any table whose name ends in `_settings`
        or `_configs` (the device side's quota and receipt settings).
        """
        with self.store.transaction() as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for table in tables:
                if not _kept_by_reset(table):
                    conn.execute(f'DELETE FROM "{table}"')
            self.lookup.forget()
        self.faults.clear()
        self.rate_limiter.reset()
        self.test_limiter.reset()
        self._forget_cached()

    def close(self) -> None:
        """Close the database."""
        self.store.close()


def _kept_by_reset(table: str) -> bool:
    return table in _KEPT_BY_RESET or table.endswith(("_settings", "_configs"))


def _insert_verification_key(conn: Any, key: VerificationKey) -> None:
    registry.insert_key(conn, key.project_id, key.key_id, key.sub_account, key.public_key_pem)


_REQUEST_COLUMNS = (
    "request_id, project_id, push_type, test_message, code, msg, success, failure, bi_tag,"
    " payload, push_options, accepted_at_ms"
)


def list_accepted_requests(
    store: Store, project_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """Accepted requests, newest first, as JSON-ready dicts."""
    with store.read() as conn:
        if project_id is None:
            rows = conn.execute(
                f"SELECT {_REQUEST_COLUMNS} FROM requests ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE project_id = ?"
                " ORDER BY seq DESC LIMIT ?",
                (project_id, limit),
            ).fetchall()
    return [
        {
            "requestId": row[0],
            "projectId": row[1],
            "pushType": row[2],
            "testMessage": bool(row[3]),
            "code": row[4],
            "msg": row[5],
            "success": row[6],
            "failure": row[7],
            "biTag": row[8],
            "payload": orjson.loads(row[9]),
            "pushOptions": orjson.loads(row[10]),
            "acceptedAtMs": row[11],
        }
        for row in rows
    ]
