"""A real redis-server for the distributed tests, a Celery app on it, and a key file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from hmpush.auth import write_service_account
from hmpush.distributed import make_celery_app
from hmpush.testing import EmulatorHandle

REDIS_START_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server on a free loopback port for the session; its base URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("redis")
    options = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)]
    process = subprocess.Popen(
        [binary, *options, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + REDIS_START_SECONDS
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """An empty Redis database for one test."""
    url = f"{redis_server}/0"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def celery_app(redis_url: str) -> Celery:
    """A Celery app on the test's Redis (broker and state)."""
    return make_celery_app(redis_url, visibility_timeout=60)


@pytest.fixture
def key_file(hmpush_emulator_server: EmulatorHandle, tmp_path: Path) -> Path:
    """The emulator project's service-account key file (mode 0600)."""
    path = tmp_path / "key.json"
    write_service_account(hmpush_emulator_server.service_account, path)
    return path
