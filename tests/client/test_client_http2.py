"""HTTPS and the HTTP/2 opt-in, against the local Push server served by Granian with TLS."""

from __future__ import annotations

import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from client_helpers import FAST_RETRY, notification

from hmpush.client import PushClient
from hmpush.errors import TransportError
from hmpush.testing import EmulatorHandle, self_signed_certificate, server_handle


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The emulator app behind Granian with TLS (HTTP/1.1 and HTTP/2 by ALPN)."""
    certificate, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "granian"),
        "--interface", "asgi", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-ws", "--log-level", "warning",
        "--ssl-certificate", str(certificate), "--ssl-keyfile", str(key),
        "hmpush.emulator:create_app",
    ]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True)
    base_url = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=str(certificate))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the TLS server exited at start"
            try:
                httpx2.get(f"{base_url}/admin/health", verify=trusted, timeout=1.0)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the TLS server did not answer"
                time.sleep(0.1)
        yield base_url, certificate
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture
def tls_project(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatorHandle]:
    base_url, certificate = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # for the handle's admin client
    handle, close = server_handle(base_url)
    try:
        yield handle
    finally:
        close()


def _protocols(caplog: pytest.LogCaptureFixture) -> set[str]:
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx2"]
    return {line.rsplit('"', 2)[-2].split()[0] for line in lines if "messages:send" in line}


@pytest.mark.parametrize(("http2", "protocol"), [(False, "HTTP/1.1"), (True, "HTTP/2")])
def test_https_with_and_without_http2(
    tls_server: tuple[str, Path],
    tls_project: EmulatorHandle,
    caplog: pytest.LogCaptureFixture,
    http2: bool,
    protocol: str,
) -> None:
    _, certificate = tls_server
    tokens = tls_project.create_devices(3)
    trusted = ssl.create_default_context(cafile=str(certificate))
    caplog.set_level(logging.INFO, logger="httpx2")
    with PushClient(
        tls_project.service_account,
        endpoint=tls_project.base_url,
        http2=http2,
        ssl_context=trusted,
    ) as client:
        results = [client.send(notification(), [token]) for token in tokens]
    assert all(result.all_accepted for result in results)
    assert _protocols(caplog) == {protocol}


def test_an_untrusted_certificate_is_refused_at_once(
    tls_project: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    caplog.set_level(logging.INFO, logger="hmpush.client")
    with (
        PushClient(
            tls_project.service_account, endpoint=tls_project.base_url, retry=FAST_RETRY
        ) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.send(notification(), tls_project.create_devices(1))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    failed_attempts = [r for r in caplog.records if "failed:" in r.getMessage()]
    assert len(failed_attempts) == 1  # not retried: the certificate would fail again
