"""One notification poll over N orders of which 100 are new: Graph requests, wall time, peak memory.

The Graph sandbox runs in its own process and the Slack sandbox in this one, both on loopback; the store is a fresh
sqlite file. A first pass indexes the
seeded orders and announces the ones already awaiting acknowledgement (as digests), then 100 orders are added and
the measured pass scans every order (``since=0``, all states) and posts the 100 cards (``pace=0``: Slack's 1/s
would only measure the sleep). Wall time is taken without tracemalloc; peak memory is a second, identical setup
under tracemalloc, at several N, because the point is that it stays flat: orders are streamed, never collected.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.notify.poller import Notifier
from bot.sandbox.graph import SANDBOX_TOKEN
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackSandbox
from bot.slack.publisher import SlackPublisher
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"


@dataclass(frozen=True)
class Measured:
    scanned: int
    announced: int
    graph_requests: int
    seconds: float
    peak_bytes: int


@contextmanager
def _graph_sandbox(orders: int) -> Iterator[httpx.Client]:
    """The Graph sandbox in its own process (``orderdesk sandbox``), so the measured process holds only the bot:
    the sandbox's order book and call record would otherwise count in the peak (and share the GIL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--orders", str(orders), "--seed", "11"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" at ", 1)[1].strip()
        with httpx.Client(base_url=url, timeout=60) as control:
            yield control
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def _notifier(orders: int, new: int) -> Iterator[tuple[Notifier, httpx.Client]]:
    """A notifier whose store already knows the seeded orders, and ``new`` orders added at Meta since."""
    slack = SlackSandbox()
    slack_server = slack.serve()
    try:
        with _graph_sandbox(orders) as control, tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                slack_bot_token=slack.bot_token,
                slack_signing_secret=DEFAULT_SIGNING_SECRET,
                slack_api_url=slack.api_url,
                fb_page_id="1122334455",
                fb_page_access_token=SANDBOX_TOKEN,
                fb_graph_url=str(control.base_url).rstrip("/"),
                db_path=str(Path(tmp) / "bench.db"),
                notify_channel=CHANNEL,
                digest_after=1000,
            )
            with GraphClient.from_settings(settings) as graph, Store(settings.db_path) as store:
                publisher = SlackPublisher.from_settings(settings, pace=0)
                Notifier(settings.with_overrides(digest_after=1), graph, store, publisher).poll(since=0)
                for _ in range(new):
                    control.post("/_sandbox/orders", json={}).raise_for_status()
                control.delete("/_sandbox/calls").raise_for_status()
                yield Notifier(settings, graph, store, publisher), control
    finally:
        slack_server.stop()


def measure(orders: int, new: int, *, traced: bool) -> Measured:
    with _notifier(orders, new) as (notifier, control):
        if traced:
            tracemalloc.start()
        try:
            started = time.perf_counter()
            result = notifier.poll(since=0)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if traced else 0
        finally:
            if traced:
                tracemalloc.stop()
        requests = len(control.get("/_sandbox/calls").json())
    if result.announced != new:
        raise AssertionError(f"announced {result.announced}, expected {new}")
    return Measured(result.scanned, result.announced, requests, seconds, peak)


def run(quick: bool) -> list[str]:
    sizes, new = ((250, 500), 10) if quick else ((2_500, 5_000, 10_000), 100)
    timed = measure(sizes[-1], new, traced=False)
    lines = [
        f"poll over {timed.scanned} orders, {timed.announced} new: {timed.graph_requests} Graph requests, "
        f"{timed.seconds:.2f}s wall ({timed.scanned / timed.seconds:,.0f} orders/s, cards posted included)"
    ]
    for size in sizes:
        traced = measure(size, new, traced=True)
        lines.append(
            f"peak memory (tracemalloc, the bot's process; Slack sandbox included) scanning {traced.scanned:>6} "
            "orders: "
            f"{traced.peak_bytes / 2**20:.1f} MiB"
        )
    return lines
