"""Failover: two ``orderdesk serve --mode http`` replicas on one PostgreSQL, and ten ``kill -9`` of whichever runs
the poller, each followed by new orders.

After each kill the survivor must take the poller over within one poll interval (plus a few seconds); the killed
replica is started again, and the next kill hits whoever runs the poller then. Measured: how long from each kill
until the survivor announced the first of the new orders; checked: every order announced exactly once, none missed.
"""

from __future__ import annotations

import os
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.bench_load import started
from bench.pg_cluster import database
from bot.config import Settings
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackSandbox
from bot.slack import ids
from bot.slack.publisher import DIGEST_EVENT
from bot.storage.postgres.store import PostgresStore

CHANNEL = "C0ORDERS"
POLL_SECONDS = 5
READY = r"serving Slack requests at (http://127\.0\.0\.1:\d+)/slack/events"


@contextmanager
def replica(settings: Settings, folder: Path) -> Iterator[tuple[Any, str]]:
    folder.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), **settings.with_overrides(db_path=str(folder / "unused.db")).to_env()}
    with started(
        ["serve", "--mode", "http", "--port", "0"], env, folder / f"serve{time.monotonic_ns()}.log", READY
    ) as (
        process,
        url,
    ):
        yield process, url


def announced(slack: SlackSandbox, store: PostgresStore) -> Counter[str]:
    counted: Counter[str] = Counter()
    for message in slack.messages(CHANNEL):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ids.ORDER_CARD_EVENT:
            counted[metadata["event_payload"]["order_id"]] += 1
        elif metadata.get("event_type") == DIGEST_EVENT:
            digest = store.get_digest(metadata["event_payload"]["digest_id"])
            counted.update(digest.order_ids if digest else ())
    return counted


def runs_poller(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/healthz", timeout=5).json().get("jobs", {}).get("poller") == "running here")
    except httpx.HTTPError:
        return False


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def run(quick: bool) -> list[str]:
    kills = 2 if quick else 10
    graph, slack = GraphSandbox(orders=0), SlackSandbox()
    takeovers: list[float] = []
    late: list[float] = []
    orders: list[str] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(database("bench_failover"))
        graph_server = stack.enter_context(graph.serve())
        stack.enter_context(slack.serve())
        store = stack.enter_context(PostgresStore(url, pool_size=2))
        settings = sandbox_settings(
            graph, graph_server.url, slack, tmp / "unused.db", database_url=url, notify_channel=CHANNEL,
            poll_seconds=POLL_SECONDS,
        )  # fmt: skip
        replicas: dict[str, tuple[ExitStack, Any, str]] = {}

        def start(name: str) -> None:
            own = ExitStack()
            process, events = own.enter_context(replica(settings, tmp / name))
            replicas[name] = (own, process, events.removesuffix("/slack/events"))

        start("a")
        start("b")
        try:
            for _ in range(kills):
                assert wait(lambda: any(runs_poller(r[2]) for r in replicas.values()), 30), "nobody runs the poller"
                victim = next(name for name, r in replicas.items() if runs_poller(r[2]))
                own, process, _ = replicas.pop(victim)
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                killed_at = time.monotonic()
                own.close()
                new = [str(graph.add_order()["id"]) for _ in range(2)]
                orders.extend(new)
                if wait(lambda new=new: set(new) & set(announced(slack, store)), 60):
                    took = time.monotonic() - killed_at
                    takeovers.append(took)
                    if took > POLL_SECONDS + 5:
                        late.append(took)
                wait(lambda: set(orders) <= set(announced(slack, store)), 30)
                start(victim)
            wait(lambda: set(orders) <= set(announced(slack, store)), 30)
            counts = announced(slack, store)
        finally:
            for own, _, _ in replicas.values():
                own.close()
    twice = sorted(o for o, n in counts.items() if n > 1)
    missed = sorted(set(orders) - set(counts))
    return [
        f"{kills} kill -9 of the replica running the poller (poll every {POLL_SECONDS} s), 2 new orders after each:",
        f"  kill → first announcement by the survivor: median {statistics.median(takeovers):.1f} s, "
        f"max {max(takeovers):.1f} s (over {POLL_SECONDS + 5} s: {len(late)}); "
        f"took over after {len(takeovers)} of {kills} kills",
        f"  {len(orders)} orders: announced twice {len(twice)}, missed {len(missed)}",
    ]
