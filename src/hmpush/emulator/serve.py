"""Serving the local Push server with Granian, and preparing its data directory.

Granian runs the app in a worker process, so the configuration travels in environment
variables and `app_from_environment` (a Granian factory) rebuilds it there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from hmpush.emulator.config import EmulatorConfig

__all__ = [
    "DEFAULTS_FILE_NAME",
    "SERVICE_ACCOUNT_FILE_NAME",
    "DataDirDefaults",
    "app_from_environment",
    "ensure_defaults",
    "serve",
]

ENV_DATA_DIR = "HMPUSH_EMULATOR_DATA"
ENV_RATE_LIMIT = "HMPUSH_EMULATOR_RATE_LIMIT"
ENV_TEST_QUOTA = "HMPUSH_EMULATOR_TEST_REQUESTS_PER_DAY"
ENV_TEST_PER_MINUTE = "HMPUSH_EMULATOR_TEST_REQUESTS_PER_MINUTE"
ENV_KEY_BITS = "HMPUSH_EMULATOR_KEY_BITS"

SERVICE_ACCOUNT_FILE_NAME = "service-account.json"
DEFAULTS_FILE_NAME = "defaults.json"
DEFAULT_BUNDLE_NAME = "com.example.hmpush.demo"


@dataclass(frozen=True, slots=True)
class DataDirDefaults:
    """The default project, app and key file of a data directory."""

    project_id: str
    app_id: int
    service_account_path: Path
    created: bool  # True when this start created them

    def to_json(self) -> str:
        """What `defaults.json` holds."""
        return json.dumps(
            {
                "project_id": self.project_id,
                "app_id": self.app_id,
                "service_account": self.service_account_path.name,
            },
            indent=2,
        )


def config_to_environment(config: EmulatorConfig) -> dict[str, str]:
    """Environment variables that make `app_from_environment` rebuild `config`."""
    env = {
        ENV_TEST_QUOTA: str(config.test_requests_per_day),
        ENV_KEY_BITS: str(config.default_key_bits),
    }
    if config.data_dir is not None:
        env[ENV_DATA_DIR] = str(config.data_dir)
    if config.rate_limit_tokens_per_second is not None:
        env[ENV_RATE_LIMIT] = str(config.rate_limit_tokens_per_second)
    if config.test_requests_per_minute is not None:
        env[ENV_TEST_PER_MINUTE] = str(config.test_requests_per_minute)
    return env


def config_from_environment() -> EmulatorConfig:
    """The configuration `config_to_environment` wrote."""
    data_dir = os.environ.get(ENV_DATA_DIR)
    rate = os.environ.get(ENV_RATE_LIMIT)
    per_minute = os.environ.get(ENV_TEST_PER_MINUTE)
    return EmulatorConfig(
        data_dir=Path(data_dir) if data_dir else None,
        rate_limit_tokens_per_second=float(rate) if rate else None,
        test_requests_per_day=int(os.environ.get(ENV_TEST_QUOTA, "1000")),
        test_requests_per_minute=int(per_minute) if per_minute else None,
        default_key_bits=int(os.environ.get(ENV_KEY_BITS, "2048")),
    )


def app_from_environment() -> FastAPI:
    """Granian factory: the app for the configuration in the environment."""
    from hmpush.emulator.app import create_app

    return create_app(config_from_environment())


def ensure_defaults(config: EmulatorConfig) -> DataDirDefaults:
    """On first start in a data directory create the default project, app and key file (0600)."""
    from hmpush.auth import write_service_account
    from hmpush.emulator.core import Emulator

    if config.data_dir is None:
        raise ValueError("a data directory is needed for the default project's key file")
    data_dir = config.data_dir
    defaults_path = data_dir / DEFAULTS_FILE_NAME
    if defaults_path.exists():
        saved = json.loads(defaults_path.read_text("utf-8"))
        return DataDirDefaults(
            saved["project_id"], saved["app_id"], data_dir / saved["service_account"], False
        )
    emulator = Emulator(config)
    try:
        created = emulator.create_project()
        app = emulator.create_app(created.project.project_id, bundle_name=DEFAULT_BUNDLE_NAME)
    finally:
        emulator.close()
    assert created.service_account is not None
    key_path = write_service_account(
        created.service_account, data_dir / SERVICE_ACCOUNT_FILE_NAME, overwrite=True
    )
    defaults = DataDirDefaults(created.project.project_id, app.app_id, key_path, True)
    defaults_path.write_text(defaults.to_json() + "\n", "utf-8")
    return defaults


def serve(config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 8800) -> None:
    """Serve until interrupted, with one Granian worker: SQLite has one writer, and fault rules
    and rate limits live in the worker's memory."""
    from granian import Granian
    from granian.constants import Interfaces

    os.environ.update(config_to_environment(config))
    Granian(
        "hmpush.emulator.serve:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_access=False,
    ).serve()
