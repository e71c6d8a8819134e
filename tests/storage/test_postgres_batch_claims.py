"""Batch claims on PostgreSQL: two batches over the same orders, listed in opposite orders and claimed at the same
moment by two replicas (the pending queue's Acknowledge all and a digest's), never deadlock; one takes the orders."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from bot.actions.ledger import ACKNOWLEDGE_ORDERS, Ledger, new_key
from bot.storage.postgres.store import PostgresStore


def test_two_batches_over_the_same_orders_in_opposite_orders_do_not_deadlock(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, pool_size=4) for _ in range(2)]
    # Each batch waits, after its first lock, until the other has taken its first lock too (or a second has
    # passed, when the other is waiting on the same order): locked as listed, each would then wait on the other.
    both_locked_once = threading.Barrier(2)
    results: dict[str, Any] = {}

    def batch(name: str, store: PostgresStore, ids: list[str]) -> None:
        lock_order = store.lock_order
        first = [True]

        def lock_then_wait(order_id: str, key: str, reference: str | None) -> bool:
            taken = lock_order(order_id, key, reference)
            if first[0]:
                first[0] = False
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_locked_once.wait(timeout=1.5)
            return taken

        store.lock_order = lock_then_wait  # type: ignore[method-assign]
        try:
            claim, _ = Ledger(store).claim_batch(
                key=new_key(), operation=ACKNOWLEDGE_ORDERS, page_id="1", orders=[{"id": i} for i in ids], user_id="U1"
            )
            results[name] = sorted(claim.entry.order_ids) if claim else []
        except Exception as error:  # the failure is what the test reports
            results[name] = error

    threads = [
        threading.Thread(target=batch, args=("pending queue", stores[0], ["100", "200"])),
        threading.Thread(target=batch, args=("digest", stores[1], ["200", "100"])),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for store in stores:
            store.close()
    assert not [result for result in results.values() if isinstance(result, Exception)], results
    assert sorted(results.values(), key=len) == [[], ["100", "200"]], results
