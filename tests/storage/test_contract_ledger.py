"""The storage contract for the idempotency ledger's rows, the order locks its claims hold and their waiters.

Spoken to through ``bot.storage.ports.LedgerRows``, once per backend, as in test_contract.py.
"""

from __future__ import annotations

from typing import Any

from bot.storage.ports import Storage


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
