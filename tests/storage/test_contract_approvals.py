"""The storage contract for four-eyes approval requests: one request per intent, moves that exactly one caller
wins (across threads and processes), expiry, stalled approvals and an order's history.

Spoken to through ``bot.storage.ports.Approvals``, once per backend, as in test_contract.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from storage_samples import Clock

from bot.storage.ports import Storage


def approval_row(approval_id: str = "a1", key: str = "k1", **overrides: Any) -> dict[str, Any]:
    """A pending request as ``bot.actions.approvals`` writes it."""
    row: dict[str, Any] = {
        "id": approval_id,
        "operation": "refund_order",
        "order_id": "7001",
        "key": key,
        "params": '{"total":"120.00"}',
        "total": "120.00",
        "currency": "USD",
        "requester_id": "U0ASKER",
        "requester_team": "T1",
        "origin_channel": "C0ORDERS",
        "origin_ts": "1.0001",
        "origin_response_url": None,
        "state": "pending",
        "created_at": 1_000.0,
        "expires_at": 1_000.0 + 86_400,
    }
    return {**row, **overrides}


def test_a_request_is_created_once_per_intent_and_read_back(store: Storage) -> None:
    assert store.approval_create(approval_row())
    assert not store.approval_create(approval_row("a2", key="k1"))  # the same intent asked twice: one request
    assert not store.approval_create(approval_row("a1", key="k2"))
    row = store.approval_get("a1")
    assert row is not None
    assert (row["order_id"], row["key"], row["state"], row["params"], row["total"], row["currency"]) == (
        "7001",
        "k1",
        "pending",
        '{"total":"120.00"}',
        "120.00",
        "USD",
    )
    assert (row["channel"], row["ts"], row["decided_by"], row["decided_at"]) == (None, None, None, None)
    assert store.approval_for_key("k1") == row
    assert store.approval_get("nope") is None
    assert store.approval_for_key("nope") is None


def test_the_request_message_is_remembered(store: Storage) -> None:
    store.approval_create(approval_row())
    store.approval_set_message("a1", channel="C0APPROVE", ts="2.0002")
    row = store.approval_get("a1")
    assert row is not None
    assert (row["channel"], row["ts"]) == ("C0APPROVE", "2.0002")


def test_moves_are_conditional_and_keep_who_decided(store: Storage) -> None:
    store.approval_create(approval_row())
    approved = store.approval_move("a1", from_state="pending", to_state="approved", now=1_100, user_id="U0BOSS")
    assert approved is not None
    assert (approved["state"], approved["decided_by"], approved["decided_at"]) == ("approved", "U0BOSS", 1_100)
    assert store.approval_move("a1", from_state="pending", to_state="declined", now=1_101, user_id="U0X") is None
    sent = store.approval_move("a1", from_state="approved", to_state="sent", now=1_102)
    assert sent is not None
    assert (sent["state"], sent["decided_by"], sent["decided_at"]) == ("sent", "U0BOSS", 1_100)
    store.approval_create(approval_row("a2", key="k2"))
    declined = store.approval_move(
        "a2", from_state="pending", to_state="declined", now=1_200, user_id="U0BOSS", detail="Too much"
    )
    assert declined is not None
    assert (declined["state"], declined["detail"]) == ("declined", "Too much")


def test_an_expired_request_cannot_be_approved_and_is_due_for_expiry(store: Storage, clock: Clock) -> None:
    store.approval_create(approval_row("a1", "k1", expires_at=2_000.0))
    store.approval_create(approval_row("a2", "k2", expires_at=3_000.0))
    assert store.approvals_due(now=1_999) == []
    assert [row["id"] for row in store.approvals_due(now=2_000)] == ["a1"]
    late = store.approval_move("a1", from_state="pending", to_state="approved", now=2_000, unexpired=True)
    assert late is None
    assert store.approval_move("a2", from_state="pending", to_state="approved", now=2_000, unexpired=True)
    expired = store.approval_move("a1", from_state="pending", to_state="expired", now=2_001)
    assert expired is not None
    assert expired["state"] == "expired"
    assert store.approvals_due(now=5_000) == []  # approved and expired requests are not due


def test_approvals_never_sent_are_found_once_their_approval_is_old(store: Storage) -> None:
    store.approval_create(approval_row("a1", "k1"))
    store.approval_create(approval_row("a2", "k2"))
    store.approval_move("a1", from_state="pending", to_state="approved", now=1_100, user_id="U0BOSS")
    store.approval_move("a2", from_state="pending", to_state="approved", now=1_200, user_id="U0BOSS")
    store.approval_move("a2", from_state="approved", to_state="sent", now=1_201)
    assert store.approvals_stalled(decided_before=1_100) == []
    assert [row["id"] for row in store.approvals_stalled(decided_before=1_101)] == ["a1"]


def test_an_orders_requests_newest_first(store: Storage) -> None:
    store.approval_create(approval_row("a1", "k1", created_at=1_000.0))
    store.approval_create(approval_row("a2", "k2", created_at=1_500.0))
    store.approval_create(approval_row("a3", "k3", order_id="7002"))
    assert [row["id"] for row in store.approvals_for_order("7001")] == ["a2", "a1"]
    assert store.approvals_for_order("7999") == []


def test_of_many_concurrent_approvals_from_two_stores_exactly_one_wins(open_store: Callable[[], Storage]) -> None:
    stores = [open_store(), open_store()]
    stores[0].approval_create(approval_row())
    winners: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def approve(n: int) -> None:
        start.wait()
        moved = stores[n % 2].approval_move(
            "a1", from_state="pending", to_state="approved", now=1_100, user_id=f"U0BOSS{n}", unexpired=True
        )
        if moved is not None:
            with lock:
                winners.append(str(moved["decided_by"]))

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    row = stores[1].approval_get("a1")
    assert row is not None
    assert (row["state"], row["decided_by"]) == ("approved", winners[0])
