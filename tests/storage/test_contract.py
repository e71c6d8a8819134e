"""The storage contract: what every backend's store does, spoken to through the ports of ``bot.storage.ports``.

Each test runs once per backend (the ``backend`` fixture); nothing here knows SQL or files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from storage_samples import Clock, full_order

from bot.domain.order import strip_pii
from bot.storage.ports import RunLockBusy, Storage


def write_then_fail(store: Storage, *names: str) -> None:
    with store.transaction():
        for name in names:
            store.set_state(name, "written")
        raise RuntimeError("boom")


def test_transaction_commits_all_writes_or_none(store: Storage) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, "a", "b")
    assert (store.get_state("a"), store.get_state("b")) == (None, None)

    with store.transaction():
        store.set_state("a", "1")
        store.set_state("b", "2")
    assert (store.get_state("a"), store.get_state("b")) == ("1", "2")


def test_nested_transaction_failure_undoes_only_its_own_writes(store: Storage) -> None:
    with store.transaction():
        store.set_state("outer", "kept")
        with pytest.raises(RuntimeError, match="boom"):
            write_then_fail(store, "inner")
    assert store.get_state("outer") == "kept"
    assert store.get_state("inner") is None


def test_order_index_hands_back_no_buyer_email_phone_or_street(store: Storage) -> None:
    store.upsert_order(full_order("7001"))
    store.upsert_orders([full_order("7002"), full_order("7003")])
    for order_id in ("7001", "7002", "7003"):
        cached = store.get_order(order_id)
        assert cached is not None
        assert cached.data == strip_pii(full_order(order_id))


def test_indexed_order_fields(store: Storage) -> None:
    store.upsert_order(full_order("7001", merchant_order_id="SO-1"))
    order = store.get_order("7001")
    assert order is not None
    assert (order.id, order.merchant_ref, order.state, order.channel) == ("7001", "SO-1", "CREATED", "instagram")
    assert (order.created, order.last_updated) == ("2026-03-01T10:15:00+00:00", "2026-03-01T10:20:00+00:00")
    assert order.data["items"]["data"][0]["retailer_id"] == "SKU-1"
    assert order.seen_at == 1_000.0
    assert store.get_order("404") is None


def test_partial_read_fills_gaps_without_erasing(store: Storage) -> None:
    store.upsert_order(full_order("7001"))
    store.upsert_order({"id": "7001", "merchant_order_id": "SO-9"})  # the lookup scan's field selection
    order = store.get_order("7001")
    assert order is not None
    assert (order.state, order.channel, order.merchant_ref) == ("CREATED", "instagram", "SO-9")
    assert order.data["items"]["data"][0]["retailer_id"] == "SKU-1"
    assert order.data["merchant_order_id"] == "SO-9"


def test_an_older_read_never_overwrites_a_newer_one(store: Storage) -> None:
    newer = full_order("7001", order_status={"state": "IN_PROGRESS"}, last_updated="2026-03-01T11:00:00+00:00")
    older = full_order("7001", order_status={"state": "CREATED"}, last_updated="2026-03-01T10:20:00+00:00")
    store.upsert_order(newer)
    store.upsert_order(older)
    order = store.get_order("7001")
    assert order is not None
    assert order.state == "IN_PROGRESS"


def test_upsert_orders_indexes_ten_thousand_in_one_call(store: Storage) -> None:
    store.upsert_orders(
        {"id": str(n), "order_status": {"state": "CREATED" if n % 2 else "IN_PROGRESS"}, "merchant_order_id": f"R{n}"}
        for n in range(10_000)
    )
    assert len(store.orders_in_state("CREATED")) == 5_000
    assert store.find_by_reference("r9999") == ["9999"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SO-1", ["a"]),  # exact match wins over the case-insensitive ones
        ("so-1", ["b"]),
        ("So-1", ["a", "b", "c"]),  # no exact match: every case-insensitive one
        ("SO-2", ["d", "e"]),  # one reference on several orders: all of them
        ("SO-3", []),
    ],
)
def test_find_by_reference_exact_then_case_insensitive(store: Storage, query: str, expected: list[str]) -> None:
    for order_id, ref in [("a", "SO-1"), ("b", "so-1"), ("c", "sO-1"), ("d", "SO-2"), ("e", "SO-2")]:
        store.upsert_order({"id": order_id, "merchant_order_id": ref})
    assert store.find_by_reference(query) == expected


def test_reference_owner_is_case_insensitive_and_can_exclude_the_order_itself(store: Storage) -> None:
    store.set_reference("7001", "SO-10042")
    assert store.reference_owner("so-10042") == "7001"
    assert store.reference_owner("SO-10042", other_than="7001") is None
    assert store.reference_owner("SO-10042", other_than="7002") == "7001"
    assert store.reference_owner("SO-1") is None


def test_set_reference_and_state_index_an_order_not_yet_seen(store: Storage) -> None:
    store.set_reference("7001", "SO-1")
    store.set_order_state("7001", "IN_PROGRESS")
    order = store.get_order("7001")
    assert order is not None
    assert (order.merchant_ref, order.state) == ("SO-1", "IN_PROGRESS")
    assert order.data == {"id": "7001", "merchant_order_id": "SO-1", "order_status": {"state": "IN_PROGRESS"}}
    assert store.orders_in_state("IN_PROGRESS") == [order]


def test_scan_memory_expires(store: Storage, clock: Clock) -> None:
    assert not store.scanned_recently("SO-1", 300)
    store.record_scan("SO-1", found=False)
    clock.now += 299
    assert store.scanned_recently("so-1", 300)
    clock.now += 2
    assert not store.scanned_recently("SO-1", 300)


def test_notification_claimed_once_completed_and_recoverable(store: Storage, clock: Clock) -> None:
    assert store.claim_notification("7001", "C1")
    assert not store.claim_notification("7001", "C1")
    assert store.claim_notification("7001", "C2")
    assert [(n.order_id, n.channel) for n in store.unfinished_notifications()] == [("7001", "C1"), ("7001", "C2")]

    clock.now += 5
    store.complete_notification("7001", "C1", "1700000000.000100")
    store.set_notified_state("7001", "C1", "CREATED")
    row = store.get_notification("7001", "C1")
    assert row is not None
    assert (row.ts, row.claimed_at, row.posted_at, row.state_summary) == ("1700000000.000100", 1_000, 1_005, "CREATED")
    assert [n.channel for n in store.unfinished_notifications()] == ["C2"]
    assert [n.channel for n in store.notifications_for_order("7001")] == ["C1", "C2"]
    assert store.get_notification("7001", "C9") is None


def test_cards_remember_channel_and_ephemeral_messages_once(store: Storage) -> None:
    store.remember_card("7001", channel="C1", ts="1.1", response_url=None, kind="notification")
    store.remember_card("7001", channel="C1", ts="1.1", response_url=None, kind="notification")
    store.remember_card("7001", channel="C1", ts=None, response_url="https://hooks/x", kind="lookup")
    store.remember_card("7001", channel="C1", ts=None, response_url="https://hooks/x", kind="lookup")
    store.remember_card("7002", channel="C1", ts="1.2", response_url=None, kind="lookup")
    cards = store.cards_for_order("7001")
    assert [(c.kind, c.channel, c.ts, c.response_url) for c in cards] == [
        ("notification", "C1", "1.1", None),
        ("lookup", "C1", None, "https://hooks/x"),
    ]


@pytest.mark.parametrize(
    ("channel", "ts", "response_url"), [(None, None, None), ("C1", None, None), (None, "1.1", None)]
)
def test_a_card_needs_an_address(store: Storage, channel: str | None, ts: str | None, response_url: str | None) -> None:
    with pytest.raises(ValueError, match="channel and ts"):
        store.remember_card("7001", channel=channel, ts=ts, response_url=response_url, kind="lookup")


def test_audit_newest_first(store: Storage, clock: Clock) -> None:
    store.add_audit(action="acknowledge_order", order_id="7001", user_id="U1", key="k1", outcome="refused")
    clock.now += 1
    store.add_audit(action="show_contact", order_id="7001", user_id="U2", team_id="T1", outcome="shown", detail="x")
    store.add_audit(action="acknowledge_order", order_id="7002", user_id="U1", outcome="succeeded", at=5.0)
    rows = store.audit_for_order("7001")
    assert [(r.action, r.user_id, r.team_id, r.key, r.outcome, r.at) for r in rows] == [
        ("show_contact", "U2", "T1", None, "shown", 1_001.0),
        ("acknowledge_order", "U1", None, "k1", "refused", 1_000.0),
    ]
    assert len(store.audit_for_order("7001", limit=1)) == 1


def test_key_value_state(store: Storage) -> None:
    assert store.get_state("watermark") is None
    store.set_state("watermark", "1700000000")
    store.set_state("watermark", "1700000060")
    assert store.get_state("watermark") == "1700000060"


def run_in_threads(count: int, target: Any) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_writes_from_many_threads_and_two_stores_all_land(open_store: Callable[[], Storage]) -> None:
    """Two stores on one database stand for two processes."""
    first, second = open_store(), open_store()
    counter = iter(range(200))
    lock = threading.Lock()

    def write() -> None:
        for _ in range(10):
            with lock:
                n = next(counter)
            (first if n % 2 else second).add_audit(action="a", order_id="7001", user_id=f"U{n}", outcome="ok")

    run_in_threads(20, write)
    assert len(first.audit_for_order("7001", limit=1_000)) == 200


def ledger_row(key: str, order_id: str = "7001", *, now: float = 1_000.0, **overrides: Any) -> dict[str, Any]:
    """A pending claim as ``bot.actions.ledger`` writes it."""
    row: dict[str, Any] = {
        "key": key,
        "operation": "acknowledge_order",
        "order_id": order_id,
        "params": '{"merchant_order_reference":"SO-1"}',
        "fingerprint": f"fp-{key}",
        "state": "pending",
        "retryable": 0,
        "user_id": "U1",
        "team_id": None,
        "channel_id": "C1",
        "message_ts": None,
        "reference": "SO-1",
        "created_at": now,
        "updated_at": now,
        "lease_expires_at": now + 60,
        "attempts": 1,
        "response": None,
        "error": None,
    }
    return {**row, **overrides}


def test_a_ledger_claim_is_inserted_once(store: Storage) -> None:
    assert store.ledger_insert(ledger_row("k1"))
    assert not store.ledger_insert(ledger_row("k1", user_id="U2"))
    row = store.ledger_get("k1")
    assert row is not None
    assert (row["key"], row["user_id"], row["state"], row["params"]) == (
        "k1",
        "U1",
        "pending",
        '{"merchant_order_reference":"SO-1"}',
    )
    assert store.ledger_get("unknown") is None


def test_a_claim_is_taken_over_after_its_lease_and_by_one_caller(store: Storage) -> None:
    store.ledger_insert(ledger_row("k1"))
    assert store.ledger_take_over("k1", now=1_060, lease_expires_at=1_120) is None  # expires strictly after
    taken = store.ledger_take_over("k1", now=1_061, lease_expires_at=1_121)
    assert taken is not None
    assert (taken["state"], taken["attempts"], taken["lease_expires_at"], taken["updated_at"]) == (
        "pending",
        2,
        1_121,
        1_061,
    )
    assert store.ledger_take_over("k1", now=1_061, lease_expires_at=1_121) is None


def test_outcomes_a_late_failure_never_undoes_a_success(store: Storage) -> None:
    store.ledger_insert(ledger_row("k1"))
    failed = store.ledger_mark_failed(
        "k1", error='{"code":2}', retryable=True, now=1_001, next_attempt_at=1_031, gave_up=False
    )
    assert failed is not None
    assert (failed["state"], bool(failed["retryable"]), failed["next_attempt_at"]) == ("failed", True, 1_031)
    assert (
        store.ledger_mark_failed("k1", error="x", retryable=False, now=1_002, next_attempt_at=None, gave_up=True)
        is None
    )
    done = store.ledger_mark_succeeded("k1", response='{"id":"7001"}', now=1_003)
    assert done is not None
    assert (done["state"], done["response"], done["error"], bool(done["retryable"])) == (
        "succeeded",
        '{"id":"7001"}',
        None,
        False,
    )
    assert store.ledger_mark_succeeded("k1", response="again", now=1_004) is None
    assert store.ledger_mark_succeeded("unknown", response="x", now=1_004) is None
    assert store.ledger_take_over("k1", now=9_999, lease_expires_at=10_059) is None


def test_due_lists_expired_leases_and_retries_that_are_due(store: Storage) -> None:
    store.ledger_insert(ledger_row("expired", "7001", now=1_000))
    store.ledger_insert(ledger_row("live", "7002", now=1_050))
    store.ledger_insert(ledger_row("retry", "7003", now=990))
    store.ledger_insert(ledger_row("later", "7004", now=990))
    store.ledger_insert(ledger_row("given-up", "7005", now=990))
    store.ledger_insert(ledger_row("refused", "7006", now=990))
    store.ledger_mark_failed("retry", error="e", retryable=True, now=995, next_attempt_at=1_061, gave_up=False)
    store.ledger_mark_failed("later", error="e", retryable=True, now=995, next_attempt_at=1_062, gave_up=False)
    store.ledger_mark_failed("given-up", error="e", retryable=True, now=995, next_attempt_at=None, gave_up=True)
    store.ledger_mark_failed("refused", error="e", retryable=False, now=995, next_attempt_at=None, gave_up=False)
    assert [row["key"] for row in store.ledger_due(now=1_061)] == ["retry", "expired"]  # oldest update first


def test_an_orders_ledger_rows_newest_first(store: Storage) -> None:
    store.ledger_insert(ledger_row("k1", now=1_000))
    store.ledger_insert(ledger_row("k2", now=1_001))
    store.ledger_insert(ledger_row("k3", now=1_001))  # the same instant: the later claim comes first
    store.ledger_insert(ledger_row("other", "7002", now=1_002))
    store.ledger_insert(ledger_row("cancel", now=1_003, operation="cancellations"))
    assert [row["key"] for row in store.ledger_for_order("7001", "acknowledge_order")] == ["k3", "k2", "k1"]
    assert store.ledger_for_order("7009", "acknowledge_order") == []


def test_an_order_lock_is_held_by_one_key_and_reserves_its_reference(store: Storage) -> None:
    store.ledger_insert(ledger_row("k1"))
    assert store.lock_order("7001", "k1", "SO-1")
    assert store.lock_order("7001", "k1", "SO-1")  # already its own
    assert not store.lock_order("7001", "k2", None)
    assert not store.lock_order("7002", "k2", "so-1")  # another order's lock holds the reference, in any case
    assert store.lock_order("7003", "k2", None)
    assert (store.lock_holder("7001"), store.lock_holder("7002"), store.lock_holder("7003")) == ("k1", None, "k2")
    assert store.reference_holder("so-1") == ("7001", "k1")
    assert store.reference_holder("SO-2") is None
    holding = store.ledger_holding("7001")
    assert holding is not None
    assert holding["key"] == "k1"
    assert store.ledger_holding("7003") is None  # k2 has no ledger row


def test_unlock_frees_only_the_keys_own_orders(store: Storage) -> None:
    for order_id in ("7001", "7002", "7003"):
        store.lock_order(order_id, "batch", None)
    store.lock_order("7004", "other", None)
    store.unlock("batch", ["7001", "7004"])
    assert [store.lock_holder(o) for o in ("7001", "7002", "7003", "7004")] == [None, "batch", "batch", "other"]
    store.unlock("batch")
    assert [store.lock_holder(o) for o in ("7001", "7002", "7003", "7004")] == [None, None, None, "other"]


def test_waiters_are_taken_once(store: Storage) -> None:
    store.add_waiter("k1", order_id="7001", user_id="U2", channel="C1", response_url=None)
    store.add_waiter("k1", order_id="7002", user_id="U3", channel=None, response_url="https://hooks/y")
    store.add_waiter("k2", order_id="7003", user_id="U4", channel="C1", response_url=None)
    waiters = store.take_waiters("k1")
    assert sorted(waiters, key=lambda w: str(w["user_id"])) == [
        {"order_id": "7001", "user_id": "U2", "channel": "C1", "response_url": None},
        {"order_id": "7002", "user_id": "U3", "channel": None, "response_url": "https://hooks/y"},
    ]
    assert store.take_waiters("k1") == []
    assert [w["user_id"] for w in store.take_waiters("k2")] == ["U4"]


def test_a_digest_claims_only_the_orders_not_yet_announced(store: Storage) -> None:
    assert store.claim_digest("d1", "C1", ["7001", "7002"]) == ["7001", "7002"]
    assert store.claim_notification("7003", "C1")
    assert store.claim_digest("d2", "C1", ["7002", "7003", "7004"]) == ["7004"]
    assert store.claim_digest("d3", "C1", ["7001"]) == []
    assert store.get_digest("d3") is None  # a digest of nothing is not kept
    d2 = store.get_digest("d2")
    assert d2 is not None
    assert (d2.id, d2.channel, d2.order_ids, d2.ts) == ("d2", "C1", ("7004",), None)
    assert [d.id for d in store.unfinished_digests()] == ["d1", "d2"]

    store.complete_digest("d1", "9.9", {"7001": "CREATED", "7002": "CREATED"})
    notification = store.get_notification("7001", "C1")
    assert notification is not None
    assert (notification.ts, notification.state_summary) == ("9.9", "CREATED")
    posted = store.digest_at("C1", "9.9")
    assert posted is not None
    assert (posted.id, posted.order_ids, posted.ts) == ("d1", ("7001", "7002"), "9.9")
    assert store.digest_at("C2", "9.9") is None
    assert [d.id for d in store.unfinished_digests()] == ["d2"]
    with pytest.raises(KeyError):
        store.complete_digest("unknown", "9.9", {})


def test_a_run_lock_has_one_holder_across_stores(open_store: Callable[[], Storage]) -> None:
    """Two stores on one database stand for two processes (``serve`` and ``sync``)."""
    first, second = open_store(), open_store()
    with first.run_lock("poller", wait=False):
        with pytest.raises(RunLockBusy) as busy, second.run_lock("poller", wait=False):
            pytest.fail("two holders of one run lock")
        assert busy.value.name == "poller"
        with second.run_lock("other", wait=False):
            pass  # locks of other names are independent
    with second.run_lock("poller", wait=False):
        pass


def test_a_waiting_run_lock_is_taken_once_the_holder_lets_go(open_store: Callable[[], Storage]) -> None:
    first, second = open_store(), open_store()
    taken = threading.Event()

    def wait_for_it() -> None:
        with second.run_lock("poller"):
            taken.set()

    with first.run_lock("poller"):
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not taken.wait(0.2)
    waiter.join(5)
    assert taken.is_set()
