"""The storage contract for the buyer index's coverage: which spans of last-update time a scan has read, merged,
shared between processes, and forgotten with the hashes when the search key changes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from storage_samples import SEARCH_KEY

from bot.domain.buyer_search import query_hashes
from bot.storage.ports import Storage


def _order(order_id: str) -> dict[str, Any]:
    return {
        "id": order_id,
        "last_updated": "2026-11-20T10:00:00+00:00",
        "buyer_details": {"name": "Ana Ruiz", "email": "ana@example.com"},
    }


def test_nothing_is_covered_at_first(store: Storage) -> None:
    assert store.covered_spans(0, 10_000) == []


def test_spans_come_back_clipped_to_the_window_oldest_first(store: Storage) -> None:
    store.add_covered_span(500, 600)
    store.add_covered_span(100, 200)
    assert store.covered_spans(0, 1000) == [(100, 200), (500, 600)]
    assert store.covered_spans(150, 550) == [(150, 200), (500, 550)]
    assert store.covered_spans(200, 500) == []  # touching the window's edges is not overlapping it
    assert store.covered_spans(700, 800) == []


def test_overlapping_and_touching_spans_merge(store: Storage) -> None:
    store.add_covered_span(100, 200)
    store.add_covered_span(300, 400)
    store.add_covered_span(200, 250)  # touches the first
    assert store.covered_spans(0, 1000) == [(100, 250), (300, 400)]
    store.add_covered_span(240, 310)  # overlaps both
    assert store.covered_spans(0, 1000) == [(100, 400)]
    store.add_covered_span(150, 160)  # inside: nothing changes
    store.add_covered_span(50, 900)  # around: one span
    assert store.covered_spans(0, 1000) == [(50, 900)]


def test_an_empty_or_reversed_span_changes_nothing(store: Storage) -> None:
    store.add_covered_span(100, 100)
    store.add_covered_span(300, 200)
    assert store.covered_spans(0, 1000) == []


def test_forgetting_drops_the_hashes_and_the_coverage(store: Storage) -> None:
    store.upsert_orders([_order("7001"), _order("7002")])
    store.add_covered_span(100, 200)
    hashes = query_hashes(SEARCH_KEY, "name", "ana")
    assert sorted(store.buyers_matching("name", hashes, since=0)) == ["7001", "7002"]
    assert store.forget_buyer_index() == 2
    assert store.buyers_matching("name", hashes, since=0) == []
    assert store.covered_spans(0, 1000) == []
    assert store.forget_buyer_index() == 0
    store.upsert_order({**_order("7001"), "last_updated": "2026-11-21T10:00:00+00:00"})  # a new read indexes again
    assert store.buyers_matching("name", hashes, since=0) == ["7001"]


def test_what_one_store_covers_another_sees_and_concurrent_spans_all_merge(
    open_store: Callable[[], Storage],
) -> None:
    stores = [open_store(), open_store()]

    def cover(n: int) -> None:
        stores[n % 2].add_covered_span(n * 10, n * 10 + 10)

    threads = [threading.Thread(target=cover, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stores[0].covered_spans(0, 1000) == [(0, 120)]
    assert stores[1].covered_spans(0, 1000) == [(0, 120)]
