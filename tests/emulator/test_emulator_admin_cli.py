"""The admin API, its OpenAPI document, the data directory and the `hmpush emulator` CLI."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from emulator_helpers import Sender, answer_of, notification_body
from typer.testing import CliRunner

from hmpush.auth import ServiceAccount
from hmpush.cli import app as cli_app
from hmpush.cli._common import EXIT_TRANSPORT
from hmpush.messages import is_plausible_token
from hmpush.testing import EmulatorAdminError, EmulatorHandle, EmulatorServer

pytestmark = pytest.mark.anyio


async def test_openapi_document_describes_admin_and_send(emulator: EmulatorHandle) -> None:
    async with httpx2.AsyncClient(transport=emulator.transport) as client:
        document = (await client.get(f"{emulator.base_url}/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/v3/{project_id}/messages:send",
        "/admin/projects",
        "/admin/projects/{project_id}/apps",
        "/admin/apps/{app_id}/devices",
        "/admin/requests",
        "/admin/faults",
        "/admin/reset",
        "/admin/devices/{token}/inbox",
    ):
        assert path in paths, path
    send = paths["/v3/{project_id}/messages:send"]["post"]
    assert {parameter["name"] for parameter in send["parameters"]} >= {"push-type"}


def test_every_admin_route_documents_its_request_and_answer(
    hmpush_emulator: EmulatorHandle,
) -> None:
    assert hmpush_emulator.emulator is not None
    from hmpush.emulator import create_app

    document = create_app(emulator=hmpush_emulator.emulator).openapi()
    undocumented = []
    for path, operations in document["paths"].items():
        if not path.startswith("/admin"):
            continue
        for method, operation in operations.items():
            answers = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
            for status, answer in answers.items():
                if status == "204":
                    continue
                schema = answer["content"]["application/json"]["schema"]
                named = schema.get("$ref") or schema.get("items", {}).get("$ref")
                if named is None:
                    undocumented.append(f"{method.upper()} {path} answer")
            if method in ("post", "patch"):
                body = operation.get("requestBody", {}).get("content", {})
                has_body = "$ref" in body.get("application/json", {}).get("schema", {})
                if not has_body and not path.endswith(("/reset", "/dispatch")):
                    undocumented.append(f"{method.upper()} {path} request")
    assert undocumented == []


async def test_created_project_answers_with_a_working_key_file(
    emulator: EmulatorHandle,
) -> None:
    created = emulator.admin("POST", "/projects", {"project_id": "demo-project-1"})
    assert created["project_id"] == "demo-project-1"
    account = ServiceAccount.from_dict(created["service_account"])
    assert account.key_bits == 2048
    assert created["key_ids"] == [account.key_id]
    app = emulator.admin("POST", "/projects/demo-project-1/apps", {"bundle_name": "com.x.y"})
    assert app["bundle_name"] == "com.x.y"
    tokens = emulator.admin("POST", f"/apps/{app['app_id']}/devices", {"count": 2})["tokens"]

    handle = EmulatorHandle(
        base_url=emulator.base_url,
        transport=emulator.transport,
        service_account=account,
        app_id=app["app_id"],
        admin_call=emulator._admin_call,
    )
    response = await Sender(handle).post(notification_body(tokens))
    assert answer_of(response)["code"] == "80000000"
    with pytest.raises(EmulatorAdminError) as duplicate:
        emulator.admin("POST", "/projects", {"project_id": "demo-project-1"})
    assert duplicate.value.status == 409


def test_key_size_can_be_chosen(hmpush_emulator: EmulatorHandle) -> None:
    created = hmpush_emulator.admin("POST", "/projects", {"key_bits": 3072})
    assert ServiceAccount.from_dict(created["service_account"]).key_bits == 3072


def test_new_apps_are_granted_everything(emulator: EmulatorHandle) -> None:
    app = emulator.admin("GET", f"/apps/{emulator.app_id}")
    assert app["push_types"] == [0, 1, 2, 6, 7, 10]
    assert "IM" in app["categories"] and "MARKETING" in app["categories"]
    assert "FLIGHT" in app["live_view_events"] and "TAXI" in app["live_view_events"]


@pytest.mark.parametrize(
    ("rights", "field"),
    [
        ({"push_types": [3]}, "push_types"),
        ({"categories": ["NEWS"]}, "categories"),
        ({"live_view_events": ["PARTY"]}, "live_view_events"),
    ],
)
def test_unknown_rights_are_refused_naming_the_field(
    emulator: EmulatorHandle, rights: dict[str, list[object]], field: str
) -> None:
    with pytest.raises(EmulatorAdminError) as refused:
        emulator.create_app(**rights)
    assert refused.value.status == 400
    assert field in str(refused.value.detail)


def test_device_requests_are_checked(emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorAdminError) as zero:
        emulator.admin("POST", f"/apps/{emulator.app_id}/devices", {"count": 0})
    assert zero.value.status == 422
    with pytest.raises(EmulatorAdminError) as missing:
        emulator.admin("POST", "/apps/999999/devices", {"count": 1})
    assert missing.value.status == 404


async def test_reset_forgets_traffic_and_keeps_credentials(
    hmpush_emulator: EmulatorHandle, sender: Sender
) -> None:
    old = hmpush_emulator.create_devices(1)
    assert answer_of(await sender.post(notification_body(old)))["code"] == "80000000"
    hmpush_emulator.add_fault(status=500, nth=5)

    hmpush_emulator.admin("POST", "/reset")

    assert hmpush_emulator.requests() == []
    assert hmpush_emulator.admin("GET", "/faults") == []
    assert answer_of(await sender.post(notification_body(old)))["code"] == "80300007"
    fresh = hmpush_emulator.create_devices(1)
    assert answer_of(await sender.post(notification_body(fresh)))["code"] == "80000000"


async def test_requests_list_is_newest_first_and_per_project(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    tokens = emulator.create_devices(1)
    sent = [
        answer_of(await any_sender.post(notification_body(tokens, biTag=f"b{n}")))["requestId"]
        for n in range(3)
    ]
    listed = emulator.requests()
    assert [entry["requestId"] for entry in listed] == sent[::-1]
    assert [entry["biTag"] for entry in listed] == ["b2", "b1", "b0"]
    assert {entry["projectId"] for entry in listed} == {emulator.project_id}
    limited = emulator.admin("GET", f"/requests?project_id={emulator.project_id}&limit=2")
    assert [entry["requestId"] for entry in limited] == sent[:0:-1]
    with pytest.raises(EmulatorAdminError) as refused:
        emulator.admin("GET", "/requests?limit=0")
    assert refused.value.status == 422


# --- the data directory and the CLI -------------------------------------------------------


@pytest.fixture(scope="module")
def data_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path_factory.mktemp("emulator-data")) as server:
        yield server


def test_first_start_creates_default_project_app_and_key_file(
    data_server: EmulatorServer,
) -> None:
    key_file = data_server.data_dir / "service-account.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    account = ServiceAccount.from_file(key_file)
    defaults = json.loads((data_server.data_dir / "defaults.json").read_text())
    assert defaults["project_id"] == account.project_id
    log = data_server.log_tail()
    assert str(key_file) in log
    assert data_server.base_url in log
    assert f"{account.project_id} (created)" in log
    answer = httpx2.get(f"{data_server.base_url}/admin/defaults").json()
    assert answer == {"project_id": account.project_id, "app_id": defaults["app_id"]}


def test_devices_command_prints_tokens_that_receive_pushes(data_server: EmulatorServer) -> None:
    result = CliRunner().invoke(
        cli_app, ["emulator", "devices", "--count", "3", "--url", data_server.base_url]
    )
    assert result.exit_code == 0, result.output
    tokens = result.output.split()
    assert len(tokens) == 3 and all(is_plausible_token(token) for token in tokens)

    account = ServiceAccount.from_file(data_server.data_dir / "service-account.json")
    from hmpush.auth import JwtSigner

    response = httpx2.post(
        f"{data_server.base_url}/v3/{account.project_id}/messages:send",
        json=notification_body(tokens),
        headers={"Authorization": f"Bearer {JwtSigner(account).token()}", "push-type": "0"},
    )
    assert answer_of(response)["code"] == "80000000"
    inbox = httpx2.get(f"{data_server.base_url}/admin/devices/{tokens[0]}/inbox").json()
    assert len(inbox) == 1


def test_devices_command_without_a_server_exits_4(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(
        cli_app, ["emulator", "devices", "--url", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == EXIT_TRANSPORT
    assert "cannot reach" in result.output


def test_state_survives_a_restart_in_the_same_data_directory(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path) as first:
        result = CliRunner().invoke(
            cli_app, ["emulator", "devices", "--count", "1", "--url", first.base_url]
        )
        [token] = result.output.split()
    key_before = (tmp_path / "service-account.json").read_text()
    with EmulatorServer(tmp_path) as second:
        assert "(found)" in second.log_tail()
        inbox = httpx2.get(f"{second.base_url}/admin/devices/{token}/inbox")
        assert inbox.status_code == 200
    assert (tmp_path / "service-account.json").read_text() == key_before


def test_serving_on_a_busy_port_fails_with_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli_app, ["emulator", "--port", str(port), "--data", str(tmp_path / "data")]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


async def test_reset_keeps_configuration() -> None:
    from hmpush.emulator import EmulatorConfig
    from hmpush.testing import in_process_emulator

    with in_process_emulator(EmulatorConfig(test_requests_per_day=1)) as handle:
        sender = Sender(handle)
        handle.admin("POST", "/reset")
        [token] = handle.create_devices(1)
        test_body = notification_body([token], testMessage=True)
        for _ in range(2):
            assert answer_of(await sender.post(test_body))["code"] == "80000000"
        assert len(handle.inbox(token)) == 1  # the configured daily quota survived the reset


def test_devices_of_an_app_can_be_listed(emulator: EmulatorHandle) -> None:
    tokens = emulator.create_devices(3)
    other_app = emulator.create_app()
    emulator.create_devices(1, app_id=other_app)
    listed = emulator.admin("GET", f"/apps/{emulator.app_id}/devices")
    assert listed["tokens"] == tokens
    assert {device["app_id"] for device in listed["devices"]} == {emulator.app_id}
    assert emulator.admin("GET", f"/apps/{emulator.app_id}/devices?limit=2")["tokens"] == tokens[:2]


@pytest.mark.parametrize("problem", ["a file", "not a database"])
def test_unusable_data_directory_fails_with_one_clear_line(tmp_path: Path, problem: str) -> None:
    data = tmp_path / "data"
    if problem == "a file":
        data.write_text("not a directory")
    else:
        data.mkdir()
        (data / "emulator.sqlite3").write_text("garbage, not SQLite")
    result = CliRunner().invoke(cli_app, ["emulator", "--port", "0", "--data", str(data)])
    assert result.exit_code == 1
    assert f"cannot use data directory {data}" in result.output
    assert "Traceback" not in result.output


async def test_metrics_count_answers_and_token_outcomes(
    emulator: EmulatorHandle, any_sender: Sender
) -> None:
    [token] = emulator.create_devices(1)
    await any_sender.post(notification_body([token, "bad!"]))
    await any_sender.post(notification_body([token]), push_type=None)
    async with httpx2.AsyncClient(transport=emulator.transport) as client:
        text = (await client.get(f"{emulator.base_url}/metrics")).text
    lines = set(text.splitlines())
    assert any(
        line.startswith('hmpush_emulator_send_answers_total{code="80100000"} ') for line in lines
    )
    assert any(
        line.startswith('hmpush_emulator_send_answers_total{code="80100001"} ') for line in lines
    )
    assert any(
        line.startswith('hmpush_emulator_tokens_total{outcome="tokenFormatError"} ')
        for line in lines
    )


def test_reset_keeps_every_setting_and_forgets_time_and_traffic(
    hmpush_emulator: EmulatorHandle,
) -> None:
    handle = hmpush_emulator
    assert handle.emulator is not None
    config = handle.add_receipt_config("http://127.0.0.1:9/receipts", receipt_id="kept")
    app_path, project_path = f"/apps/{handle.app_id}/delivery", f"/projects/{handle.project_id}"
    handle.admin("PATCH", app_path, {"released": True, "marketing_daily_limit": 5})
    handle.admin("PATCH", f"{project_path}/delivery", {"test_message_daily_quota": 7})
    handle.admin("PATCH", "/receipts/settings", {"max_attempts": 3})
    handle.advance_clock(86_400_000)
    handle.create_devices(2)

    handle.admin("POST", "/reset")

    assert handle.admin("GET", f"{project_path}/receipt-configs") == [config]
    assert handle.admin("GET", app_path)["marketing_daily_limit"] == 5
    assert handle.admin("GET", f"{project_path}/delivery")["test_message_daily_quota"] == 7
    assert handle.admin("GET", "/receipts/settings")["max_attempts"] == 3
    assert handle.admin("GET", "/delivery/clock")["offset_ms"] == 0  # time starts again
    assert handle.admin("GET", f"/apps/{handle.app_id}/devices")["tokens"] == []
    # Every table is either configuration (kept) or traffic (emptied): a new table must choose.
    with handle.emulator.store.read() as conn:
        filled = {
            table
            for (table,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None
        }
    assert filled == {
        "projects",
        "service_account_keys",
        "apps",
        "app_delivery_settings",
        "project_delivery_settings",
        "receipt_configs",
        "receipt_dispatch_settings",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("GET", "/apps/99999999999999999999", None, "app_id"),
        ("GET", "/apps/99999999999999999999/delivery", None, "app_id"),
        ("POST", "/apps/99999999999999999999/devices", {"count": 1}, "app_id"),
        ("PATCH", "/apps/{app_id}/delivery", {"marketing_daily_limit": 2**63}, "marketing"),
        ("PATCH", "/projects/{project_id}/delivery", {"test_message_daily_quota": 2**63}, "test"),
        ("PATCH", "/receipts/settings", {"base_delay_ms": 2**63}, "base_delay_ms"),
        ("PATCH", "/devices/{token}/state", {"daily_cap": 2**63}, "daily_cap"),
        ("POST", "/delivery/clock", {"advance_ms": 2**62}, "advance_ms"),
        (
            "POST",
            "/projects/{project_id}/receipt-configs",
            {"url": "http://a", "app_id": 2**63},
            "app_id",
        ),
    ],
)
def test_numbers_beyond_what_is_stored_are_refused_naming_the_field(
    hmpush_emulator: EmulatorHandle, method: str, path: str, body: object, named: str
) -> None:
    [token] = hmpush_emulator.create_devices(1)
    path = path.format(
        app_id=hmpush_emulator.app_id, project_id=hmpush_emulator.project_id, token=token
    )
    with pytest.raises(EmulatorAdminError) as refused:
        hmpush_emulator.admin(method, path, body)
    assert refused.value.status == 422
    assert named in str(refused.value.detail)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "-1"], "--port"),
        (["--host", "no-such-host.invalid", "--port", "0"], "cannot listen on no-such-host"),
    ],
)
def test_an_unusable_address_fails_with_one_clear_line(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    result = CliRunner().invoke(cli_app, ["emulator", *arguments, "--data", str(tmp_path / "d")])
    assert result.exit_code != 0
    assert expected in result.output
    assert "Traceback" not in result.output and "Unknown error" not in result.output
