"""`hmpush receipts serve | summary | dead-tokens`, the server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import httpx2
import pytest
from receipts_support import batch, receipts_server, status
from typer.testing import CliRunner

from hmpush.cli import app
from hmpush.cli._common import EXIT_REJECTED, EXIT_USAGE
from hmpush.receipts import CALLBACK_HEADER, ReceiptStore, sign_callback
from hmpush.testing import self_signed_certificate

USER = "receipt-user"
SECRET = "c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5"

runner = CliRunner()


def test_serve_verifies_and_stores_over_real_http(tmp_path: Path) -> None:
    database = tmp_path / "receipts.db"
    arguments = ["--user-name", USER, "--secret-env", "TEST_RECEIPT_SECRET"]
    with receipts_server(database, arguments, {"TEST_RECEIPT_SECRET": SECRET}) as receiver:
        good = batch(status("tok-good", 0, bi_tag="sale"))
        header = sign_callback(USER, SECRET, secret_format="base64")
        with httpx2.Client(base_url=receiver.url) as client:
            accepted = client.post("/", content=good.to_json(), headers={CALLBACK_HEADER: header})
            replayed = client.post(
                "/",
                content=batch(status("tok-replayed")).to_json(),
                headers={CALLBACK_HEADER: header},
            )
            unsigned = client.post("/", content=batch(status("tok-unsigned")).to_json())
            forged_header = sign_callback(USER, "Zm9yZ2Vk", secret_format="base64")
            forged = client.post(
                "/",
                content=batch(status("tok-forged")).to_json(),
                headers={CALLBACK_HEADER: forged_header},
            )
            stale_header = sign_callback(
                USER, SECRET, secret_format="base64", timestamp_ms=int(time.time() * 1000) - 600_000
            )
            stale = client.post(
                "/",
                content=batch(status("tok-stale")).to_json(),
                headers={CALLBACK_HEADER: stale_header},
            )
            bad_header = client.post(
                "/",
                content=batch(status("tok-bad-header")).to_json(),
                headers={CALLBACK_HEADER: "timestamp=1;nonce=x"},
            )
            malformed = client.post(
                "/",
                content=b'{"statuses": [{}]}',
                headers={CALLBACK_HEADER: sign_callback(USER, SECRET, secret_format="base64")},
            )
            not_json = client.post(
                "/",
                content=b"statuses",
                headers={CALLBACK_HEADER: sign_callback(USER, SECRET, secret_format="base64")},
            )
    assert (accepted.status_code, accepted.json()) == (200, {"code": "0", "message": "success"})
    refusals = {
        "replayed": replayed,
        "unsigned": unsigned,
        "forged": forged,
        "stale": stale,
        "bad_header": bad_header,
    }
    assert {name: r.status_code for name, r in refusals.items()} == dict.fromkeys(refusals, 401)
    assert stale.json()["code"] == "stale_timestamp"
    assert (malformed.status_code, not_json.status_code) == (400, 400)
    assert "statuses" in malformed.text
    with ReceiptStore(database) as store:
        assert [receipt.token for receipt in store.receipts()] == ["tok-good"]
    assert SECRET not in receiver.log.read_text()


def test_serve_over_https(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    arguments = ["--ssl-cert", str(cert), "--ssl-key", str(key)]
    with receipts_server(tmp_path / "receipts.db", arguments) as receiver:
        url = receiver.url.replace("http://", "https://")
        trusting = ssl.create_default_context(cafile=str(cert))
        response = httpx2.post(url, content=batch(status("tok-tls")).to_json(), verify=trusting)
    assert response.json() == {"code": "0", "message": "success"}
    with ReceiptStore(tmp_path / "receipts.db") as store:
        assert [receipt.token for receipt in store.receipts()] == ["tok-tls"]


def test_serve_reads_an_old_style_secret_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("plain old secret\n")
    arguments = ["--user-name", USER, "--secret-file", str(secret_file), "--secret-format", "utf8"]
    with receipts_server(tmp_path / "receipts.db", arguments) as receiver:
        header = sign_callback(USER, "plain old secret", secret_format="utf8")
        response = httpx2.post(
            receiver.url, content=batch(status("tok")).to_json(), headers={CALLBACK_HEADER: header}
        )
    assert response.status_code == 200
    assert "plain old secret" not in receiver.log.read_text()


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (["--user-name", USER], {}, "--user-name together with"),
        (["--secret-env", "TEST_RECEIPT_SECRET"], {"TEST_RECEIPT_SECRET": SECRET}, "--user-name"),
        (["--user-name", USER, "--secret-env", "TEST_UNSET_SECRET"], {}, "TEST_UNSET_SECRET"),
        (
            ["--user-name", USER, "--secret-env", "TEST_RECEIPT_SECRET"],
            {"TEST_RECEIPT_SECRET": "not base64 at all!"},
            "not valid Base64",
        ),
        (
            ["--user-name", USER, "--secret-env", "S", "--secret-format", "hex"],
            {"S": SECRET},
            "'base64' or 'utf8'",
        ),
        (["--user-name", USER, "--secret-file", "/nonexistent/secret"], {}, "cannot read"),
        (["--db", "/nonexistent/folder/receipts.db"], {}, "does not exist"),
        (["--path", "receipts"], {}, "must start with '/'"),
        (["--ssl-cert", "cert.pem"], {}, "--ssl-cert and --ssl-key together"),
        (["--ssl-cert", "/nonexistent.pem", "--ssl-key", "/nonexistent.key"], {}, "no file"),
    ],
)
def test_serve_refuses_bad_secret_configuration_without_printing_it(
    tmp_path: Path, arguments: list[str], env: dict[str, str], message: str
) -> None:
    result = runner.invoke(
        app, ["receipts", "serve", "--db", str(tmp_path / "r.db"), *arguments], env=env
    )
    assert result.exit_code == EXIT_USAGE
    assert message in result.output
    assert "not base64 at all!" not in result.output
    assert not (tmp_path / "r.db").exists()


@pytest.fixture
def filled_db(tmp_path: Path) -> Path:
    database = tmp_path / "receipts.db"
    with ReceiptStore(database) as store:
        store.save_batch(
            batch(
                status("tok-1", 0, request_id="req-A", bi_tag="spring"),
                status("tok-2", 0, request_id="req-A", bi_tag="spring"),
                status("tok-3", 2, request_id="req-A", bi_tag="spring"),
                status("tok-4", 10, request_id="req-B"),
                status("tok-5", 0, request_id="req-B", timestamp=1),
                status("tok-5", 5, request_id="req-C", timestamp=2),
            )
        )
    return database


def test_summary_prints_counts_by_request_bi_tag_and_result(filled_db: Path) -> None:
    result = runner.invoke(
        app, ["receipts", "summary", "--db", str(filled_db)], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "req-" in line]
    assert len(lines) == 5
    assert any(
        "req-A" in line and "spring" in line and "delivered" in line and " 2 " in line
        for line in lines
    )
    assert any("req-A" in line and "app uninstalled" in line and " 1 " in line for line in lines)


def test_summary_filters(filled_db: Path) -> None:
    by_request = runner.invoke(
        app, ["receipts", "summary", "--db", str(filled_db), "--request-id", "req-B"]
    )
    assert "req-B" in by_request.output and "req-A" not in by_request.output
    by_tag = runner.invoke(app, ["receipts", "summary", "--db", str(filled_db), "--bi-tag", "none"])
    assert by_tag.exit_code == 0 and "no receipts match" in by_tag.output


def test_dead_tokens_prints_one_per_line(filled_db: Path) -> None:
    result = runner.invoke(app, ["receipts", "dead-tokens", "--db", str(filled_db)])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["tok-3", "tok-4", "tok-5"]


@pytest.mark.parametrize("command", ["summary", "dead-tokens"])
def test_missing_store_is_a_clear_error(tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, ["receipts", command, "--db", str(tmp_path / "absent.db")])
    assert result.exit_code == EXIT_REJECTED
    assert "no receipt store at" in result.output
    assert not (tmp_path / "absent.db").exists()


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello, this is not SQLite\n" * 100)
    result = runner.invoke(app, ["receipts", "dead-tokens", "--db", str(not_a_database)])
    assert result.exit_code == EXIT_REJECTED
    assert "cannot open the receipt store" in result.output


def test_serve_on_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(
            app, ["receipts", "serve", "--port", str(port), "--db", str(tmp_path / "r.db")]
        )
    assert result.exit_code == EXIT_REJECTED
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
