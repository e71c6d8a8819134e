from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.actions.ledger import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS, Claim, Ledger, LedgerEntry, fingerprint, new_key
from bot.storage.sqlite.store import Store

T = TypeVar("T")
KEY = "5f1c2c8e8a7e4c599f1e0b7f0d3a2b11"
LEASE = 60.0


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "orderdesk.db", clock=clock) as s:
        yield s


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, lease_seconds=LEASE, clock=clock)


def claim(ledger: Ledger, key: str = KEY, *, ref: str | None = "SO-1", user: str = "U1", **kwargs: Any) -> Claim:
    params = {"merchant_order_reference": ref} if ref else {}
    defaults: dict[str, Any] = {"operation": ACKNOWLEDGE_ORDER, "order_id": "7001", "channel_id": "C1"}
    return ledger.claim(key=key, params=params, user_id=user, **{**defaults, **kwargs})


def race(count: int, attempt: Callable[[int], T]) -> list[T]:
    """Run ``attempt(i)`` in ``count`` threads released at the same instant; results in thread order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_new_key_is_what_meta_accepts() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 32 and k.isalnum() for k in keys)


def test_fingerprint_is_sha256_of_canonical_json() -> None:
    expected = hashlib.sha256(b'["acknowledge_order",{"a":1,"b":"\xc3\xa9"}]').hexdigest()
    assert fingerprint("acknowledge_order", {"b": "é", "a": 1}) == expected
    assert fingerprint("acknowledge_order", {"a": 1, "b": "é"}) == expected
    assert fingerprint("acknowledge_order", {"a": 2, "b": "é"}) != expected
    assert fingerprint("cancellations", {"a": 1, "b": "é"}) != expected


def test_first_claim_wins_and_records_a_pending_entry(ledger: Ledger, clock: Clock) -> None:
    result = claim(ledger, team_id="T1", message_ts="1.1")
    params = {"merchant_order_reference": "SO-1"}
    assert (result.won, result.conflict) == (True, False)
    entry = ledger.get(KEY)
    assert entry == result.entry
    assert entry == LedgerEntry(
        key=KEY,
        operation=ACKNOWLEDGE_ORDER,
        order_id="7001",
        params=params,
        fingerprint=fingerprint(ACKNOWLEDGE_ORDER, {"order_id": "7001", "params": params}),
        state="pending",
        retryable=False,
        user_id="U1",
        team_id="T1",
        channel_id="C1",
        message_ts="1.1",
        created_at=clock.now,
        updated_at=clock.now,
        lease_expires_at=clock.now + LEASE,
        attempts=1,
        response=None,
        error=None,
        reference="SO-1",
    )


def test_a_second_click_loses_and_sees_the_first(ledger: Ledger, store: Store) -> None:
    first = claim(ledger, user="U1")
    second = claim(ledger, user="U2")
    assert (second.won, second.conflict) == (False, False)
    assert second.entry == first.entry
    assert store.audit_for_order("7001") == []


@pytest.mark.parametrize(
    "change",
    [
        {"ref": "SO-2"},  # the same key with another merchant reference
        {"ref": None},
        {"order_id": "7002"},  # the same key for another order
        {"operation": "cancellations"},
    ],
)
def test_same_key_for_a_different_request_is_a_logged_conflict(
    ledger: Ledger, store: Store, change: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    first = claim(ledger, user="U1")
    other = claim(ledger, user="U2", **change)
    assert (other.won, other.conflict) == (False, True)
    assert other.entry == first.entry == ledger.get(KEY)
    audit = store.audit_for_order(change.get("order_id", "7001"))
    assert [(a.user_id, a.key, a.outcome) for a in audit] == [("U2", KEY, "conflict")]
    assert KEY in caplog.text


@pytest.mark.parametrize("key", ["", "has space", "x" * 101, "ключ", "a/b"])
def test_keys_meta_would_refuse_are_refused_before_claiming(ledger: Ledger, key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        claim(ledger, key)


def test_params_are_stored_canonically_so_a_replay_is_identical(ledger: Ledger, store: Store) -> None:
    claim(ledger, ref="Ünïcode <&>")
    raw = store.ledger_get(KEY)
    assert raw is not None
    assert raw["params"] == '{"merchant_order_reference":"Ünïcode <&>"}'
    entry = ledger.get(KEY)
    assert entry is not None
    assert entry.params == {"merchant_order_reference": "Ünïcode <&>"}


def test_one_winner_among_fifty_threads_and_two_processes(tmp_path: Path, clock: Clock) -> None:
    """Two Store objects on one file stand for two processes: sqlite itself must pick the single winner."""
    path = tmp_path / "orderdesk.db"
    with Store(path, clock=clock) as first, Store(path, clock=clock) as second:
        ledgers = [Ledger(first, clock=clock), Ledger(second, clock=clock)]
        claims = race(50, lambda i: claim(ledgers[i % 2], user=f"U{i}"))
    winners = [i for i, c in enumerate(claims) if c.won]
    assert len(winners) == 1
    assert all(c.entry.user_id == f"U{winners[0]}" for c in claims)
    assert not any(c.conflict for c in claims)


def test_take_over_waits_for_the_lease_to_expire(ledger: Ledger, clock: Clock) -> None:
    claim(ledger)
    clock.now += LEASE
    assert ledger.take_over(KEY) is None  # still the owner's: it expires strictly after the lease
    assert ledger.due() == []


def test_exactly_one_thread_takes_over_an_expired_claim(ledger: Ledger, clock: Clock) -> None:
    original = claim(ledger).entry
    clock.now += LEASE + 1
    assert [e.key for e in ledger.due()] == [KEY]

    taken = [e for e in race(20, lambda _: ledger.take_over(KEY)) if e is not None]
    assert len(taken) == 1
    entry = taken[0]
    assert (entry.state, entry.attempts, entry.lease_expires_at) == ("pending", 2, clock.now + LEASE)
    assert (entry.key, entry.params, entry.fingerprint) == (original.key, original.params, original.fingerprint)
    assert ledger.due() == []


def test_retryable_failures_can_be_taken_over_permanent_ones_and_successes_cannot(ledger: Ledger, clock: Clock) -> None:
    claim(ledger, "transient", order_id="7001")
    claim(ledger, "permanent", order_id="7002", ref="SO-2")
    claim(ledger, "done", order_id="7003", ref="SO-3")
    ledger.fail("transient", {"code": 2361081}, retryable=True)
    ledger.fail("permanent", {"code": 2361009}, retryable=False)
    ledger.succeed("done", {"id": "7003", "state": "IN_PROGRESS"})
    assert ledger.due() == []  # the first retry waits for the policy's first delay
    clock.now += ledger.retry.delays[0]
    assert [e.key for e in ledger.due()] == ["transient"]

    retried = ledger.take_over("transient")
    assert retried is not None
    assert (retried.state, retried.attempts, retried.error, retried.retryable) == ("pending", 2, None, False)
    assert ledger.take_over("transient") is None  # pending with a live lease now
    assert ledger.take_over("permanent") is None
    assert ledger.take_over("done") is None
    assert ledger.take_over("unknown") is None


def test_succeed_records_outcome_audit_and_index_together(ledger: Ledger, store: Store, clock: Clock) -> None:
    claim(ledger, user="U1", team_id="T1", ref="SO-10042")
    clock.now += 2
    response = {"id": "7001", "state": "IN_PROGRESS"}
    entry = ledger.succeed(KEY, response)
    assert (entry.state, entry.response, entry.updated_at) == ("succeeded", response, 1002)
    assert ledger.get(KEY) == entry
    assert [(a.user_id, a.team_id, a.key, a.outcome, a.detail) for a in store.audit_for_order("7001")] == [
        ("U1", "T1", KEY, "succeeded", "reference SO-10042")
    ]
    assert store.find_by_reference("so-10042") == ["7001"]
    order = store.get_order("7001")
    assert order is not None
    assert order.state == "IN_PROGRESS"


def test_succeeding_twice_records_it_once(ledger: Ledger, store: Store) -> None:
    claim(ledger)
    first = ledger.succeed(KEY, {"id": "7001", "state": "IN_PROGRESS"})
    assert ledger.succeed(KEY, {"id": "7001", "state": "IN_PROGRESS"}) == first
    assert len(store.audit_for_order("7001")) == 1


def test_a_late_failure_never_undoes_a_success(ledger: Ledger, store: Store) -> None:
    claim(ledger)
    done = ledger.succeed(KEY, {"id": "7001", "state": "IN_PROGRESS"})
    assert ledger.fail(KEY, {"code": 2}, retryable=True) == done
    assert [a.outcome for a in store.audit_for_order("7001")] == ["succeeded"]


def test_success_after_a_transient_failure_wins(ledger: Ledger) -> None:
    claim(ledger)
    ledger.fail(KEY, {"code": 2361081}, retryable=True)
    assert ledger.succeed(KEY, {"id": "7001", "state": "IN_PROGRESS"}).state == "succeeded"


def test_fail_records_the_error_and_its_audit_row(ledger: Ledger, store: Store) -> None:
    claim(ledger)
    entry = ledger.fail(KEY, {"code": 100, "error_subcode": 2361009, "message": "not CREATED"}, retryable=False)
    assert (entry.state, entry.retryable) == ("failed", False)
    assert entry.error == {"code": 100, "error_subcode": 2361009, "message": "not CREATED"}
    audit = store.audit_for_order("7001")
    assert [(a.outcome, a.detail) for a in audit] == [
        ("failed", '{"code":100,"error_subcode":2361009,"message":"not CREATED"}')
    ]
    order = store.get_order("7001")
    assert order is None  # a failure says nothing about the order's state


@pytest.mark.parametrize("broken", ["add_audit", "set_order_state", "set_reference"])
def test_succeed_is_all_or_nothing(ledger: Ledger, store: Store, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    claim(ledger)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store, broken, fail)
    with pytest.raises(OSError, match="disk gone"):
        ledger.succeed(KEY, {"id": "7001", "state": "IN_PROGRESS"})
    entry = ledger.get(KEY)
    assert entry is not None
    assert (entry.state, entry.response) == ("pending", None)
    monkeypatch.undo()
    assert store.audit_for_order("7001") == []
    assert store.get_order("7001") is None


def test_fail_is_all_or_nothing(ledger: Ledger, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    claim(ledger)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store, "add_audit", fail)
    with pytest.raises(OSError, match="disk gone"):
        ledger.fail(KEY, {"code": 2}, retryable=True)
    entry = ledger.get(KEY)
    assert entry is not None
    assert (entry.state, entry.error) == ("pending", None)


def test_unknown_keys_cannot_succeed_or_fail(ledger: Ledger) -> None:
    with pytest.raises(KeyError):
        ledger.succeed("nope", {})
    with pytest.raises(KeyError):
        ledger.fail("nope", {}, retryable=True)


def test_batch_success_indexes_only_the_orders_meta_acknowledged(ledger: Ledger, store: Store) -> None:
    orders = [{"id": "7001", "merchant_order_reference": "SO-1"}, {"id": "7002"}, {"id": "7003"}]
    ledger.claim(key=KEY, operation=ACKNOWLEDGE_ORDERS, order_id="page-1", params={"orders": orders}, user_id="U1")
    response = {
        "orders": [
            {"id": "7001", "state": "IN_PROGRESS"},
            {"id": "7002", "state": "IN_PROGRESS"},
            {"id": "7003", "error": {"error_code": 2361003, "error_message": "Invalid Order ID"}},
        ]
    }
    ledger.succeed(KEY, response)
    assert store.find_by_reference("SO-1") == ["7001"]
    assert [o.id for o in store.orders_in_state("IN_PROGRESS")] == ["7001", "7002"]


def test_other_operations_leave_the_index_alone(ledger: Ledger, store: Store) -> None:
    ledger.claim(key=KEY, operation="cancellations", order_id="7001", params={"items": []}, user_id="U1")
    ledger.succeed(KEY, {"success": True})
    assert store.get_order("7001") is None


def test_for_order_lists_newest_first(ledger: Ledger, clock: Clock) -> None:
    claim(ledger, "k1")
    ledger.fail("k1", {"code": 190}, retryable=False)
    clock.now += 1
    claim(ledger, "k2", ref="SO-2")
    claim(ledger, "k3", order_id="7002")
    assert [e.key for e in ledger.for_order("7001")] == ["k2", "k1"]
    assert ledger.for_order("7001", "cancellations") == []


def test_a_second_card_is_blocked_by_the_claim_holding_the_order(ledger: Ledger, clock: Clock) -> None:
    assert ledger.holding("7001") is None
    claim(ledger, "card1")
    second = claim(ledger, "card2", user="U2", ref="SO-2")
    assert (second.won, second.blocked, second.entry.key) == (False, "order", "card1")
    assert ledger.get("card2") is None  # a blocked claim writes nothing

    clock.now += LEASE + 1  # the owner died: the claim still holds the order until the sweeper finishes it
    assert claim(ledger, "card3", user="U3").blocked == "order"
    ledger.succeed("card1", {"id": "7001", "state": "IN_PROGRESS"})
    blocked = claim(ledger, "card4", user="U4", ref="SO-4")
    assert (blocked.blocked, blocked.entry.key, blocked.entry.state) == ("order", "card1", "succeeded")
    held = ledger.holding("7001")
    assert held is not None
    assert (held.key, held.state) == ("card1", "succeeded")


@pytest.mark.parametrize("code", [190, 200])
def test_a_refused_claim_frees_the_order_and_a_late_click_with_its_key_locks_nothing(
    ledger: Ledger, store: Store, code: int
) -> None:
    """Meta refuses for good (expired token, missing permission) while several clicks hit one card."""
    claim(ledger, "card1")
    ledger.fail("card1", {"code": code}, retryable=False)
    late = claim(ledger, "card1")  # the same card clicked again after the failure
    assert (late.won, late.entry.state) == (False, "failed")
    assert store.lock_holder("7001") is None
    fixed = claim(ledger, "card2", user="U2")  # a fresh card, once the token is fixed
    assert fixed.won
    assert store.lock_holder("7001") == "card2"


def test_a_forged_key_from_another_card_locks_nothing_and_answers_about_its_own_order(
    ledger: Ledger, store: Store
) -> None:
    claim(ledger, "cardY", order_id="7002", ref="SO-Y")
    ledger.succeed("cardY", {"id": "7002", "state": "IN_PROGRESS"})
    forged = claim(ledger, "cardY", order_id="7001", ref="SO-X")
    assert forged.conflict
    assert store.lock_holder("7001") is None
    genuine = claim(ledger, "cardX", order_id="7001", ref="SO-X")
    assert genuine.won


def test_a_reference_is_reserved_for_one_order_while_its_claim_lives(ledger: Ledger, store: Store) -> None:
    assert claim(ledger, "card1", order_id="7001", ref="SHOP-9").won
    taken = claim(ledger, "card2", order_id="7002", ref="shop-9")  # any case
    assert (taken.won, taken.blocked, taken.entry.order_id) == (False, "reference", "7001")
    assert store.lock_holder("7002") is None
    ledger.fail("card1", {"code": 2361009}, retryable=False)
    assert claim(ledger, "card3", order_id="7002", ref="shop-9").won


def test_transient_failures_are_retried_on_schedule_then_given_up_and_the_order_freed(
    ledger: Ledger, store: Store, clock: Clock
) -> None:
    claim(ledger, "card1")
    for delay in ledger.retry.delays:
        failed = ledger.fail("card1", {"code": 1, "message": "Meta is unavailable."}, retryable=True)
        assert (failed.retryable, failed.gave_up, failed.next_attempt_at) == (True, False, clock.now + delay)
        assert store.lock_holder("7001") == "card1"  # still its order: the sweeper sends it again
        clock.now += delay
        assert [e.key for e in ledger.due()] == ["card1"]
        assert ledger.take_over("card1") is not None
    last = ledger.fail("card1", {"code": 1, "message": "Meta is unavailable."}, retryable=True)
    assert (last.gave_up, last.attempts) == (True, ledger.retry.attempts)
    assert store.lock_holder("7001") is None
    clock.now += 10 * ledger.retry.span_seconds
    assert ledger.due() == []
    current = ledger.current("7001")
    assert current is not None
    assert current.key == "card1"  # fresh cards offer Retry with this key

    retried = ledger.take_over("card1")  # a person presses Retry: the order is held again
    assert retried is not None
    assert store.lock_holder("7001") == "card1"


def test_a_given_up_claim_cannot_be_retried_once_another_card_holds_the_order(ledger: Ledger, store: Store) -> None:
    claim(ledger, "card1", ref=None)
    for _ in range(ledger.retry.attempts - 1):
        ledger.fail("card1", {"code": 1}, retryable=True)
        ledger.take_over("card1")
    assert ledger.fail("card1", {"code": 1}, retryable=True).gave_up
    assert claim(ledger, "card2", ref=None, user="U2").won
    assert ledger.take_over("card1") is None
    assert store.lock_holder("7001") == "card2"


def test_a_batch_claims_only_the_orders_no_other_claim_holds(ledger: Ledger, store: Store) -> None:
    claim(ledger, "single", order_id="7002", ref=None)
    ledger.succeed("single", {"id": "7002", "state": "IN_PROGRESS"})
    batch, held = ledger.claim_batch(
        key="batch",
        operation=ACKNOWLEDGE_ORDERS,
        page_id="PAGE",
        orders=[{"id": "7001"}, {"id": "7002"}, {"id": "7003"}],
        user_id="U1",
    )
    assert batch is not None
    assert batch.entry.order_ids == ["7001", "7003"]
    assert [h.key if h else None for h in held] == ["single"]
    ledger.succeed("batch", {"orders": [{"id": "7001", "state": "IN_PROGRESS"}, {"id": "7003", "error": {}}]})
    assert (store.lock_holder("7001"), store.lock_holder("7003")) == ("batch", None)
