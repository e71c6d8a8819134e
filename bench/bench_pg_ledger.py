"""Ledger claims per second on PostgreSQL, beside a raw psycopg ``INSERT … ON CONFLICT DO NOTHING`` loop.

The claim the store's port makes (``ledger_insert``: one pooled connection per statement, autocommit) is compared
with the fastest a client can do the same (one connection of its own, the same statement prepared, no pool) on the
same table: the goal is at least 0.7 of it. The full claim of an Acknowledge click (``Ledger.claim``: the row and
the order's lock in one transaction) is shown too, with its latency, single-threaded and with 8 threads; the
server is a throwaway cluster on this machine (``fsync=off``: what is measured is the client's cost).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.pg_cluster import database
from bot.actions.ledger import ACKNOWLEDGE_ORDER, Ledger
from bot.storage.postgres.ledger import _INSERT, _insert_values
from bot.storage.postgres.store import PostgresStore


def _row(key: str, n: int) -> dict[str, Any]:
    return {
        "key": key, "operation": ACKNOWLEDGE_ORDER, "order_id": str(7_000_000 + n), "params": "{}",
        "fingerprint": "f", "state": "pending", "retryable": 0, "user_id": "U1", "team_id": None,
        "channel_id": "C1", "message_ts": "1700000000.000100", "reference": None, "created_at": 1.0,
        "updated_at": 1.0, "lease_expires_at": 61.0, "attempts": 1, "response": None, "error": None,
    }  # fmt: skip


def _timed(threads: int, per_thread: int, claim: Callable[[int, int], object]) -> tuple[float, list[float]]:
    """Claims per second and every claim's latency, ``threads`` threads each claiming ``per_thread``."""
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(t: int) -> None:
        barrier.wait()
        for n in range(per_thread):
            began = time.perf_counter()
            claim(t, n)
            latencies[t].append(time.perf_counter() - began)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    every = sorted(latency for per in latencies for latency in per)
    return len(every) / elapsed, every


def _line(rate: float, every: list[float]) -> str:
    p99 = every[int(len(every) * 0.99)]
    return (
        f"{rate:>7,.0f} claims/s   latency median {statistics.median(every) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms,"
        f" max {every[-1] * 1e3:.1f} ms"
    )


def run(quick: bool) -> list[str]:
    total = 400 if quick else 8_000
    lines = [f"{total:,} claims per round, fresh keys, on a local PostgreSQL (fsync=off):"]
    with database("bench_ledger") as url, PostgresStore(url, pool_size=10) as store:
        # Alternating rounds, the best of each kept: the first round also warms the server and both clients up.
        raw_best: tuple[float, list[float]] = (0.0, [])
        port_best: tuple[float, list[float]] = (0.0, [])
        with psycopg.connect(url, autocommit=True) as raw:
            for round_ in range(3):

                def raw_claim(t: int, n: int, r: int = round_) -> object:
                    return raw.execute(_INSERT.encode(), _insert_values(_row(f"raw{r}x{n}", n)), prepare=True)

                def port_claim(t: int, n: int, r: int = round_) -> object:
                    return store.ledger_insert(_row(f"port{r}x{n}", n))

                raw_round, port_round = _timed(1, total, raw_claim), _timed(1, total, port_claim)
                raw_best, port_best = max(raw_best, raw_round), max(port_best, port_round)
        lines.append("raw psycopg INSERT … ON CONFLICT, 1 connection: " + _line(*raw_best))
        lines.append("store.ledger_insert (the port), pooled:        " + _line(*port_best))
        lines.append(f"  port / raw: {port_best[0] / raw_best[0]:.2f}x (goal >= 0.7x; best of 3 alternating rounds)")

        ledger = Ledger(store)

        def claim(prefix: str) -> Callable[[int, int], object]:
            return lambda t, n: ledger.claim(
                key=f"{prefix}{t}x{n}",
                operation=ACKNOWLEDGE_ORDER,
                order_id=f"{prefix}{t}x{n}",
                params={"merchant_order_reference": f"SO-{prefix}{t}x{n}"},
                user_id=f"U{t}",
                channel_id="C1",
                message_ts="1700000000.000100",
            )

        rate, every = _timed(1, total, claim("one"))
        lines.append("Ledger.claim (row + order lock, 1 transaction), 1 thread:  " + _line(rate, every))
        rate, every = _timed(8, total // 8, claim("eight"))
        lines.append("Ledger.claim (row + order lock, 1 transaction), 8 threads: " + _line(rate, every))
    return lines
