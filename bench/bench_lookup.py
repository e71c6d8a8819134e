"""End-to-end latency of ``/order <id>``: signed request in → ephemeral card recorded by the Slack sandbox.

Everything runs over loopback HTTP as in ``orderdesk serve --mode http``: the Slack sandbox plays Slack (signed
command in, response URL out), the Graph sandbox plays Meta with 0 ms and then 300 ms of injected latency on every
request. A card costs exactly one Graph request, so the bot's own overhead is the total minus the injected latency:
signature check, Bolt, the work pool, the Graph round trip on loopback (sandbox work included), the index
upsert, the ledger read, building the card and posting it to the response URL. Goal: under 25 ms median.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bot.runtime.serve import EVENTS_PATH, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox

LATENCIES_MS = (0, 300)
WARMUP = 5


def _lookup_ms(slack: SlackRequester, sandbox: SlackSandbox, order_id: str) -> float:
    """Milliseconds from sending the signed command until its answer is on the response URL."""
    started = time.perf_counter()
    sent = slack.slash_command(order_id)
    url = sent.response_url or ""
    sandbox.wait_for(lambda: sandbox.responses(url), timeout=30)
    return (time.perf_counter() - started) * 1000


def _summary(injected: int, totals: list[float]) -> str:
    overhead = sorted(total - injected for total in totals)
    p99 = statistics.quantiles(overhead, n=100)[98]
    return (
        f"graph latency {injected:3d} ms: total median {statistics.median(totals):7.2f} ms · overhead median "
        f"{statistics.median(overhead):6.2f} ms, p99 {p99:6.2f} ms ({len(totals)} lookups)"
    )


def run(quick: bool) -> list[str]:
    n = 20 if quick else 200
    graph_sandbox, slack_sandbox = GraphSandbox(orders=5), SlackSandbox()
    order_id = str(graph_sandbox.add_order(items=3)["id"])
    graph_server, slack_server = graph_sandbox.serve(), slack_sandbox.serve()
    lines = []
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
                for injected in LATENCIES_MS:
                    graph_sandbox.set_faults(clear=True)
                    graph_sandbox.set_faults(latency_ms=injected)
                    for _ in range(WARMUP):
                        _lookup_ms(slack, slack_sandbox, order_id)
                    graph_sandbox.clear_calls()
                    totals = [_lookup_ms(slack, slack_sandbox, order_id) for _ in range(n)]
                    calls = len(graph_sandbox.calls())
                    assert calls == n, f"{calls} Graph requests for {n} cards"
                    lines.append(_summary(injected, totals))
    finally:
        graph_server.stop()
        slack_server.stop()
    return [*lines, "(one Graph request per card, checked against the Graph sandbox's call record)"]
