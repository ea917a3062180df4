"""Properties of the live-view rules over random message sequences (spec §8.1, §8.16, §11.3)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hmpush.codes import ReceiptResult as R
from hmpush.emulator.device_rules import LiveViewState, apply_live_view

MINUTE = 60_000

messages = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 1, 1, 1, 1, 1, 2]),  # operation, updates most often
        st.one_of(st.none(), st.none(), st.none(), st.integers(0, 40)),  # version
        st.sampled_from([True, True, True, False]),  # with status
        st.one_of(st.integers(0, 2_000), st.integers(0, 3 * MINUTE)),  # pause before it
    ),
    max_size=120,
)


def _payload(operation: int, version: int | None, with_status: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {"operation": operation, "event": "TAXI", "activityId": 1}
    if version is not None:
        payload["version"] = version
    if with_status:
        payload["status"] = "CALLING"
    return payload


@settings(max_examples=200, deadline=None)
@given(messages, st.booleans())
def test_delivered_updates_raise_the_version_and_respect_the_rate_limit(
    sequence: list[tuple[int, int | None, bool, int]], test_messages: bool
) -> None:
    view: LiveViewState | None = None
    now = 0
    delivered_updates: list[int] = []
    for operation, version, with_status, pause in [(0, None, True, 0), *sequence]:
        now += pause
        before = view
        result, view = apply_live_view(
            view, _payload(operation, version, with_status), now, test_message=test_messages
        )
        if result != R.DELIVERED:  # a refusal changes nothing that is shown
            if before is not None and view is not None:
                assert (view.phase, view.version) == (before.phase, before.version)
            continue
        assert view is not None
        if operation == 1:
            delivered_updates.append(now)
            assert before is not None and before.is_showing(now)
            assert with_status  # REST-created views need a status on update (268)
            if version is not None:
                assert before.version < version == view.version
        if operation == 2:
            assert view.phase == "ended"
    if not test_messages:  # §8.16: TAXI at most 30 updates in any 5 minutes
        for start in delivered_updates:
            assert sum(1 for t in delivered_updates if start <= t < start + 5 * MINUTE) <= 30


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([1, 2]), st.integers(0, 48 * 60 * MINUTE))
def test_touching_an_unknown_view_blocks_it_for_exactly_24_hours(
    operation: int, later: int
) -> None:
    result, blocked = apply_live_view(None, _payload(operation, 1, True), 0, test_message=False)
    assert result == R.LIVE_VIEW_NOT_EXIST
    again, _ = apply_live_view(blocked, _payload(0, 1, True), later, test_message=False)
    expected = R.LIVE_VIEW_NOT_EXIST if later < 24 * 60 * MINUTE else R.DELIVERED
    assert again == expected


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["TAXI", "DELIVERY"]), st.lists(st.integers(0, 20_000), max_size=250))
def test_updates_are_refused_exactly_when_a_window_is_full(event: str, pauses: list[int]) -> None:
    per_five_minutes, per_hour = (30, 180) if event == "TAXI" else (10, 60)
    create = {**_payload(0, None, True), "event": event}
    update = {**_payload(1, None, True), "event": event}
    result, view = apply_live_view(None, create, 0, test_message=False)
    assert result == R.DELIVERED
    now = 0
    delivered: list[int] = []
    for pause in pauses:
        now += pause
        result, view = apply_live_view(view, update, now, test_message=False)
        recent_five = sum(1 for t in delivered if now - t < 5 * MINUTE)
        recent_hour = sum(1 for t in delivered if now - t < 60 * MINUTE)
        room = recent_five < per_five_minutes and recent_hour < per_hour
        assert result == (R.DELIVERED if room else R.SCENARIO_FREQUENCY_LIMIT)
        if result == R.DELIVERED:
            delivered.append(now)
