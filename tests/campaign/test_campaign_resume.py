"""Resuming a campaign: lost answers settled by policy, torn result files, a real `kill -9`."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from campaign_helpers import notification_message, outcomes, summary, write_lines

from hmpush.auth import write_service_account
from hmpush.client import AsyncPushClient, RetryPolicy
from hmpush.fanout import (
    NOT_RECEIVED,
    Campaign,
    EmulatorRequestLog,
    InFlightBatch,
    InFlightPolicy,
    batch_tag,
)
from hmpush.messages import PushOptions, prepare
from hmpush.testing import EmulatorHandle

IN_FLIGHT = 1


def _client(emulator: EmulatorHandle) -> AsyncPushClient:
    return AsyncPushClient(
        emulator.service_account,
        endpoint=emulator.base_url,
        transport=emulator.transport,
        retry=Campaign.client_retry_policy(),
    )


def _log(emulator: EmulatorHandle) -> EmulatorRequestLog:
    # No latency faults here: the server records a request within milliseconds.
    return EmulatorRequestLog(
        emulator.base_url, emulator.project_id, transport=emulator.transport, handling_seconds=1.0
    )


def _forget_last_batch(out: Path) -> int:
    """Make the state look as if the process died after the server accepted the last batch
    (and its lines reached the file) but before the DONE commit: the batch is IN_FLIGHT and
    the recorded file length stops before its lines."""
    lines = (out / "outcomes.jsonl").read_bytes().splitlines(keepends=True)
    last_batch = orjson.loads(lines[-1])["batch"]
    kept = sum(len(line) for line in lines if orjson.loads(line)["batch"] != last_batch)
    with sqlite3.connect(out / "campaign.sqlite") as db:
        db.execute("UPDATE batches SET state = ? WHERE id = ?", (IN_FLIGHT, last_batch))
        db.execute("UPDATE campaign SET outcomes_bytes = ?", (kept,))
    return int(last_batch)


@pytest.mark.anyio
@pytest.mark.parametrize("policy", ["emulator", "report", "resend"])
async def test_answer_lost_after_the_server_accepted_is_settled_by_the_policy(
    hmpush_emulator: EmulatorHandle, tmp_path: Path, policy: str
) -> None:
    tokens = hmpush_emulator.create_devices(2500)
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        await Campaign(client, notification_message(), tokens_file, out).run()
        lost = _forget_last_batch(out)
        in_flight: InFlightPolicy = _log(hmpush_emulator) if policy == "emulator" else policy  # type: ignore[assignment]
        await Campaign(client, notification_message(), tokens_file, out, in_flight=in_flight).run()

    requests = hmpush_emulator.requests()
    lines = outcomes(out)
    data = summary(out)
    lost_tokens = [line["token"] for line in lines if line["batch"] == lost]
    if policy == "emulator":
        # The server's log says the batch was accepted: recorded, never sent again.
        assert len(requests) == 3
        assert sorted(line["token"] for line in lines) == sorted(tokens)
        assert data["complete"] and data["outcomes"]["accepted"] == 2500
        assert {r["requestId"] for r in requests} == set(data["requestIds"])
    elif policy == "report":
        # Not sent again, not lost: listed as unknown.
        assert len(requests) == 3
        unknown = (out / "unknown-tokens.txt").read_text().split()
        assert len(unknown) in (500, 1000) and not set(unknown) & {line["token"] for line in lines}
        assert sorted([*unknown, *(line["token"] for line in lines)]) == sorted(tokens)
        assert data["outcomes"]["unknown"] == len(unknown) and not data["complete"]
    else:
        # At-least-once: sent again, so its devices receive the message twice.
        assert len(requests) == 4
        assert sorted(line["token"] for line in lines) == sorted(tokens)
        assert len(hmpush_emulator.inbox(lost_tokens[0])) == 2


@pytest.mark.anyio
async def test_result_files_are_cut_back_or_rebuilt_to_match_the_state(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    tokens = hmpush_emulator.create_devices(1500)
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        await Campaign(client, notification_message(), tokens_file, out).run()
        expected = sorted(outcomes(out), key=lambda line: line["token"])
        with open(out / "outcomes.jsonl", "ab") as torn:
            torn.write(b'{"token":"half a li')
        await Campaign(client, notification_message(), tokens_file, out).run()
        assert sorted(outcomes(out), key=lambda line: line["token"]) == expected
        (out / "outcomes.jsonl").write_bytes(b"")  # shorter than recorded: rebuilt
        await Campaign(client, notification_message(), tokens_file, out).run()
        assert sorted(outcomes(out), key=lambda line: line["token"]) == expected
    assert len(hmpush_emulator.requests()) == 2  # resuming a finished campaign sends nothing


def _campaign_command(server: EmulatorHandle, key: Path, tokens: Path, out: Path) -> list[str]:
    program = "import sys; from hmpush.cli import main; sys.argv[0] = 'hmpush'; main()"
    return [
        sys.executable, "-c", program, "campaign",
        "--key", str(key), "--endpoint", server.base_url, "--message", str(key.parent / "m.json"),
        "--tokens", str(tokens), "--out", str(out), "--rate", "100000", "--concurrency", "2",
        "--in-flight", "emulator", "--no-progress",
    ]  # fmt: skip


def _kill_when_some_batches_are_done(command: list[str], out: Path, delay: float) -> int:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    results = out / "outcomes.jsonl"
    before = results.stat().st_size if results.exists() else 0
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and results.stat().st_size > before:
            break  # this run has recorded at least one batch
        time.sleep(0.01)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    return process.returncode


@pytest.mark.slow
def test_kill_9_mid_campaign_then_rerun_delivers_every_token_exactly_once(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    server = hmpush_emulator_server
    key = tmp_path / "key.json"
    write_service_account(server.service_account, key)
    message = {"pushType": 0, "payload": notification_message().payload.model_dump(by_alias=True)}
    (tmp_path / "m.json").write_bytes(orjson.dumps(message))
    tokens = server.create_devices(12_000)
    # Every request spends 300 ms on the wire before the server handles it, so a kill almost
    # always finds batches in flight whose fate the next run must learn from the server.
    server.add_fault(latency_ms=300)
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    command = _campaign_command(server, key, tokens_file, out)
    chance = random.Random(20261129)

    killed = [_kill_when_some_batches_are_done(command, out, chance.uniform(0.0, 0.4))]
    killed.append(_kill_when_some_batches_are_done(command, out, chance.uniform(0.0, 0.5)))
    finished = subprocess.run(command, capture_output=True, timeout=120)

    assert killed == [-signal.SIGKILL] * 2
    assert finished.returncode == 0, finished.stderr.decode()
    requests = server.requests()
    # Each batch has its own biTag: one accepted request per batch, 12 x 1000 tokens in all.
    assert len(requests) == 12
    # ... and the tags are exactly those of batches 0 to 11, each accepted once.
    assert sorted(request["biTag"][-10:] for request in requests) == [
        f"{b:010d}" for b in range(12)
    ]
    assert sum(request["success"] for request in requests) == 12_000
    lines = outcomes(out)
    assert sorted(line["token"] for line in lines) == sorted(tokens)
    assert {line["requestId"] for line in lines} == {request["requestId"] for request in requests}
    for token in tokens[::250]:
        assert len(server.inbox(token)) == 1
    data = summary(out)
    assert data["complete"] and data["outcomes"]["accepted"] == 12_000
    assert data["durations"]["runs"] == 3
    lost = data["lostAnswers"]
    assert lost["reportedUnknown"] == 0
    assert lost["settledFromServerRecord"] + lost["sentAgain"] >= 1


@pytest.mark.slow
def test_kills_at_random_moments_from_start_never_lose_or_repeat_a_token(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    server = hmpush_emulator_server
    key = tmp_path / "key.json"
    write_service_account(server.service_account, key)
    message = {"pushType": 0, "payload": notification_message().payload.model_dump(by_alias=True)}
    (tmp_path / "m.json").write_bytes(orjson.dumps(message))
    tokens = server.create_devices(8_000)
    server.add_fault(latency_ms=150)
    out = tmp_path / "out"
    command = _campaign_command(server, key, write_lines(tmp_path / "tokens.txt", tokens), out)
    chance = random.Random(7)

    for _ in range(6):  # start-up, planning, settling, sending: wherever the kill lands
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(chance.uniform(0.2, 1.6))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finished = subprocess.run(command, capture_output=True, timeout=120)

    assert finished.returncode == 0, finished.stderr.decode()
    requests = server.requests()
    assert len(requests) == 8 and len({request["biTag"] for request in requests}) == 8
    assert sum(request["success"] for request in requests) == 8_000
    assert sorted(line["token"] for line in outcomes(out)) == sorted(tokens)
    assert summary(out)["complete"]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_unreachable_server_stops_the_campaign_and_a_rerun_sends_everything(
    hmpush_emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmpush.errors import TransportError

    monkeypatch.setattr("hmpush.fanout._campaign.MAX_ERROR_RETRIES", 2)
    tokens = hmpush_emulator.create_devices(1500)
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    nowhere = AsyncPushClient(
        hmpush_emulator.service_account,
        endpoint=f"http://127.0.0.1:{_closed_port()}",
        retry=Campaign.client_retry_policy(),
    )
    async with nowhere:
        campaign = Campaign(
            client=nowhere, message=notification_message(), tokens=tokens_file, out_dir=out
        )
        with pytest.raises(TransportError):
            await campaign.run()
    assert campaign.summary is not None
    assert campaign.summary.data["outcomes"] == {
        "accepted": 0, "failed": 0, "unknown": 0, "notSent": 1500,
    }  # fmt: skip
    async with _client(hmpush_emulator) as client:
        await Campaign(client, notification_message(), tokens_file, out).run()
    assert sorted(line["token"] for line in outcomes(out)) == sorted(tokens)
    assert len(hmpush_emulator.requests()) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("policy", ["emulator", "report"])
async def test_connection_dropped_mid_request_is_settled_within_the_same_run(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path, policy: str
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(3000)
    server.add_fault(drop_connection=True, nth=2, times=1)
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    in_flight: InFlightPolicy = _log(server) if policy == "emulator" else "report"  # type: ignore[assignment]
    # A client whose policy resends unanswered requests on its own: the campaign sends with
    # its own policy, so the dropped request is still not sent again behind its back.
    eager = RetryPolicy(retry_unanswered=True, initial_backoff=0.001)
    async with AsyncPushClient(
        server.service_account, endpoint=server.base_url, retry=eager
    ) as client:
        result = await Campaign(
            client, notification_message(), tokens_file, out, concurrency=1, in_flight=in_flight
        ).run()
    data = summary(out)
    if policy == "emulator":
        # The server never handled the dropped request: sent again, every token once.
        assert result.complete and result.accepted == 3000
        assert data["lostAnswers"]["sentAgain"] == 1
        assert sum(r["success"] for r in server.requests()) == 3000
    else:
        assert not result.complete and result.unknown == 1000 and result.accepted == 2000
        assert len((out / "unknown-tokens.txt").read_text().split()) == 1000


async def _until_in_flight(out: Path, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error), sqlite3.connect(out / "campaign.sqlite") as db:
            [(found,)] = db.execute("SELECT count(*) FROM batches WHERE state = ?", (IN_FLIGHT,))
            if found >= count:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} batches never went in flight")


@pytest.mark.anyio
@pytest.mark.parametrize("handling_seconds", [0.0, 3.0])
async def test_the_request_log_waits_for_a_request_the_server_is_still_handling(
    hmpush_emulator_server: EmulatorHandle, handling_seconds: float
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(3)
    server.add_fault(latency_ms=1000, times=1)
    tag = batch_tag("0a1b2c3d4e5f", 7)
    message = notification_message()
    tagged = prepare(message.payload, PushOptions(bi_tag=tag))
    log = EmulatorRequestLog(server.base_url, server.project_id, handling_seconds=handling_seconds)
    async with AsyncPushClient(server.service_account, endpoint=server.base_url) as client:
        sending = asyncio.create_task(client.send_prepared(tagged, tokens))
        await asyncio.sleep(0.2)  # on the wire; the server records it after 1 s
        resolved = await log.resolve([InFlightBatch(7, tag, tokens, int(time.time() * 1000))])
        answer = await sending
    if handling_seconds:
        assert resolved[7] == answer  # found once the server was done with it
    else:
        assert resolved[7] is NOT_RECEIVED  # the race: a resend would deliver it twice


@pytest.mark.slow
@pytest.mark.anyio
async def test_cancelled_with_requests_on_the_wire_then_rerun_at_once_sends_each_token_once(
    hmpush_emulator_server: EmulatorHandle, tmp_path: Path
) -> None:
    server = hmpush_emulator_server
    tokens = server.create_devices(3000)
    server.add_fault(latency_ms=1500, times=2)  # the first two requests are handled late
    tokens_file = write_lines(tmp_path / "tokens.txt", tokens)
    out = tmp_path / "out"
    log = EmulatorRequestLog(server.base_url, server.project_id, handling_seconds=3.0)
    async with AsyncPushClient(server.service_account, endpoint=server.base_url) as client:
        message = notification_message()
        first = asyncio.create_task(
            Campaign(client, message, tokens_file, out, concurrency=2, in_flight=log).run()
        )
        await _until_in_flight(out, 2)
        first.cancel()  # Ctrl-C: the requests are on the wire, the server not done with them
        with pytest.raises(asyncio.CancelledError):
            await first
        assert server.requests() == []
        result = await Campaign(
            client, message, tokens_file, out, concurrency=2, in_flight=log
        ).run()
    # The server either finished the two requests after the first run stopped (recorded, not
    # sent again) or dropped them with the connection (sent again): each token once either way.
    assert result.complete and result.accepted == 3000
    assert sorted(request["success"] for request in server.requests()) == [1000, 1000, 1000]
    lost = summary(out)["lostAnswers"]
    assert lost["settledFromServerRecord"] + lost["sentAgain"] == 2
