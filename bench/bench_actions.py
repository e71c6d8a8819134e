"""Card actions over loopback HTTP: from the review's submission to the refreshed card in #orders, per action, with
the Graph sandbox answering at once and with 300 ms of latency on every request.

Each sample posts a notification card for a fresh order (as the poller would), clicks the action's button, fills
the form, submits it (the review comes back in the ack), then times the review's submission until the card's
``chat.update`` reaches the Slack sandbox. It also counts the Graph requests of the write (from the review's
submission to the refreshed card: the POST, the read that redraws the cards) and of opening the modal.

Samples are a little over a second apart: the channel's lane paces its calls (one a second), and the thread line
of one sample would otherwise hold up the next sample's card update (measured: about 1 s added at Graph +0 ms).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.runtime.serve import EVENTS_PATH, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import notification_card, notification_text

CHANNEL = "C0ORDERS"
PAUSE_SECONDS = 1.1  # longer than the lane's pace, so each sample finds the channel's lane idle
USER = "U0AGENT1"
JSON = dict[str, Any]


def _typed(value: str, kind: str = "plain_text_input") -> JSON:
    return {"type": kind, "value": value}


def _selected(value: str, kind: str) -> JSON:
    return {"type": kind, "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}


def _quantities(view: JSON, first: str | None = None) -> JSON:
    values: JSON = {}
    for block in view.get("blocks", []):
        block_id = str(block.get("block_id", ""))
        if block_id.startswith("qty_"):
            units = block["element"]["initial_value"] if first is None else first
            values[block_id] = {block_id: _typed(units, "number_input")}
    return values


def ship_values(view: JSON, n: int) -> JSON:
    return {
        "carrier": {ids.CARRIER_SELECT: _selected("UPS", "external_select")},
        "tracking_number": {"tracking_number": _typed(f"1ZBENCH{n:08d}")},
        **_quantities(view),
    }


def tracking_values(view: JSON, n: int) -> JSON:
    shipment = next(b for b in view["blocks"] if b.get("block_id") == "shipment")
    option = shipment["element"]["options"][0]["value"]
    return {
        "shipment": {"shipment": _selected(option, "static_select")},
        "carrier": {ids.CARRIER_SELECT: _selected("DHL", "external_select")},
        "tracking_number": {"tracking_number": _typed(f"DHLBENCH{n:08d}")},
    }


def cancel_values(view: JSON, n: int) -> JSON:
    return {
        "reason": {"reason": _selected("OUT_OF_STOCK", "static_select")},
        "note": {"note": _typed("")},
        "restock": {"restock": {"type": "checkboxes", "selected_options": []}},
        **_quantities(view),
    }


def refund_values(view: JSON, n: int) -> JSON:
    """One unit of each shipped item, by quantity (under any approval threshold: the bench has none)."""
    return {
        "reason": {"reason": _selected("DAMAGED_GOODS", "static_select")},
        "note": {"note": _typed("")},
        **_quantities(view, first="1"),
    }


ACTIONS: dict[str, tuple[str, Callable[[JSON, int], JSON]]] = {
    "ship": (ids.ORDER_SHIP, ship_values),
    "update tracking": (ids.ORDER_TRACKING, tracking_values),
    "cancel": (ids.ORDER_CANCEL, cancel_values),
    "refund": (ids.ORDER_REFUND, refund_values),
}


class Bench:
    def __init__(self, graph: GraphSandbox, slack: SlackSandbox, services: Services, requester: SlackRequester) -> None:
        self.graph, self.slack, self.services, self.requester = graph, slack, services, requester
        settings = services.settings
        self.client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)

    def card(self, action: str, n: int) -> str:
        order_id = str(self.graph.add_order(state="IN_PROGRESS", items=1)["id"])
        if action in ("update tracking", "refund"):
            tracking = {"carrier": "FEDEX", "tracking_number": f"FX{n:08d}"}
            self.services.graph.send(
                "POST", f"{order_id}/shipments", {"idempotency_key": new_key(), "tracking_info": tracking}
            )
        order = self.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
        self.services.store.upsert_order(order)
        url = self.services.settings.commerce_manager_url
        blocks = notification_card(order, ack_key=new_key(), commerce_manager_url=url)
        posted = self.client.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))
        ts = str(posted["ts"])
        self.services.store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
        return ts

    def _new_form(self, known: set[str]) -> JSON | None:
        return next((v for v in self.slack.views() if v["id"] not in known and v.get("submit")), None)

    def sample(self, action: str, n: int) -> tuple[float, int, int]:
        """(ms from the review's submission to the refreshed card, Graph requests of the write, of the modal)."""
        action_id, values = ACTIONS[action]
        ts = self.card(action, n)
        time.sleep(PAUSE_SECONDS)
        message = self.slack.message(CHANNEL, ts)
        value = next(
            e["value"] for b in message["blocks"] for e in b.get("elements", []) if e.get("action_id") == action_id
        )
        known = {v["id"] for v in self.slack.views()}
        opened_at = len(self.graph.calls())
        self.requester.block_action(action_id, value, user=USER, message_ts=ts)
        view: JSON = self.slack.wait_for(lambda: self._new_form(known) or {}, 30)
        modal_reads = len(self.graph.calls()) - opened_at
        answer = self.requester.view_submission(view, values(view, n), user=USER)
        assert answer.response.json().get("response_action") == "update", answer.response.text
        review = self.slack.view(view["id"])
        edits = len(self.slack.edits(CHANNEL, ts))
        before = len(self.graph.calls())
        started = time.perf_counter()
        self.requester.view_submission(review, {}, user=USER)
        self.slack.wait_for(lambda: len(self.slack.edits(CHANNEL, ts)) > edits, 30)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, len(self.graph.calls()) - before, modal_reads


def _line(action: str, latency: int, samples: list[tuple[float, int, int]]) -> str:
    times = sorted(s[0] for s in samples)
    median = statistics.median(times)
    p99 = statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]
    writes = statistics.median(s[1] for s in samples)
    reads = statistics.median(s[2] for s in samples)
    return (
        f"{action:<16} graph +{latency:>3} ms   median {median:7.1f} ms   p99 {p99:7.1f} ms   "
        f"graph requests: {writes:g} for the write (POST + card read), {reads:g} to fill the modal   "
        f"({len(samples)} samples)"
    )


def run(quick: bool) -> list[str]:
    n = 3 if quick else 20
    lines = []
    for latency in (0, 300):
        graph, slack = GraphSandbox(orders=0), SlackSandbox()
        graph_server, slack_server = graph.serve(), slack.serve()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                settings = sandbox_settings(
                    graph,
                    graph_server.url,
                    slack,
                    Path(tmp) / "bench.db",
                    graph_max_retries=0,
                    http_workers=8,
                    cancel_allowed=(USER,),
                    refund_allowed=(USER,),
                )
                with (
                    Services.open(settings) as services,
                    build_server(settings, services) as server,
                    SlackRequester(slack, server.url + EVENTS_PATH, DEFAULT_SIGNING_SECRET) as requester,
                ):
                    bench = Bench(graph, slack, services, requester)
                    if latency:
                        graph.set_faults(latency_ms=latency)
                    for action in ACTIONS:
                        lines.append(_line(action, latency, [bench.sample(action, i) for i in range(n)]))
        finally:
            graph_server.stop()
            slack_server.stop()
    return lines
