"""Ledger claims per second on a WAL file database: one thread, then 8 threads sharing one Store.

Every claim with a fresh key is a winning ``INSERT OR IGNORE`` + commit, the cost each Acknowledge click pays
before Meta is called. A contended round (8 threads claiming the same keys) shows what duplicate clicks cost.
Latency percentiles matter as much as throughput: a claim sits on Slack's 3-second path.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.actions.ledger import ACKNOWLEDGE_ORDER, Ledger
from bot.storage.sqlite.store import Store


def _claims(threads: int, claims_per_thread: int, key_for: Callable[[int, int], str]) -> str:
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        ledger = Ledger(store)
        barrier = threading.Barrier(threads + 1)
        latencies: list[list[float]] = [[] for _ in range(threads)]

        def work(t: int) -> None:
            barrier.wait()
            for n in range(claims_per_thread):
                started = time.perf_counter()
                ledger.claim(
                    key=key_for(t, n),
                    operation=ACKNOWLEDGE_ORDER,
                    order_id=str(7_000_000 + n),
                    params={"merchant_order_reference": f"SO-{n}"},
                    user_id=f"U{t}",
                    channel_id="C1",
                    message_ts="1700000000.000100",
                )
                latencies[t].append(time.perf_counter() - started)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        barrier.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    every = sorted(latency for per_thread in latencies for latency in per_thread)
    p99 = every[int(len(every) * 0.99)]
    return (
        f"{len(every) / elapsed:>7,.0f} claims/s   latency median {statistics.median(every) * 1e3:.2f} ms,"
        f" p99 {p99 * 1e3:.2f} ms, max {every[-1] * 1e3:.1f} ms"
    )


def run(quick: bool) -> list[str]:
    total = 400 if quick else 16_000
    return [
        f"{total:,} claims on a WAL file, synchronous=NORMAL:",
        "1 thread, fresh keys:            " + _claims(1, total, lambda t, n: f"k{t}x{n}"),
        "8 threads, fresh keys:           " + _claims(8, total // 8, lambda t, n: f"k{t}x{n}"),
        "8 threads, every key claimed 8x: " + _claims(8, total // 8, lambda t, n: f"k{n}"),
    ]
