"""``/order export`` of 10,000 orders over loopback HTTP: the bot process's peak memory against idle.

The store is seeded directly with full Graph orders (sandbox-generated, last updated within the window), then a
signed ``/order export since:30d`` goes through the whole bot: the CSV is written to a temporary file as rows are
read, and streamed to the Slack sandbox's upload URL. tracemalloc measures Python allocations in this process
(bot, sandboxes and all; the Slack sandbox writes uploads to disk in chunks, so it adds no copy of the file):
the peak while exporting, above the idle level right before, should stay far below the file's size and not grow
with the number of orders.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.runtime.serve import EVENTS_PATH, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox

TEMPLATES = 50  # distinct generated orders, copied under new ids: seeding 10,000 is then quick


def _seed(services: Services, graph: GraphSandbox, count: int) -> None:
    templates = [graph.add_order() for _ in range(TEMPLATES)]
    now = time.time()

    def orders() -> Iterator[dict[str, Any]]:
        for n in range(count):
            updated = datetime.fromtimestamp(now - (n % 20) * 86_400 - 60, UTC).isoformat(timespec="seconds")
            yield {**templates[n % TEMPLATES], "id": str(9_000_000_000_000_000 + n), "last_updated": updated}

    services.store.upsert_orders(orders())


def _export(slack: SlackRequester, sandbox: SlackSandbox) -> tuple[float, int, str]:
    """Seconds until the answer, the uploaded file's size, and the answer."""
    started = time.perf_counter()
    sent = slack.slash_command("export since:30d")
    url = sent.response_url or ""
    answers = sandbox.wait_for(lambda: sandbox.wait_responses(url, count=2, timeout=120), timeout=120)
    seconds = time.perf_counter() - started
    size = int(sandbox.calls("upload")[-1]["args"]["size"])  # not files(), which reads the content into memory
    return seconds, size, str((answers or [{}])[-1].get("text"))


def run(quick: bool) -> list[str]:
    count = 1_000 if quick else 10_000
    graph_sandbox, slack_sandbox = GraphSandbox(orders=0), SlackSandbox()
    graph_server, slack_server = graph_sandbox.serve(), slack_sandbox.serve()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = sandbox_settings(
                graph_sandbox, graph_server.url, slack_sandbox, Path(tmp) / "bench.db", log_level="WARNING"
            )
            with (
                Services.open(settings) as services,
                build_server(settings, services) as server,
                SlackRequester(slack_sandbox, server.url + EVENTS_PATH, DEFAULT_SIGNING_SECRET) as slack,
            ):
                _seed(services, graph_sandbox, count)
                _export(slack, slack_sandbox)  # warm-up: imports, connections, caches
                slack_sandbox.reset()
                tracemalloc.start()
                time.sleep(0.2)
                idle, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                seconds, size, answer = _export(slack, slack_sandbox)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
    finally:
        graph_server.stop()
        slack_server.stop()
    assert f"{count:,}".replace(",", "") in answer.replace(",", ""), answer
    return [
        f"{count} orders exported in {seconds:.2f} s (under tracemalloc), CSV {size / 1024:.0f} KiB",
        f"peak Python memory while exporting: {(peak - idle) / 1024:.0f} KiB above the idle bot (tracemalloc)",
    ]
