"""`Campaign` from code, against the local Push server: results, callbacks, iterator, 503s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign_helpers import (
    notification_message,
    outcomes,
    summary,
    unregistered_tokens,
    write_lines,
)

from hmpush.client import AsyncPushClient
from hmpush.errors import ValidationError
from hmpush.fanout import (
    Campaign,
    CampaignError,
    CampaignOutcome,
    CampaignProgress,
    EmulatorRequestLog,
    batch_tag,
)
from hmpush.messages import PreparedMessage, PushOptions, prepare
from hmpush.testing import EmulatorHandle

pytestmark = pytest.mark.anyio


def _client(emulator: EmulatorHandle) -> AsyncPushClient:
    return AsyncPushClient(
        emulator.service_account,
        endpoint=emulator.base_url,
        transport=emulator.transport,
        retry=Campaign.client_retry_policy(),
    )


async def test_every_token_gets_one_outcome_line_and_the_summary_counts_them(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    good = hmpush_emulator.create_devices(25)
    bad = unregistered_tokens(5)
    tokens_file = write_lines(tmp_path / "tokens.txt", [*good, *bad])
    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        result = await Campaign(client, notification_message(), tokens_file, out).run()

    lines = outcomes(out)
    assert sorted(line["token"] for line in lines) == sorted([*good, *bad])
    assert {line["token"] for line in lines if line["outcome"] == "accepted"} == set(good)
    assert {line["reason"] for line in lines if line["outcome"] == "failed"} == {"tokenFormatError"}
    assert (out / "invalid-tokens.txt").read_text().split() == bad
    data = summary(out)
    assert data["complete"] is True
    assert data["outcomes"] == {"accepted": 25, "failed": 5, "unknown": 0, "notSent": 0}
    assert data["failuresByReason"] == {"tokenFormatError": 5}
    [logged] = hmpush_emulator.requests()
    assert data["requestIds"] == [logged["requestId"]]
    assert (result.accepted, result.failed, result.complete) == (25, 5, True)
    assert all(len(hmpush_emulator.inbox(token)) == 1 for token in good)


async def test_batches_are_at_most_1000_tokens_and_each_carries_its_own_bi_tag(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    good = hmpush_emulator.create_devices(2500)
    tokens_file = write_lines(tmp_path / "tokens.txt", good)
    async with _client(hmpush_emulator) as client:
        await Campaign(client, notification_message(), tokens_file, tmp_path / "out").run()

    logged = hmpush_emulator.requests()
    assert sorted(request["success"] for request in logged) == [500, 1000, 1000]
    tags = sorted(request["biTag"] for request in logged)
    assert len(set(tags)) == 3 and all(tag.startswith("hmpush:") for tag in tags)
    assert [tag[-3:] for tag in tags] == ["000", "001", "002"]


async def test_a_bi_tag_of_the_users_own_is_kept_on_every_batch(
    hmpush_emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = hmpush_emulator.create_devices(1500)
    tokens_file = write_lines(tmp_path / "tokens.txt", good)
    message = notification_message()
    tagged = prepare(message.payload, message.push_options.model_copy(update={"bi_tag": "spring"}))
    resolver = EmulatorRequestLog(
        hmpush_emulator.base_url, hmpush_emulator.project_id, transport=hmpush_emulator.transport
    )
    async with _client(hmpush_emulator) as client:
        await Campaign(client, tagged, tokens_file, tmp_path / "out", in_flight=resolver).run()
    assert [request["biTag"] for request in hmpush_emulator.requests()] == ["spring", "spring"]
    # Said before sending: the resolver has no per-batch tag to look for.
    assert "the in-flight resolver cannot find them" in caplog.text


def _largest_message_that_fits() -> PreparedMessage:
    """A notification whose body (without tokens) is as close to 4096 bytes as the rules allow."""
    fits = notification_message()
    for length in range(3000, 4096, 8):
        try:
            fits = notification_message("x" * length)
        except ValidationError:
            break
    return fits


async def test_a_message_the_batch_tag_would_push_over_the_size_rule_is_sent_untagged(
    hmpush_emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message = _largest_message_that_fits()
    with pytest.raises(ValidationError, match="80300008"):
        prepare(message.payload, PushOptions(bi_tag=batch_tag("0" * 12, 0)))
    good = hmpush_emulator.create_devices(3)
    tokens_file = write_lines(tmp_path / "tokens.txt", good)
    async with _client(hmpush_emulator) as client:
        result = await Campaign(client, message, tokens_file, tmp_path / "out").run()
    assert result.complete and result.accepted == 3
    [logged] = hmpush_emulator.requests()
    assert logged.get("biTag") is None
    assert "without their own biTag" in caplog.text


async def test_callbacks_and_async_iterator_see_every_outcome(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    good = hmpush_emulator.create_devices(30)
    bad = unregistered_tokens(3)
    tokens_file = write_lines(tmp_path / "tokens.txt", [*good, *bad])
    seen: list[CampaignOutcome] = []
    invalid: list[str] = []
    progress: list[CampaignProgress] = []
    async with _client(hmpush_emulator) as client:
        campaign = Campaign(
            client,
            notification_message(),
            tokens_file,
            tmp_path / "first",
            on_outcome=seen.append,
            on_invalid_token=lambda outcome: invalid.append(outcome.token),
            on_progress=progress.append,
        )
        await campaign.run()
        hmpush_emulator.admin("POST", "/reset")
        good = hmpush_emulator.create_devices(30)
        write_lines(tokens_file, [*good, *bad])
        iterated = [
            outcome
            async for outcome in Campaign(
                client, notification_message("Again"), tokens_file, tmp_path / "second"
            ).outcomes()
        ]

    assert len(seen) == 33 and invalid == bad
    assert progress[-1].accepted == 30 and progress[-1].failed == 3 and progress[-1].sent == 33
    assert sorted(outcome.token for outcome in iterated) == sorted([*good, *bad])
    assert {outcome.token for outcome in iterated if outcome.drop_token} == set(bad)


async def test_flow_control_503_lowers_the_rate_and_the_batch_is_sent_again(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    good = hmpush_emulator.create_devices(3000)
    hmpush_emulator.add_fault(status=503, nth=2, times=1)
    tokens_file = write_lines(tmp_path / "tokens.txt", good)
    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        campaign = Campaign(
            client, notification_message(), tokens_file, out, rate=1_000_000, concurrency=1
        )
        await campaign.run()

    assert campaign.limiter.lowest is not None and campaign.limiter.lowest < 1_000_000
    data = summary(out)
    assert data["flowControlResponses"] == 1
    assert data["outcomes"]["accepted"] == 3000 and data["complete"] is True
    assert sorted(request["success"] for request in hmpush_emulator.requests()) == [1000] * 3
    assert all(len(hmpush_emulator.inbox(token)) == 1 for token in good[::97])


async def test_a_refused_plan_is_redone_and_a_changed_list_is_refused_on_resume(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    good = hmpush_emulator.create_devices(1500)
    tokens_file = write_lines(tmp_path / "tokens.txt", [*good[:700], "not a token", *good[700:]])
    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        with pytest.raises(CampaignError, match="line 701: 'not a token'"):
            await Campaign(client, notification_message(), tokens_file, out, strict=True).run()
        assert hmpush_emulator.requests() == []
        await Campaign(client, notification_message(), tokens_file, out).run()
        assert sorted(line["token"] for line in outcomes(out)) == sorted(good)
        assert summary(out)["input"]["rejectedLines"] == 1

        write_lines(tokens_file, [*good, "MAMzLgEAAAAoneMoreTokenAddedLater"])
        with pytest.raises(CampaignError, match="changed since this campaign was planned"):
            await Campaign(client, notification_message(), tokens_file, out).run()
    assert len(hmpush_emulator.requests()) == 2


async def test_a_second_campaign_in_a_busy_output_directory_is_refused(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    tokens_file = write_lines(tmp_path / "tokens.txt", hmpush_emulator.create_devices(3))
    with open(out / ".lock", "wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running campaign holds it
        async with _client(hmpush_emulator) as client:
            with pytest.raises(CampaignError, match="another hmpush campaign is running"):
                await Campaign(client, notification_message(), tokens_file, out).run()
    assert hmpush_emulator.requests() == []


async def test_cancelling_during_planning_stops_the_plan_and_the_next_run_replans(
    hmpush_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import asyncio
    import sqlite3
    import time

    def slow_list() -> Iterator[str]:
        for index in range(400_000):
            if index % 20_000 == 0:
                time.sleep(0.05)
            yield f"MAMzLgEAAAAslowListToken{index:08d}"

    out = tmp_path / "out"
    async with _client(hmpush_emulator) as client:
        running = asyncio.create_task(
            Campaign(client, notification_message(), slow_list(), out).run()
        )
        await asyncio.sleep(0.2)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        with sqlite3.connect(out / "campaign.sqlite") as db:
            assert db.execute("SELECT planned FROM campaign").fetchone() == (0,)
        assert hmpush_emulator.requests() == []

        good = hmpush_emulator.create_devices(3)
        result = await Campaign(client, notification_message(), good, out).run()
    assert result.complete and result.accepted == 3
    assert not (out / ".planning").exists()
