"""Acknowledgements: ledger claims per second, and the time from a click to the updated card.

Claims reuse ``bench_ledger`` (a winning ``INSERT OR IGNORE`` + commit on a WAL file, 1 and 8 threads). The click
measurement runs the whole bot over loopback HTTP with both sandboxes at 0 ms latency: a signed block_actions
POST, the ack, the order lock and ledger claim, ``acknowledge_order`` at the Graph sandbox, the outcome, a Graph
read for the card and ``chat.update`` at the Slack sandbox, until the sandbox holds the acknowledged card.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from slack_sdk import WebClient

from bench.bench_ledger import _claims
from bot.actions.ledger import new_key
from bot.actions.status import CARD_NOTIFICATION
from bot.runtime.serve import EVENTS_PATH, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import ack_value, notification_card, notification_text

CHANNEL = "C0ORDERS"
WARMUP = 3


def _click_to_card(n: int) -> list[float]:
    """Seconds from sending each of ``n`` sequential clicks (one order each) to its card showing the outcome."""
    graph_sandbox, slack_sandbox = GraphSandbox(orders=0), SlackSandbox()
    with graph_sandbox.serve() as graph_server, slack_sandbox.serve(), tempfile.TemporaryDirectory() as tmp:
        settings = sandbox_settings(
            graph_sandbox,
            graph_server.url,
            slack_sandbox,
            Path(tmp) / "bench.db",
            merchant_ref_template="FB-{order_id}",
        )
        web = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        with (
            Services.open(settings) as services,
            build_server(settings, services) as server,
            SlackRequester(slack_sandbox, server.url + EVENTS_PATH) as slack,
        ):
            timings = []
            for _ in range(n + WARMUP):
                order = graph_sandbox.add_order()
                key = new_key()
                blocks = notification_card(order, ack_key=key, commerce_manager_url=settings.commerce_manager_url)
                ts = web.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"]
                services.store.remember_card(
                    order["id"], channel=CHANNEL, ts=ts, response_url=None, kind=CARD_NOTIFICATION
                )
                started = time.perf_counter()
                slack.block_action(ids.ACK, ack_value(order["id"], key), message_ts=ts)
                slack_sandbox.wait_for(partial(acknowledged, slack_sandbox, ts))
                timings.append(time.perf_counter() - started)
    return timings[WARMUP:]


def acknowledged(slack_sandbox: SlackSandbox, ts: str) -> bool:
    return "Acknowledged by" in str(slack_sandbox.message(CHANNEL, ts))


def run(quick: bool) -> list[str]:
    claims = 400 if quick else 16_000
    timings = sorted(t * 1000 for t in _click_to_card(20 if quick else 200))
    return [
        f"ledger claims on a WAL file ({claims:,}, fresh keys):",
        "  1 thread:  " + _claims(1, claims, lambda t, n: f"k{t}x{n}"),
        "  8 threads: " + _claims(8, claims // 8, lambda t, n: f"k{t}x{n}"),
        f"click to updated card over loopback, sandboxes at 0 ms ({len(timings)} clicks): median "
        f"{statistics.median(timings):.1f} ms, p90 {timings[int(len(timings) * 0.9)]:.1f} ms, max {timings[-1]:.1f} ms",
    ]
