"""pytest plugin (entry point `pytest11: hmpush`): fixtures for the local Push server.

`hmpush_emulator` serves a fresh in-memory server in-process (use `handle.transport` with an
httpx2 async client); `hmpush_emulator_server` gives a fresh project on a real server listening
on 127.0.0.1 (one Granian process per test session). Both hand out an `EmulatorHandle`:
credentials, endpoint, a device factory (`create_devices`), the inbox reader, device state
(`set_device_state`), the server's clock (`advance_clock`), receipt endpoints
(`add_receipt_config`, `dispatch_receipts`), fault rules and the whole admin API (`admin`).

Importing this module must stay cheap: heavy imports happen inside the fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from hmpush.emulator.process import EmulatorServer

if TYPE_CHECKING:
    import httpx2

    from hmpush.auth import ServiceAccount
    from hmpush.emulator import Emulator, EmulatorConfig

__all__ = [
    "EmulatorAdminError",
    "EmulatorHandle",
    "EmulatorServer",
    "hmpush_emulator",
    "hmpush_emulator_config",
    "hmpush_emulator_server",
    "hmpush_emulator_server_process",
    "in_process_emulator",
    "self_signed_certificate",
    "server_handle",
]

# Keyword arguments of `create_devices` that describe the app rather than the device's state.
_APP_ARGUMENTS = frozenset(
    {"app_id", "bundle_name", "push_types", "categories", "live_view_events"}
)
_IN_PROCESS_BASE_URL = "http://hmpush-emulator.test"


class EmulatorAdminError(RuntimeError):
    """An admin API call the server refused (status and the server's detail)."""

    def __init__(self, method: str, path: str, status: int, detail: Any) -> None:
        super().__init__(f"{method} /admin{path} answered {status}: {detail}")
        self.status = status
        self.detail = detail


AdminCall = Callable[[str, str, Any], "httpx2.Response"]


class EmulatorHandle:
    """What a test needs from a local Push server: endpoint, credentials, devices and faults.

    The helper methods are synchronous and work from sync and async tests alike.
    """

    def __init__(
        self,
        *,
        base_url: str,
        transport: httpx2.AsyncBaseTransport | None,
        service_account: ServiceAccount,
        app_id: int,
        admin_call: AdminCall,
        emulator: Emulator | None = None,
    ) -> None:
        self.base_url = base_url
        # The in-process server's state, for tests that must reach behind the HTTP API.
        self.emulator = emulator
        self.transport = transport
        self.service_account = service_account
        self.project_id = service_account.project_id
        self.app_id = app_id
        self._admin_call = admin_call
        self._fault_ids: list[int] = []

    @property
    def send_url(self) -> str:
        """The full `messages:send` URL of this handle's project."""
        return f"{self.base_url}/v3/{self.project_id}/messages:send"

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call the admin API (`path` relative to `/admin`); returns the JSON answer."""
        response = self._admin_call(method.upper(), path, json)
        detail: Any = None
        if response.content:
            try:
                detail = response.json()
            except ValueError:
                detail = response.text
        if response.status_code >= 400:
            if isinstance(detail, dict) and "detail" in detail:
                detail = detail["detail"]
            raise EmulatorAdminError(method.upper(), path, response.status_code, detail)
        return detail

    def create_app(self, **rights: Any) -> int:
        """Create another app in this project (rights left out are granted); returns its id."""
        return int(self.admin("POST", f"/projects/{self.project_id}/apps", rights)["app_id"])

    def create_devices(self, count: int = 1, **app_or_state: Any) -> list[str]:
        """Register `count` devices and return their tokens.

        `app_id=` picks an app; `bundle_name`, `push_types`, `categories` or
        `live_view_events` create a new app with those rights; any other keyword is device
        state (the fields of `set_device_state`, e.g. ``online=False``), applied to each new
        device. Related helpers: `set_device_state`, `device_state`, `advance_clock`,
        `add_receipt_config` and `dispatch_receipts`.
        """
        app_arguments = {k: v for k, v in app_or_state.items() if k in _APP_ARGUMENTS}
        state = {k: v for k, v in app_or_state.items() if k not in _APP_ARGUMENTS}
        app_id = app_arguments.pop("app_id", None)
        if app_id is None:
            app_id = self.create_app(**app_arguments) if app_arguments else self.app_id
        elif app_arguments:
            raise TypeError("give either app_id or the rights of a new app, not both")
        answer = self.admin("POST", f"/apps/{app_id}/devices", {"count": count})
        tokens: list[str] = answer["tokens"]
        for token in tokens if state else ():
            self.set_device_state(token, **state)
        return tokens

    def set_device_state(self, token: str, **state: Any) -> dict[str, Any]:
        """Change a device's state: `installed`, `token_valid`, `notifications_enabled`,
        `active`, `online`, `daily_cap`, `bound_profile_ids`, `forms`, `live_views`.

        Answers with the device's whole state; coming online lists what it then received.
        """
        answer: dict[str, Any] = self.admin("PATCH", f"/devices/{token}/state", state)
        return answer

    def device_state(self, token: str) -> dict[str, Any]:
        """A device's flags, widgets, live views and the messages it holds while offline."""
        answer: dict[str, Any] = self.admin("GET", f"/devices/{token}/state")
        return answer

    def advance_clock(self, ms: int) -> int:
        """Move the server's (devices') clock forward by `ms`; returns the new now in ms.

        Quota days, ttl expiry, live-view windows and receipt retries then behave as if that
        time had passed. The clock is the server's, not the project's: on the session-wide
        `hmpush_emulator_server` it moves for every test, so prefer `hmpush_emulator` there.
        """
        return int(self.admin("POST", "/delivery/clock", {"advance_ms": ms})["now_ms"])

    def add_receipt_config(
        self,
        url: str,
        *,
        receipt_id: str | None = None,
        app_id: int | None = None,
        user_name: str | None = None,
        secret: str | None = None,
        secret_format: Literal["base64", "utf8"] = "base64",
    ) -> dict[str, Any]:
        """Have the server post this project's (or `app_id`'s) receipts to `url`.

        With `user_name` and `secret` the posts are signed (`X-HUAWEI-CALLBACK-ID`).
        """
        config = {
            "url": url,
            "receipt_id": receipt_id,
            "app_id": app_id,
            "user_name": user_name,
            "secret": secret,
            "secret_format": secret_format,
        }
        path = f"/projects/{self.project_id}/receipt-configs"
        answer: dict[str, Any] = self.admin("POST", path, config)
        return answer

    def dispatch_receipts(self) -> dict[str, int]:
        """Post due receipts (and expire offline messages) now instead of on the next tick."""
        answer: dict[str, int] = self.admin("POST", "/receipts/dispatch")
        return answer

    def inbox(self, token: str) -> list[dict[str, Any]]:
        """What the device holding `token` received, oldest first."""
        entries: list[dict[str, Any]] = self.admin("GET", f"/devices/{token}/inbox")
        return entries

    def requests(self) -> list[dict[str, Any]]:
        """Accepted requests of this project, newest first."""
        found: list[dict[str, Any]] = self.admin(
            "GET", f"/requests?project_id={self.project_id}&limit=10000"
        )
        return found

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (see `hmpush.emulator.FaultRule`), scoped to this project."""
        rule.setdefault("project_id", self.project_id)
        added: dict[str, Any] = self.admin("POST", "/faults", rule)
        self._fault_ids.append(int(added["id"]))
        return added

    def clear_faults(self) -> None:
        """Remove the fault rules this handle added."""
        for rule_id in self._fault_ids:
            with contextlib.suppress(EmulatorAdminError):  # retired after `times` firings
                self.admin("DELETE", f"/faults/{rule_id}")
        self._fault_ids.clear()

    def set_project(self, **switches: bool) -> dict[str, Any]:
        """Switch Push Kit (`push_enabled`) or a `penalty` for this project."""
        answer: dict[str, Any] = self.admin("PATCH", f"/projects/{self.project_id}", switches)
        return answer

    def __repr__(self) -> str:
        return f"EmulatorHandle(base_url={self.base_url!r}, project_id={self.project_id!r})"


# --- keys: one RSA key per session, one key id per project ----------------------------------

_session_key_pem: str | None = None
_session_key_lock = threading.Lock()


def _account_for(project_id: str) -> ServiceAccount:
    """A service account for a new project, reusing one generated key to keep tests fast."""
    from hmpush.auth import ServiceAccount, generate_service_account

    global _session_key_pem
    with _session_key_lock:
        if _session_key_pem is None:
            _session_key_pem = generate_service_account("hmpush-test", bits=2048).private_key_pem
    return ServiceAccount(
        project_id=project_id,
        key_id=secrets.token_hex(16),
        sub_account=f"sa-{secrets.token_hex(6)}",
        private_key_pem=_session_key_pem,
    )


def _new_project_id() -> str:
    return f"test{secrets.token_hex(8)}"


# --- in-process -------------------------------------------------------------------------------


class _LoopThread:
    """An event loop in a daemon thread: runs the app's lifespan and the sync admin calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="hmpush-emulator", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def in_process_emulator(config: EmulatorConfig | None = None) -> Iterator[EmulatorHandle]:
    """A fresh server in this process with a default project and app (see `hmpush_emulator`)."""
    import httpx2

    from hmpush.emulator import ConnectionDropped, Emulator, EmulatorConfig, create_app

    class _Transport(httpx2.ASGITransport):
        """ASGITransport that reports a dropped connection the way a socket would."""

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            try:
                return await super().handle_async_request(request)
            except ConnectionDropped:
                raise httpx2.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from None

    emulator = Emulator(config or EmulatorConfig())
    app = create_app(emulator=emulator)
    loop_thread = _LoopThread()
    lifespan = app.router.lifespan_context(app)
    try:
        loop_thread.run(lifespan.__aenter__())
    except BaseException:
        loop_thread.stop()
        emulator.close()
        raise
    admin_client = httpx2.AsyncClient(
        transport=_Transport(app), base_url=f"{_IN_PROCESS_BASE_URL}/admin"
    )

    def admin_call(method: str, path: str, json: Any) -> httpx2.Response:
        response: httpx2.Response = loop_thread.run(admin_client.request(method, path, json=json))
        return response

    try:
        account = _account_for(_new_project_id())
        emulator.create_project(account.project_id, account=account)
        app_record = emulator.create_app(account.project_id)
        yield EmulatorHandle(
            base_url=_IN_PROCESS_BASE_URL,
            transport=_Transport(app),
            service_account=account,
            app_id=app_record.app_id,
            admin_call=admin_call,
            emulator=emulator,
        )
    finally:
        with contextlib.suppress(Exception):
            loop_thread.run(admin_client.aclose())
        loop_thread.run(lifespan.__aexit__(None, None, None))
        loop_thread.stop()
        emulator.close()


# --- a real server ------------------------------------------------------------------------------


def server_handle(base_url: str) -> tuple[EmulatorHandle, Callable[[], None]]:
    """A handle for a fresh project on a running server, and the function that closes it."""
    import httpx2

    admin_client = httpx2.Client(base_url=f"{base_url}/admin", timeout=30.0)

    def admin_call(method: str, path: str, json: Any) -> httpx2.Response:
        return admin_client.request(method, path, json=json)

    account = _account_for(_new_project_id())
    bootstrap = EmulatorHandle(
        base_url=base_url,
        transport=None,
        service_account=account,
        app_id=0,
        admin_call=admin_call,
    )
    bootstrap.admin(
        "POST",
        "/projects",
        {
            "project_id": account.project_id,
            "public_key": {
                "key_id": account.key_id,
                "sub_account": account.sub_account,
                "public_key_pem": account.public_key_pem(),
            },
        },
    )
    bootstrap.app_id = bootstrap.create_app()

    def close() -> None:
        with contextlib.suppress(Exception):
            bootstrap.clear_faults()
        admin_client.close()

    return bootstrap, close


def self_signed_certificate(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its PKCS#8 key (0600), valid for a day, written to
    `directory` as `<name>.crt` and `<name>.key`: for HTTPS servers in tests and benchmarks."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return certificate_path, key_path


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def hmpush_emulator_config() -> EmulatorConfig:
    """The configuration `hmpush_emulator` uses; override this fixture to change limits."""
    from hmpush.emulator import EmulatorConfig

    return EmulatorConfig()


@pytest.fixture
def hmpush_emulator(hmpush_emulator_config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """A fresh in-memory local Push server in this process (use `handle.transport`)."""
    with in_process_emulator(hmpush_emulator_config) as handle:
        yield handle


@pytest.fixture(scope="session")
def hmpush_emulator_server_process() -> Iterator[EmulatorServer]:
    """One real server (Granian, 127.0.0.1, free port) for the whole test session."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def hmpush_emulator_server(
    hmpush_emulator_server_process: EmulatorServer,
) -> Iterator[EmulatorHandle]:
    """A fresh project and app on the session's real server (`handle.transport` is None)."""
    handle, close = server_handle(hmpush_emulator_server_process.base_url)
    try:
        yield handle
    finally:
        close()
