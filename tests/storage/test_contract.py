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
