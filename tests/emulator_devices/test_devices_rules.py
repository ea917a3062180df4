"""Device semantics behind receipt results (spec §3.2, §5, §6, §8, §11.3, §13) on a real store."""

from __future__ import annotations

import pytest
from devices_support import (
    DAY,
    HOUR,
    MINUTE,
    T0,
    Bench,
    background,
    notification,
    taxi,
    widget,
)

from hmpush.codes import ReceiptResult as R


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_a_default_device_receives_and_reports_delivered(bench: Bench) -> None:
    (token,) = bench.devices()
    request_id = bench.send(0, notification(), [token], biTag="launch")
    assert bench.result(request_id, token) == R.DELIVERED
    (entry,) = bench.inbox(token)
    assert entry["requestId"] == request_id
    assert entry["biTag"] == "launch"
    assert entry["payload"]["notification"]["title"] == "hello"
    assert entry["receivedAtMs"] == T0


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"installed": False}, R.APP_UNINSTALLED),
        ({"token_valid": False}, R.TOKEN_MISMATCH),
        ({"active": False}, R.INACTIVE_DEVICE),
        ({"notifications_enabled": False}, R.NOTIFICATIONS_DISABLED),
    ],
)
def test_standing_state_decides_the_result_and_nothing_arrives(
    bench: Bench, state: dict[str, bool], expected: int
) -> None:
    ok, broken = bench.devices(2)
    bench.patch(broken, **state)
    request_id = bench.send(0, notification(), [ok, broken])
    assert bench.results(request_id) == {ok: R.DELIVERED, broken: expected}
    assert bench.inbox(broken) == []
    assert len(bench.inbox(ok)) == 1


def test_notifications_off_still_lets_background_messages_through(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, notifications_enabled=False)
    request_id = bench.send(6, background(), [token])
    assert bench.result(request_id, token) == R.DELIVERED
    assert [entry["pushType"] for entry in bench.inbox(token)] == [6]


def test_profile_id_must_be_bound_on_the_device(bench: Bench) -> None:
    bound, unbound = bench.devices(2)
    bench.patch(bound, bound_profile_ids=["alice"])
    request_id = bench.send(0, notification(profile_id="alice"), [bound, unbound])
    assert bench.results(request_id) == {bound: R.DELIVERED, unbound: R.PROFILE_NOT_BOUND}


def test_marketing_quota_is_two_per_device_per_day_then_256(bench: Bench) -> None:
    (token,) = bench.devices()
    first = [bench.send(0, notification("MARKETING"), [token], T0 + i) for i in range(3)]
    assert [bench.result(r, token) for r in first] == [0, 0, R.SCENARIO_FREQUENCY_LIMIT]
    other_category = bench.send(0, notification("IM"), [token], T0 + 10)
    assert bench.result(other_category, token) == R.DELIVERED
    next_day = bench.send(0, notification("MARKETING"), [token], T0 + DAY)
    assert bench.result(next_day, token) == R.DELIVERED
    assert len(bench.inbox(token)) == 4


def test_marketing_limit_is_set_per_app(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.execute(
        "INSERT INTO app_delivery_settings VALUES (?, 1, 5)", bench.app.app_id
    )  # a licensed news app
    sent = [bench.send(0, notification("MARKETING"), [token], T0 + i) for i in range(6)]
    assert [bench.result(r, token) for r in sent] == [0] * 5 + [R.SCENARIO_FREQUENCY_LIMIT]


def test_test_messages_bypass_scenario_quotas_but_spend_the_project_quota(bench: Bench) -> None:
    (token,) = bench.devices()
    sent = [
        bench.send(0, notification("MARKETING"), [token], T0 + i, testMessage=True)
        for i in range(4)
    ]
    assert [bench.result(r, token) for r in sent] == [0, 0, 0, 0]
    bench.execute("INSERT INTO project_delivery_settings VALUES (?, 5)", bench.project_id)
    fifth = bench.send(0, notification(), [token], T0 + 5, testMessage=True)
    sixth = bench.send(0, notification(), [token], T0 + 6, testMessage=True)
    assert bench.result(fifth, token) == R.DELIVERED
    assert bench.result(sixth, token) == R.SCENARIO_FREQUENCY_LIMIT
    assert bench.result(bench.send(0, notification(), [token], T0 + 7), token) == 0


def test_device_frequency_control_caps_notifications_per_day(bench: Bench) -> None:
    capped, free = bench.devices(2)
    bench.patch(capped, daily_cap=2)
    sent = [bench.send(0, notification(), [capped, free], T0 + i) for i in range(3)]
    assert [bench.results(r) for r in sent][-1] == {
        capped: R.DEVICE_FREQUENCY_CONTROL,
        free: R.DELIVERED,
    }
    assert len(bench.inbox(capped)) == 2
    assert bench.result(bench.send(0, notification(), [capped], T0 + DAY), capped) == 0


# --- offline devices -----------------------------------------------------------------------


def test_offline_device_holds_messages_until_it_comes_online(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, online=False)
    request_id = bench.send(0, notification(), [token])
    assert bench.result(request_id, token) is None
    assert bench.inbox(token) == []
    assert bench.come_online(token, T0 + HOUR) == {"delivered": 1, "not_delivered": 0}
    assert bench.result(request_id, token) == R.DELIVERED
    assert [entry["receivedAtMs"] for entry in bench.inbox(token)] == [T0 + HOUR]


def test_held_messages_expire_with_their_ttl(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, online=False)
    short = bench.send(0, notification(), [token], ttl=60)
    long = bench.send(0, notification(), [token], ttl=3600)
    assert bench.expire(T0 + 61_000) == 1
    assert bench.result(short, token) == R.OFFLINE_MESSAGE_CONTROL
    assert bench.result(long, token) is None
    assert bench.come_online(token, T0 + 2 * HOUR) == {"delivered": 0, "not_delivered": 1}
    assert bench.result(long, token) == R.OFFLINE_MESSAGE_CONTROL
    assert bench.inbox(token) == []


def test_collapse_key_keeps_only_the_newest_message_of_a_group(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, online=False)
    old = bench.send(0, notification(title="old"), [token], T0, collapseKey=3)
    other_group = bench.send(0, notification(title="other"), [token], T0 + 1, collapseKey=4)
    new = bench.send(0, notification(title="new"), [token], T0 + 2, collapseKey=3)
    assert bench.result(old, token) == R.OFFLINE_MESSAGE_CONTROL
    bench.come_online(token, T0 + MINUTE)
    assert bench.results(new) == {token: R.DELIVERED}
    assert bench.results(other_group) == {token: R.DELIVERED}
    titles = [entry["payload"]["notification"]["title"] for entry in bench.inbox(token)]
    assert titles == ["other", "new"]


def test_offline_cache_keeps_at_most_120_messages(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, online=False)
    sent = [bench.send(6, background(), [token], T0 + i) for i in range(121)]
    assert bench.result(sent[0], token) == R.OFFLINE_MESSAGE_CONTROL
    assert bench.result(sent[1], token) is None
    assert bench.come_online(token, T0 + MINUTE)["delivered"] == 120


# --- widgets (push-type 1) -----------------------------------------------------------------


def _with_form(bench: Bench, **form: object) -> str:
    (token,) = bench.devices()
    values = {"version": 0, "removed": 0, "refresh_limit": None, **form}
    bench.execute(
        "INSERT INTO device_forms VALUES (?, 11, ?, ?, ?, 0, 0, 0, NULL, NULL)",
        bench.device_id(token),
        values["version"],
        values["removed"],
        values["refresh_limit"],
    )
    return token


def test_widget_refresh_needs_the_form_on_the_device_and_a_growing_version(bench: Bench) -> None:
    token = _with_form(bench, version=5)
    unknown = bench.send(1, widget(12, 6), [token])
    stale = bench.send(1, widget(11, 5), [token], T0 + 1)
    fresh = bench.send(1, widget(11, 6), [token], T0 + 2)
    assert bench.result(unknown, token) == R.NOT_SHOWN_OR_FORM_MISSING
    assert bench.result(stale, token) == R.NOT_SHOWN_OR_FORM_MISSING
    assert bench.result(fresh, token) == R.DELIVERED
    status = bench.statuses()[-1]
    assert status["formStatus"] == {"formId": 11, "result": 0, "timestamp": T0 + 2}
    assert "deliveryStatus" not in status


def test_widget_version_zero_resets_the_counter(bench: Bench) -> None:
    token = _with_form(bench, version=9)
    assert bench.result(bench.send(1, widget(11, 0), [token]), token) == R.DELIVERED
    assert bench.result(bench.send(1, widget(11, 1), [token], T0 + 1), token) == R.DELIVERED


@pytest.mark.parametrize(("released", "limit"), [(1, 2), (0, 5)])
def test_widget_refreshes_per_day_depend_on_release(
    bench: Bench, released: int, limit: int
) -> None:
    bench.execute("INSERT INTO app_delivery_settings VALUES (?, ?, 2)", bench.app.app_id, released)
    token = _with_form(bench)
    results = [
        bench.result(bench.send(1, widget(11, v), [token], T0 + v), token)
        for v in range(1, limit + 2)
    ]
    assert results == [0] * limit + [R.SCENARIO_FREQUENCY_LIMIT]
    assert bench.result(bench.send(1, widget(11, 50), [token], T0 + DAY), token) == 0


def test_removed_widget_answers_261_and_stays_blocked_for_30_days(bench: Bench) -> None:
    token = _with_form(bench, removed=1)
    first = bench.send(1, widget(11, 1), [token])
    later = bench.send(1, widget(11, 2), [token], T0 + 29 * DAY)
    after_block = bench.send(1, widget(11, 3), [token], T0 + 31 * DAY)
    assert bench.result(first, token) == R.FORM_NOT_EXIST
    assert bench.result(later, token) == R.FORM_NOT_EXIST
    assert bench.result(after_block, token) == R.NOT_SHOWN_OR_FORM_MISSING


def test_device_refresh_count_reached_blocks_the_widget_for_a_day(bench: Bench) -> None:
    token = _with_form(bench, refresh_limit=1)
    assert bench.result(bench.send(1, widget(11, 1), [token], T0), token) == 0
    assert bench.result(bench.send(1, widget(11, 2), [token], T0 + 1), token) == 262
    assert bench.result(bench.send(1, widget(11, 3), [token], T0 + HOUR), token) == 262
    assert bench.result(bench.send(1, widget(11, 4), [token], T0 + DAY + 2), token) == 0


def test_test_widget_refreshes_are_not_counted_against_the_daily_quota(bench: Bench) -> None:
    token = _with_form(bench)
    for version in range(1, 5):
        request_id = bench.send(1, widget(11, version), [token], T0 + version, testMessage=True)
        assert bench.result(request_id, token) == R.DELIVERED


# --- live views (push-type 7) ---------------------------------------------------------------


def test_live_view_lifecycle_create_update_end(bench: Bench) -> None:
    (token,) = bench.devices()
    assert bench.result(bench.send(7, taxi(0, version=1), [token]), token) == 0
    update = bench.send(7, taxi(1, version=2, status="DRIVER_ARRIVE"), [token], T0 + MINUTE)
    assert bench.result(update, token) == 0
    end = bench.send(7, taxi(2, version=3, status="COMPLETED"), [token], T0 + 2 * MINUTE)
    assert bench.result(end, token) == 0
    after_end = bench.send(7, taxi(1, version=4), [token], T0 + 3 * MINUTE)
    assert bench.result(after_end, token) == R.LIVE_VIEW_UPDATE_FAILED
    assert len(bench.inbox(token)) == 3


def test_live_view_update_rules_version_and_status(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.send(7, taxi(0, version=5), [token])
    same_version = bench.send(7, taxi(1, version=5), [token], T0 + 1)
    no_status = bench.send(7, taxi(1, version=6, status=None), [token], T0 + 2)
    assert bench.result(same_version, token) == R.LIVE_VIEW_VERSION_NOT_GREATER
    assert bench.result(no_status, token) == R.LIVE_VIEW_UPDATE_WITHOUT_STATUS


def test_updating_an_unknown_live_view_blocks_its_id_for_24_hours(bench: Bench) -> None:
    (token,) = bench.devices()
    unknown = bench.send(7, taxi(1, version=1), [token])
    create_blocked = bench.send(7, taxi(0), [token], T0 + HOUR)
    create_later = bench.send(7, taxi(0), [token], T0 + 25 * HOUR)
    assert bench.result(unknown, token) == R.LIVE_VIEW_NOT_EXIST
    assert bench.result(create_blocked, token) == R.LIVE_VIEW_NOT_EXIST
    assert bench.result(create_later, token) == R.DELIVERED


def test_rest_creation_twice_within_12_hours_is_refused(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.send(7, taxi(0), [token])
    bench.send(7, taxi(2, status="COMPLETED"), [token], T0 + MINUTE)
    again = bench.send(7, taxi(0), [token], T0 + HOUR)
    much_later = bench.send(7, taxi(0), [token], T0 + 13 * HOUR)
    assert bench.result(again, token) == R.LIVE_VIEW_DUPLICATE_CREATE
    assert bench.result(much_later, token) == R.DELIVERED


def test_live_view_created_on_the_device_answers_158_and_may_update_without_status(
    bench: Bench,
) -> None:
    from hmpush.emulator.device_rules import created_on_device, save_live_views

    (token,) = bench.devices()
    with bench.store.transaction() as conn:
        save_live_views(conn, 7, [(bench.device_id(token), created_on_device("TAXI", 3, T0))])
    create = bench.send(7, taxi(0), [token], T0 + 1)
    update = bench.send(7, taxi(1, version=4, status=None), [token], T0 + 2)
    assert bench.result(create, token) == R.LIVE_VIEW_ALREADY_EXISTS
    assert bench.result(update, token) == R.DELIVERED


def test_live_view_expires_after_four_hours_without_update(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.send(7, taxi(0), [token])
    late = bench.send(7, taxi(1, version=1), [token], T0 + 4 * HOUR)
    assert bench.result(late, token) == R.LIVE_VIEW_UPDATE_FAILED


@pytest.mark.parametrize(("event", "per_five_minutes"), [("TAXI", 30), ("DELIVERY", 10)])
def test_live_view_updates_are_rate_limited_per_event(
    bench: Bench, event: str, per_five_minutes: int
) -> None:
    (token,) = bench.devices()
    from hmpush.emulator.device_rules import created_on_device, save_live_views

    with bench.store.transaction() as conn:
        save_live_views(conn, 7, [(bench.device_id(token), created_on_device(event, 0, T0))])
    results = [
        bench.result(bench.send(7, taxi(1, event=event, status=None), [token], T0 + i), token)
        for i in range(1, per_five_minutes + 2)
    ]
    assert results == [0] * per_five_minutes + [R.SCENARIO_FREQUENCY_LIMIT]
    after_window = bench.send(7, taxi(1, event=event, status=None), [token], T0 + 6 * MINUTE)
    assert bench.result(after_window, token) == R.DELIVERED


def test_live_view_rules_apply_per_device_in_one_request(bench: Bench) -> None:
    fresh, with_view = bench.devices(2)
    bench.send(7, taxi(0, version=1), [with_view])
    request_id = bench.send(7, taxi(1, version=2), [fresh, with_view], T0 + 1)
    assert bench.results(request_id) == {fresh: R.LIVE_VIEW_NOT_EXIST, with_view: R.DELIVERED}


def test_a_refresh_for_a_form_id_beyond_device_ids_is_151_without_a_receipt(bench: Bench) -> None:
    token = _with_form(bench)
    request_id = bench.send(1, widget(2**31, 1), [token])
    assert bench.result(request_id, token) is None  # formStatus.formId cannot carry it
    assert bench.inbox(token) == []


def test_test_requests_count_against_the_quota_even_when_no_device_can_take_them(
    bench: Bench,
) -> None:
    gone, ok = bench.devices(2)
    bench.patch(gone, installed=False)
    bench.execute("INSERT INTO project_delivery_settings VALUES (?, 1)", bench.project_id)
    first = bench.send(0, notification(), [gone], testMessage=True)
    second = bench.send(0, notification(), [ok], T0 + 1, testMessage=True)
    assert bench.result(first, gone) == R.APP_UNINSTALLED
    assert bench.result(second, ok) == R.SCENARIO_FREQUENCY_LIMIT


def test_inbox_reads_the_same_before_and_after_background_indexing(bench: Bench) -> None:
    from hmpush.emulator.delivery_engine import index_inbox

    tokens = bench.devices(3)
    for i in range(5):
        bench.send(0, notification(title=f"m{i}"), tokens, T0 + i)
    before = [bench.inbox(token) for token in tokens]
    with bench.store.transaction() as conn:
        assert index_inbox(conn, max_rows=4) == 3  # whole messages, at most max_rows rows
        assert index_inbox(conn, max_rows=1) == 3  # the oldest message alone is larger
        assert index_inbox(conn, chunk_rows=6) == 6  # chunk 1 is full: a new chunk
        assert index_inbox(conn, chunk_rows=6) == 3
        assert index_inbox(conn) == 0
        chunks = conn.execute("SELECT chunk, row_count FROM inbox_chunks ORDER BY chunk")
        assert chunks.fetchall() == [(1, 6), (2, 6), (3, 3)]
    assert [bench.inbox(token) for token in tokens] == before
    assert [e["payload"]["notification"]["title"] for e in before[0]] == [f"m{i}" for i in range(5)]


def test_a_device_uninstalled_while_offline_reports_2_for_what_waited(bench: Bench) -> None:
    (token,) = bench.devices()
    bench.patch(token, online=False)
    request_id = bench.send(0, notification(), [token])
    bench.patch(token, installed=False)
    assert bench.come_online(token, T0 + MINUTE) == {"delivered": 0, "not_delivered": 1}
    assert bench.result(request_id, token) == R.APP_UNINSTALLED
