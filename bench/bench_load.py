"""Load: many agents looking orders up and acknowledging them at once, over real HTTP, with a slow Meta.

Each agent is a thread with its own HTTP client that loops until the deadline: ``/order <id>`` for a random order
of the pool, wait for the card (answer latency), and, when the card offers Acknowledge, click it and wait for the
card to change (answer latency again). Every request's ack latency (until the HTTP answer) is recorded: Slack
gives up after 3 seconds. The Graph sandbox answers every request after ``GRAPH_LATENCY_MS``, as a loaded Meta
might. Errors: a non-200 ack, no answer within 10 seconds, or the generic "Something went wrong" answer.

It runs once per listener/server thread count (``Settings.http_workers`` sizes both waitress's threads and
Bolt's listener pool): a listener waits in the pool for a thread before it can call ``ack()``, so the pool, not
the CPU, decides whether acks stay under 3 seconds when every listener waits on Meta.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot import ids
from bot.config import Settings
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.serve import EVENTS_PATH, build_server
from bot.services import Services

GRAPH_LATENCY_MS = 200
ANSWER_TIMEOUT = 10.0
CHANNEL = "C0ORDERS"
USER = "U0AGENT1"


@dataclass
class Tally:
    """What the agents measured; one lock, appended to from every agent thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ack_ms: list[float] = field(default_factory=list)  # every request, lookups and clicks
    lookup_answer_ms: list[float] = field(default_factory=list)
    click_answer_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


def rss_mb() -> float:
    """Resident memory of this process (bot, sandboxes and agents share it), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def ack_button(answer: dict[str, Any]) -> str | None:
    for block in answer.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == ids.ACK:
                return str(element["value"])
    return None


def click(slack: SlackRequester, sandbox: SlackSandbox, value: str, card_url: str) -> tuple[int, float, str]:
    """An Acknowledge click on the ephemeral card answered at ``card_url`` (built directly: the requester's own
    ``block_action`` searches every ephemeral message in the sandbox, which is the sandbox's cost, not the bot's)."""
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "username": "agent1", "name": "agent1", "team_id": sandbox.team_id},
        "team": {"id": sandbox.team_id, "domain": "sandbox"},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL, "is_ephemeral": True},
        "channel": {"id": CHANNEL, "name": "orders"},
        "trigger_id": sandbox.new_trigger_id(user=USER),
        "response_url": card_url,
        "actions": [{"type": "button", "action_id": ids.ACK, "block_id": "actions", "value": value, "action_ts": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    started = time.perf_counter()
    response = slack.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded", **slack.sign(body)})
    return response.status_code, time.perf_counter() - started, card_url


def agent(events_url: str, sandbox: SlackSandbox, order_ids: list[str], deadline: float, tally: Tally) -> None:
    rng = random.Random()
    with SlackRequester(sandbox, events_url, DEFAULT_SIGNING_SECRET) as slack:
        while time.monotonic() < deadline:
            sent = slack.slash_command(rng.choice(order_ids), user=USER, channel=CHANNEL)
            with tally.lock:
                tally.ack_ms.append(sent.elapsed * 1000)
            if sent.response.status_code != 200:
                tally.error(f"lookup HTTP {sent.response.status_code}")
                continue
            answered = wait_answer(sandbox, sent.response_url or "", 1, tally, "lookup")
            if answered is None:
                continue
            answers, took = answered
            with tally.lock:
                tally.lookup_answer_ms.append(took * 1000)
            value = ack_button(answers[0])
            if value is None or time.monotonic() >= deadline:
                continue
            status, elapsed, card_url = click(slack, sandbox, value, sent.response_url or "")
            with tally.lock:
                tally.ack_ms.append(elapsed * 1000)
            if status != 200:
                tally.error(f"click HTTP {status}")
                continue
            answered = wait_answer(sandbox, card_url, 2, tally, "click")
            if answered is not None:
                with tally.lock:
                    tally.click_answer_ms.append(answered[1] * 1000)


def wait_answer(
    sandbox: SlackSandbox, url: str, count: int, tally: Tally, kind: str
) -> tuple[list[dict[str, Any]], float] | None:
    """The first ``count`` posts to a response URL and how long they took; None (an error) if they did not come."""
    started = time.perf_counter()
    # Polled, not sandbox.wait_for: 200 threads woken by every change of the sandbox would measure the GIL.
    while len(answers := sandbox.responses(url)) < count:
        if time.perf_counter() - started > ANSWER_TIMEOUT:
            tally.error(f"{kind}: no answer within {ANSWER_TIMEOUT:.0f}s")
            return None
        time.sleep(0.05)
    if "Something went wrong" in json.dumps(answers):
        tally.error(f"{kind}: generic error answer")
    return answers, time.perf_counter() - started


def run_once(agents: int, seconds: float, workers: int) -> list[str]:
    graph_sandbox = GraphSandbox(orders=600 if agents > 20 else 100, ragged_pages=False)
    slack_sandbox = SlackSandbox()
    graph_server, slack_server = graph_sandbox.serve(), slack_sandbox.serve()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = sandbox_settings(
                graph_sandbox,
                graph_server.url,
                slack_sandbox,
                Path(tmp) / "load.db",
                http_workers=workers,
                merchant_ref_template="FB-{order_id}",
            )
            order_ids = graph_sandbox.order_ids()
            graph_sandbox.set_faults(latency_ms=GRAPH_LATENCY_MS)
            tally = Tally()
            with Services.open(settings) as services, build_server(settings, services) as server:
                rss = [rss_mb()]
                deadline = time.monotonic() + seconds
                threads = [
                    threading.Thread(
                        target=agent,
                        args=(server.url + EVENTS_PATH, slack_sandbox, order_ids, deadline, tally),
                        daemon=True,
                    )
                    for _ in range(agents)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(seconds / 2)
                rss.append(rss_mb())
                for thread in threads:
                    thread.join(seconds + 3 * ANSWER_TIMEOUT)
                rss.append(rss_mb())
            acknowledgements = sum(c["method"] == "POST" for c in graph_sandbox.calls())
    finally:
        graph_server.stop()
        slack_server.stop()
    over_3s = sum(ms > 3000 for ms in tally.ack_ms)
    errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(tally.errors.items())) or "none"
    return [
        f"{agents} agents for {seconds:.0f}s, Graph latency {GRAPH_LATENCY_MS} ms, http_workers={workers}",
        f"  requests {len(tally.ack_ms)} ({len(tally.ack_ms) / seconds:.0f}/s), acks sent to Meta {acknowledgements}",
        f"  ack latency p50 {percentile(tally.ack_ms, 50):.0f} ms, p99 {percentile(tally.ack_ms, 99):.0f} ms, "
        f"max {max(tally.ack_ms, default=float('nan')):.0f} ms, over 3 s: {over_3s}",
        f"  lookup answer p50 {percentile(tally.lookup_answer_ms, 50):.0f} ms, "
        f"p99 {percentile(tally.lookup_answer_ms, 99):.0f} ms (n={len(tally.lookup_answer_ms)})",
        f"  ack-click answer p50 {percentile(tally.click_answer_ms, 50):.0f} ms, "
        f"p99 {percentile(tally.click_answer_ms, 99):.0f} ms (n={len(tally.click_answer_ms)})",
        f"  errors: {errors}",
        f"  RSS start/middle/end: {' / '.join(f'{mb:.0f}' for mb in rss)} MB",
    ]


def run(quick: bool) -> list[str]:
    if quick:
        return run_once(agents=10, seconds=3, workers=Settings.http_workers)
    lines: list[str] = []
    for workers in (Settings.http_workers, 64):
        lines += run_once(agents=200, seconds=60, workers=workers)
    return lines
