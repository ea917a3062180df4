"""In-memory index of devices and app rights for the send hot path.

SQLite stays the source of truth; this keeps what a 1000-token request needs one dict lookup per
token away (a SQL probe of a 130-character token key costs microseconds each). Entries load
lazily — the tokens a request names that are not yet known are fetched in one query — and
every registry change that could make an entry stale clears it. Use it only inside
`Store.transaction()`, whose lock serialises all access.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from hmpush.emulator import registry
from hmpush.emulator.delivery import TargetDevice
from hmpush.emulator.registry import AppRecord, DeviceRecord
from hmpush.messages import implausible_tokens

__all__ = ["KnownDevice", "TargetLookup"]

# Past this many cached devices the index starts again from empty (memory stays bounded).
_MAX_CACHED_DEVICES = 1_000_000


@dataclass(slots=True)
class KnownDevice:
    """A registered device, with its delivery targets cached per effective category."""

    device_id: int
    token: str
    app_id: int
    project_id: str
    targets: dict[str | None, TargetDevice] = field(default_factory=dict)

    def target(self, bundle_name: str, category: str | None) -> TargetDevice:
        """The (cached) delivery target of this device for a message of `category`."""
        cached = self.targets.get(category)
        if cached is None:
            cached = self.targets[category] = TargetDevice(
                device_id=self.device_id,
                token=self.token,
                app_id=self.app_id,
                bundle_name=bundle_name,
                effective_category=category,
            )
        return cached


class TargetLookup:
    """Devices by token and apps by id, loaded on demand from the core tables."""

    def __init__(self) -> None:
        self._devices: dict[str, KnownDevice] = {}
        self._apps: dict[int, AppRecord] = {}

    def devices(self, conn: sqlite3.Connection, tokens: Sequence[str]) -> dict[str, KnownDevice]:
        """The registered devices among `tokens` (unknown tokens are simply absent)."""
        cache = self._devices
        missing = [token for token in tokens if token not in cache]
        if missing:
            # A string that cannot be a token is never looked up (it fails tokenFormatError, as
            # an unregistered token does); the batch rule checks all of them at once.
            implausible = implausible_tokens(missing)
            if implausible:
                skipped = set(implausible)
                missing = [token for token in missing if token not in skipped]
            if len(cache) + len(missing) > _MAX_CACHED_DEVICES:
                cache.clear()
            for token, (device_id, app_id, project_id) in registry.devices_by_token(
                conn, missing
            ).items():
                cache[token] = KnownDevice(device_id, token, app_id, project_id)
        return cache

    def app(self, conn: sqlite3.Connection, app_id: int) -> AppRecord:
        """An app and its rights."""
        record = self._apps.get(app_id)
        if record is None:
            record = self._apps[app_id] = registry.get_app(conn, app_id)
        return record

    def add_devices(self, devices: Sequence[DeviceRecord]) -> None:
        """Remember devices just registered."""
        if len(self._devices) + len(devices) > _MAX_CACHED_DEVICES:
            self._devices.clear()
        for device in devices:
            self._devices[device.token] = KnownDevice(
                device.device_id, device.token, device.app_id, device.project_id
            )

    def forget(self) -> None:
        """Drop everything (after app changes or a reset)."""
        self._devices.clear()
        self._apps.clear()
