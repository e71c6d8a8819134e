"""The storage contract for unfurl reads: one read of an order per window, whoever asks and from which process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from storage_samples import Clock

from bot.storage.ports import Storage


def test_an_order_is_claimed_for_reading_once_per_window(store: Storage, clock: Clock) -> None:
    assert store.claim_unfurl_read("7001", within_seconds=60) is True
    assert store.claim_unfurl_read("7001", within_seconds=60) is False
    assert store.claim_unfurl_read("7002", within_seconds=60) is True  # another order has its own window
    clock.now += 59
    assert store.claim_unfurl_read("7001", within_seconds=60) is False
    clock.now += 1
    assert store.claim_unfurl_read("7001", within_seconds=60) is True  # a new window, from this claim on
    clock.now += 30
    assert store.claim_unfurl_read("7001", within_seconds=60) is False


def test_of_many_threads_and_two_stores_one_wins(open_store: Callable[[], Storage]) -> None:
    stores = [open_store(), open_store()]
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(store: Storage) -> None:
        won = store.claim_unfurl_read("7001", within_seconds=60)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim, args=(stores[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_a_released_claim_lets_the_next_caller_read(store: Storage, clock: Clock) -> None:
    assert store.claim_unfurl_read("7001", within_seconds=60) is True
    assert store.claim_unfurl_read("7002", within_seconds=60) is True
    store.release_unfurl_read("7001")  # its read failed
    clock.now += 1
    assert store.claim_unfurl_read("7001", within_seconds=60) is True
    assert store.claim_unfurl_read("7001", within_seconds=60) is False
    assert store.claim_unfurl_read("7002", within_seconds=60) is False  # another order's claim stands
    store.release_unfurl_read("7999")  # nothing to give back: nothing happens
