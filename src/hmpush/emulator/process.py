"""Running `hmpush emulator` as a real server in a child process, for tests, demos and tools.

Only the standard library is imported here, so the pytest plugin can import this module cheaply.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["EmulatorServer", "free_port"]

_SERVER_START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmulatorServer:
    """`hmpush emulator` in a subprocess on 127.0.0.1 and a free port; a context manager.

    `extra_args` are more CLI flags (e.g. ``["--rate-limit", "50"]``).
    """

    def __init__(self, data_dir: Path | None = None, *, extra_args: list[str] | None = None):
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="hmpush-emulator-")
            data_dir = Path(self._own_dir.name)
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / "server.log"

    def start(self) -> EmulatorServer:
        """Start the server and wait until it answers."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-c",
            "import sys; from hmpush.cli import main; sys.argv[0] = 'hmpush'; main()",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            *self.extra_args,
        ]
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        import httpx2

        deadline = time.monotonic() + _SERVER_START_TIMEOUT
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator exited at start:\n{self.log_tail()}")
            try:
                if httpx2.get(f"{self.base_url}/admin/health", timeout=1.0).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the emulator did not answer within {_SERVER_START_TIMEOUT}s")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output."""
        try:
            return "\n".join(self._log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL for its whole process group).

        Unexpected server errors (answered 81000001) are logged by the server; their traces are
        copied to stderr here, before the data directory goes away.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if process is not None and "Traceback" in (log := self.log_tail(400)):
            print(f"hmpush emulator at {self.base_url} logged errors:\n{log}", file=sys.stderr)
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
