"""The storage contract for the on-call helpers: shown bands, reminder claims (once per order and stage, across
stores) and snoozes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from storage_samples import Clock, full_order

from bot.storage.ports import Storage

OPEN = ("FB_PROCESSING", "CREATED", "IN_PROGRESS")


def announce(store: Storage, order_id: str, state: str, ts: str) -> None:
    store.upsert_order(full_order(order_id, order_status={"state": state}))
    store.claim_notification(order_id, "C0ORDERS")
    store.complete_notification(order_id, "C0ORDERS", ts)


def test_open_announcements_are_posted_cards_of_orders_still_open(store: Storage, clock: Clock) -> None:
    announce(store, "7001", "CREATED", "1.1")
    clock.now += 1
    announce(store, "7002", "COMPLETED", "1.2")
    clock.now += 1
    announce(store, "7003", "IN_PROGRESS", "1.3")
    store.upsert_order(full_order("7004"))
    store.claim_notification("7004", "C0ORDERS")  # claimed, never posted
    assert [row.order_id for row in store.open_announcements(OPEN)] == ["7001", "7003"]
    assert [row.order_id for row in store.open_announcements(["CREATED"])] == ["7001"]
    assert store.open_announcements([]) == []


def test_the_shown_band_is_per_card_and_replaced(store: Storage) -> None:
    assert store.shown_band("7001", "C0ORDERS") is None
    store.set_shown_band("7001", "C0ORDERS", "later")
    store.set_shown_band("7001", "C0OTHER", "soon")
    store.set_shown_band("7001", "C0ORDERS", "overdue")
    assert store.shown_band("7001", "C0ORDERS") == "overdue"
    assert store.shown_band("7001", "C0OTHER") == "soon"


def test_a_reminder_stage_is_claimed_once_and_completed(store: Storage, clock: Clock) -> None:
    assert store.claim_reminder("7001", "remind", channel="C0ORDERS", thread_ts="1.1") is True
    assert store.claim_reminder("7001", "remind", channel="C0ORDERS", thread_ts="1.1") is False
    clock.now += 5
    assert store.claim_reminder("7001", "escalate", channel="C0ORDERS", thread_ts="1.1") is True
    assert [(r.stage, r.ts) for r in store.unfinished_reminders()] == [("remind", None), ("escalate", None)]
    store.complete_reminder("7001", "remind", "2.1")
    rows = store.reminders_for("7001")
    assert [(r.stage, r.ts, r.thread_ts, r.claimed_at) for r in rows] == [
        ("remind", "2.1", "1.1", 1000.0),
        ("escalate", None, "1.1", 1005.0),
    ]
    assert [r.stage for r in store.unfinished_reminders()] == ["escalate"]


def test_of_many_threads_and_two_stores_one_claims_a_stage(open_store: Callable[[], Storage]) -> None:
    stores = [open_store(), open_store()]
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(store: Storage) -> None:
        won = store.claim_reminder("7001", "escalate", channel="C0ORDERS", thread_ts="1.1")
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim, args=(stores[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_the_latest_snooze_wins(store: Storage, clock: Clock) -> None:
    assert store.snoozed("7001") is None
    store.snooze("7001", until=2000.0, user_id="U1")
    clock.now += 10
    store.snooze("7001", until=1500.0, user_id="U2")
    snooze = store.snoozed("7001")
    assert snooze is not None
    assert (snooze.until, snooze.user_id, snooze.at) == (1500.0, "U2", 1010.0)
