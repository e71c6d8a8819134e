"""The order index as the export reads it: orders by last update, streamed rather than listed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from storage_samples import full_order

from bot.storage.ports import Storage


def unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_orders_updated_since_yields_the_window_oldest_update_first(store: Storage) -> None:
    store.upsert_order(full_order("old", last_updated="2026-03-01T10:00:00+00:00"))
    store.upsert_order(full_order("late", last_updated="2026-03-05T10:00:00+00:00"))
    store.upsert_order(full_order("edge", last_updated="2026-03-03T00:00:00+00:00"))
    store.upsert_order({"id": "partial", "merchant_order_id": "SO-9"})  # never read in full: no update time

    found = store.orders_updated_since(unix("2026-03-03T00:00:00+00:00"))

    assert isinstance(found, Iterator)  # read as iterated, not built as a list
    orders = list(found)
    assert [order.id for order in orders] == ["edge", "late"]
    assert orders[0].data["buyer_details"] == {"email_remarketing_option": False}


def test_orders_updated_since_streams_ten_thousand(store: Storage) -> None:
    store.upsert_orders(
        full_order(str(n), last_updated=f"2026-03-{1 + n % 28:02d}T10:00:00+00:00") for n in range(10_000)
    )
    assert sum(1 for _ in store.orders_updated_since(0)) == 10_000
