"""ReceiptStore on real SQLite: all-or-nothing batches, idempotence, nonces, queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from receipts_support import batch, status

from hmpush.receipts import (
    CallbackHeader,
    ReceiptStore,
    ReceiptStoreError,
    ReplayedNonceError,
    ResultCount,
    StaleCallbackError,
    tokens_to_delete,
)

NOW = 1_764_400_000_000
WINDOW = 300_000


def _nonce(text: str, timestamp_ms: int = NOW) -> CallbackHeader:
    return CallbackHeader(timestamp_ms=timestamp_ms, nonce=text, value="unused-here")


def test_saves_and_reads_back_delivery_and_widget_receipts() -> None:
    with ReceiptStore() as store:
        saved = batch(status("tok-a", 0), status("tok-b", 261, form_id=7))
        assert store.save_batch(saved, now_ms=NOW) == 2
        assert store.receipts() == saved.statuses
        assert store.receipts(token="tok-b")[0].form_id == 7


def test_a_repeated_receipt_is_stored_once() -> None:
    with ReceiptStore() as store:
        store.save_batch(batch(status("tok-a", 0)), now_ms=NOW)
        assert store.save_batch(batch(status("tok-a", 0), status("tok-c", 0)), now_ms=NOW) == 1
        assert store.count() == 2


def test_replayed_nonce_stores_nothing_of_its_batch() -> None:
    with ReceiptStore() as store:
        store.save_batch(batch(status("tok-a")), nonce=_nonce("nonce-0001"), now_ms=NOW)
        with pytest.raises(ReplayedNonceError):
            store.save_batch(
                batch(status("tok-b"), status("tok-c")), nonce=_nonce("nonce-0001"), now_ms=NOW
            )
        assert [receipt.token for receipt in store.receipts()] == ["tok-a"]


def test_nonces_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "receipts.db"
    with ReceiptStore(database) as store:
        store.remember("nonce-0001", NOW, now_ms=NOW, window_ms=WINDOW)
    with ReceiptStore(database) as reopened, pytest.raises(ReplayedNonceError):
        reopened.remember("nonce-0001", NOW, now_ms=NOW + 1, window_ms=WINDOW)


def test_file_store_uses_wal(tmp_path: Path) -> None:
    with ReceiptStore(tmp_path / "receipts.db") as store:
        (mode,) = store._conn.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_nonces_leave_the_store_with_the_window() -> None:
    with ReceiptStore() as store:
        store.remember("nonce-0001", NOW, now_ms=NOW, window_ms=WINDOW)
        store.remember("nonce-0002", NOW + WINDOW + 1, now_ms=NOW + WINDOW + 1, window_ms=WINDOW)
        (kept,) = store._conn.execute("SELECT COUNT(*) FROM callback_nonces").fetchone()
    assert kept == 1


def test_bounded_nonce_store_raises_a_floor_that_persists(tmp_path: Path) -> None:
    database = tmp_path / "receipts.db"
    with ReceiptStore(database, max_nonces=2) as store:
        for number, offset in enumerate((0, 10, 20), start=1):
            store.remember(f"nonce-000{number}", NOW + offset, now_ms=NOW + 30, window_ms=WINDOW)
    with ReceiptStore(database, max_nonces=2) as reopened:
        with pytest.raises(StaleCallbackError):
            reopened.remember("nonce-0001", NOW, now_ms=NOW + 30, window_ms=WINDOW)
        reopened.remember("nonce-0009", NOW + 25, now_ms=NOW + 30, window_ms=WINDOW)


def test_summary_counts_by_request_bi_tag_and_result() -> None:
    with ReceiptStore() as store:
        store.save_batch(
            batch(
                status("t1", 0, request_id="r1", bi_tag="sale"),
                status("t2", 0, request_id="r1", bi_tag="sale"),
                status("t3", 2, request_id="r1", bi_tag="sale"),
                status("t4", 0, request_id="r2"),
            ),
            now_ms=NOW,
        )
        assert store.summary() == [
            ResultCount("r1", "sale", 0, 2),
            ResultCount("r1", "sale", 2, 1),
            ResultCount("r2", "", 0, 1),
        ]
        assert store.summary(request_id="r2") == [ResultCount("r2", "", 0, 1)]
        assert store.summary(bi_tag="sale", request_id="r2") == []


def test_tokens_to_delete_follow_the_latest_result() -> None:
    statuses = [
        status("uninstalled", 2),
        status("mismatch", 5),
        status("notifications-off", 6),
        status("inactive", 10),
        status("delivered", 0),
        status("quota", 256),
        status("came-back", 2, timestamp=NOW),
        status("came-back", 0, timestamp=NOW + 1),
        status("went-away", 0, timestamp=NOW),
        status("went-away", 5, timestamp=NOW + 1),
        status("unknown-code", 999),
    ]
    expected = ["inactive", "mismatch", "notifications-off", "uninstalled", "went-away"]
    assert tokens_to_delete(statuses) == expected
    with ReceiptStore() as store:
        # Stored newest first, to show that the receipt timestamp decides, not arrival order.
        store.save_batch(batch(*reversed(statuses)), now_ms=NOW)
        assert tokens_to_delete(store) == expected
        assert store.latest_results()["came-back"] == 0


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(ReceiptStoreError, match="cannot open the receipt store"):
        ReceiptStore(not_a_database)
    with pytest.raises(ReceiptStoreError):
        ReceiptStore(tmp_path / "missing-folder" / "receipts.db")


def test_the_running_nonce_count_matches_the_table(tmp_path: Path) -> None:
    with ReceiptStore(tmp_path / "receipts.db", max_nonces=50) as store:
        for number in range(200):
            now = NOW + number * 10
            store.remember(f"nonce-{number:04d}", now, now_ms=now, window_ms=1000)
            (rows,) = store._conn.execute("SELECT COUNT(*) FROM callback_nonces").fetchone()
            (counted,) = store._conn.execute(
                "SELECT value FROM receiver_state WHERE name = 'nonce_count'"
            ).fetchone()
            assert counted == rows <= 50
