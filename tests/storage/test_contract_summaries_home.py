"""The storage contract for the daily summary's claims and App Home's users."""

from __future__ import annotations

from collections.abc import Callable

from storage_samples import Clock

from bot.storage.ports import Storage


def test_a_day_is_claimed_once_across_stores(open_store: Callable[[], Storage]) -> None:
    one, two = open_store(), open_store()
    assert one.claim_summary("2026-10-26", "C0ORDERS") is True
    assert two.claim_summary("2026-10-26", "C0ORDERS") is False
    assert two.claim_summary("2026-10-27", "C0ORDERS") is True
    assert [row.day for row in one.unfinished_summaries()] == ["2026-10-26", "2026-10-27"]
    one.complete_summary("2026-10-26", "9.1")
    row = two.get_summary("2026-10-26")
    assert row is not None
    assert (row.channel, row.ts) == ("C0ORDERS", "9.1")
    assert [row.day for row in two.unfinished_summaries()] == ["2026-10-27"]
    assert two.get_summary("2026-01-01") is None


def test_home_publishes_at_most_once_per_interval_per_user(store: Storage, clock: Clock) -> None:
    assert store.claim_home_publish("U1", every_seconds=5) is False  # never opened Home
    store.home_opened("U1")
    assert store.claim_home_publish("U1", every_seconds=5) is True
    assert store.claim_home_publish("U1", every_seconds=5) is False
    clock.now += 4.9
    assert store.claim_home_publish("U1", every_seconds=5) is False
    clock.now += 0.1
    assert store.claim_home_publish("U1", every_seconds=5) is True


def test_home_users_and_preferences(store: Storage, clock: Clock) -> None:
    store.home_opened("U1")
    clock.now += 100
    store.home_opened("U2")
    assert [u.user_id for u in store.home_users_since(1050)] == ["U2"]
    user = store.home_user("U1")
    assert user is not None
    assert (user.dm_escalations, user.daily_summary) == (False, False)
    store.set_home_preferences("U1", dm_escalations=True, daily_summary=False)
    user = store.home_user("U1")
    assert user is not None
    assert (user.dm_escalations, user.daily_summary, user.opened_at) == (True, False, 1000.0)
    assert store.home_user("U9") is None


def test_a_users_own_recent_actions_newest_first(store: Storage, clock: Clock) -> None:
    for n in range(12):
        clock.now += 1
        store.add_audit(action="acknowledge_order", order_id=str(7000 + n), user_id="U1", outcome="succeeded")
    store.add_audit(action="acknowledge_order", order_id="7999", user_id="U2", outcome="succeeded")
    mine = store.actions_by_user("U1", limit=10)
    assert [row.order_id for row in mine] == [str(7000 + n) for n in range(11, 1, -1)]
    assert store.actions_by_user("U3") == []
