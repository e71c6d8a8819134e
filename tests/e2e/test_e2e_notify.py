"""New-order notifications end to end: Graph sandbox, Slack sandbox and the bot (its poller inside serve) over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_stack import Stack

from bot.sandbox.graph import GraphSandbox
from bot.slack import ids
from bot.slack.publisher import DIGEST_EVENT

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
WAIT = 20.0  # generous: polls run every second, lanes post one message a second


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0), notify_channel=CHANNEL, poll_seconds=1) as s:
        yield s


def _cards(stack: Stack) -> dict[str, dict[str, Any]]:
    """Order id → its card, from the channel as a client with metadata sees it; duplicates fail the test."""
    cards: dict[str, dict[str, Any]] = {}
    for message in stack.slack_sandbox.messages(CHANNEL):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ids.ORDER_CARD_EVENT:
            order_id = metadata["event_payload"]["order_id"]
            assert order_id not in cards, f"order {order_id} announced twice"
            cards[order_id] = message
    return cards


def _wait_for_another_poll(stack: Stack) -> None:
    seen = len([c for c in stack.graph_sandbox.calls() if c["path"].endswith("commerce_orders")])
    stack.slack_sandbox.wait_for(
        lambda: len([c for c in stack.graph_sandbox.calls() if c["path"].endswith("commerce_orders")]) > seen + 1,
        timeout=WAIT,
    )


def test_orders_appear_once_processing_waits_and_cards_follow_the_order(stack: Stack) -> None:
    graph, slack = stack.graph_sandbox, stack.slack_sandbox
    first, second = graph.add_order(items=2), graph.add_order(items=1)
    held = graph.add_order(state="FB_PROCESSING")

    slack.wait_for(lambda: {first["id"], second["id"]} <= set(_cards(stack)), timeout=WAIT)
    _wait_for_another_poll(stack)
    assert held["id"] not in _cards(stack)

    graph.advance(held["id"], "CREATED")
    slack.wait_for(lambda: held["id"] in _cards(stack), timeout=WAIT)

    graph.advance(first["id"], "IN_PROGRESS", merchant_order_reference="SHOP-9")  # acknowledged elsewhere
    card = _cards(stack)[first["id"]]
    slack.wait_for(
        lambda: "Acknowledged, being" in json.dumps(slack.message(CHANNEL, card["ts"])["blocks"]), timeout=WAIT
    )
    replies = slack.wait_for(lambda: slack.messages(CHANNEL, thread_ts=card["ts"])[1:], timeout=WAIT)
    assert replies[0]["text"] == "Acknowledged (reference SHOP-9)"

    _wait_for_another_poll(stack)
    assert sorted(_cards(stack)) == sorted([first["id"], second["id"], held["id"]])
    assert len(slack.messages(CHANNEL)) == 3
    assert len(slack.messages(CHANNEL, thread_ts=card["ts"])) == 2


def test_a_burst_of_60_is_one_digest_despite_429s(stack: Stack) -> None:
    graph, slack = stack.graph_sandbox, stack.slack_sandbox
    slack.fail_next("chat.postMessage", 2, retry_after=1)
    orders = [graph.add_order() for _ in range(60)]

    (digest,) = slack.wait_for(lambda: slack.messages(CHANNEL), timeout=WAIT)
    assert digest["metadata"]["event_type"] == DIGEST_EVENT
    assert digest["text"] == "60 new orders awaiting acknowledgement"
    assert [c["status"] for c in slack.calls("chat.postMessage")] == [429, 429, 200]

    digest_id = digest["metadata"]["event_payload"]["digest_id"]
    sent = stack.slack.block_action(ids.DIGEST_LIST, digest_id, message_ts=digest["ts"])
    (listing,) = slack.wait_for(lambda: slack.responses(sent.response_url), timeout=WAIT)
    listed = json.dumps(listing["blocks"])
    assert all(order["id"] in listed for order in orders)

    _wait_for_another_poll(stack)
    assert len(slack.messages(CHANNEL)) == 1


def test_acknowledge_all_on_a_digest_acknowledges_each_order_once(stack: Stack) -> None:
    graph, slack = stack.graph_sandbox, stack.slack_sandbox
    orders = [str(graph.add_order()["id"]) for _ in range(12)]
    (digest,) = slack.wait_for(lambda: slack.messages(CHANNEL), timeout=WAIT)
    digest_id = digest["metadata"]["event_payload"]["digest_id"]

    first = stack.slack.block_action(ids.DIGEST_ACK_ALL, digest_id, message_ts=digest["ts"])
    second = stack.slack.block_action(ids.DIGEST_ACK_ALL, digest_id, message_ts=digest["ts"], user="U0AGENT2")
    for sent in (first, second):
        slack.wait_for(lambda sent=sent: slack.responses(sent.response_url), timeout=WAIT)

    acknowledged = [
        order["id"]
        for call in graph.calls()
        if call["path"].endswith("/acknowledge_orders") and call["status"] == 200
        for order in json.loads(call["params"]["orders"])
    ]
    assert sorted(acknowledged) == sorted(orders)  # each once, whichever click got it
    assert all(graph.order(o)["order_status"]["state"] == "IN_PROGRESS" for o in orders)
    # The next poll sees them acknowledged: the digest stops asking for it.
    slack.wait_for(
        lambda: slack.message(CHANNEL, digest["ts"])["text"] == "All 12 new orders acknowledged", timeout=WAIT
    )
    assert "actions" not in [b["type"] for b in slack.message(CHANNEL, digest["ts"])["blocks"]]


def test_a_digest_follows_its_orders_acknowledged_at_meta(stack: Stack) -> None:
    graph, slack = stack.graph_sandbox, stack.slack_sandbox
    orders = [str(graph.add_order()["id"]) for _ in range(17)]
    (digest,) = slack.wait_for(lambda: slack.messages(CHANNEL), timeout=WAIT)
    assert digest["text"] == "17 new orders awaiting acknowledgement"

    for order_id in orders[:14]:
        graph.advance(order_id, "IN_PROGRESS")
    slack.wait_for(
        lambda: slack.message(CHANNEL, digest["ts"])["text"] == "3 of 17 new orders still awaiting acknowledgement",
        timeout=WAIT,
    )
    shown = json.dumps(slack.message(CHANNEL, digest["ts"])["blocks"])
    assert "*3 of 17 new orders* still awaiting acknowledgement" in shown
    assert ids.DIGEST_ACK_ALL in shown

    for order_id in orders[14:]:
        graph.advance(order_id, "COMPLETED")
    slack.wait_for(
        lambda: slack.message(CHANNEL, digest["ts"])["text"] == "All 17 new orders acknowledged", timeout=WAIT
    )
    blocks = slack.message(CHANNEL, digest["ts"])["blocks"]
    assert "actions" not in [b["type"] for b in blocks]
    assert "awaiting" not in json.dumps(blocks)

    def said() -> list[str]:
        replies = slack.messages(CHANNEL, thread_ts=digest["ts"])[1:]
        lines = [line for reply in replies for line in reply["text"].splitlines()]
        return sorted(line.removeprefix("• ").split(":")[0] for line in lines)

    # One line for each order (the reply follows the redraw), in as few replies as there were polls.
    slack.wait_for(lambda: len(said()) >= len(orders), timeout=WAIT)
    assert said() == sorted(f"Order {o}" for o in orders)
    assert len(slack.messages(CHANNEL)) == 1


def test_healthz_reports_the_poller(stack: Stack) -> None:
    stack.graph_sandbox.add_order()
    stack.slack_sandbox.wait_for(lambda: _cards(stack), timeout=WAIT)
    _wait_for_another_poll(stack)

    poller = httpx.get(f"{stack.server.url}/healthz").json()["poller"]

    assert poller["last_successful_poll"] is not None
    assert poller["watermark"] is not None
    assert (poller["queue"], poller["unfinished"], poller["last_error"]) == (0, 0, None)
