"""``/order pending`` and ``/order ref`` end to end over real HTTP: signed commands and clicks → the bot → the
Slack sandbox's response URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk.models.blocks import Block

from bot.sandbox.graph import GraphSandbox
from bot.slack import ids

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
USER = "U0AGENT1"
JSON = dict[str, Any]


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0)) as started:
        yield started


def responses(stack: Stack, url: str, count: int) -> list[JSON]:
    sandbox = stack.slack_sandbox
    sandbox.wait_for(lambda: len(sandbox.responses(url)) >= count)
    return sandbox.responses(url)


def valid(answer: JSON) -> None:
    assert len(answer["blocks"]) <= 50
    for block in answer["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def action_values(answer: JSON, action_id: str) -> list[str]:
    return [
        e.get("value", "")
        for b in answer["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]


def test_pending_pages_with_show_more_in_place(stack: Stack) -> None:
    orders = [stack.graph_sandbox.add_order() for _ in range(30)]
    stack.services.store.upsert_orders(orders)  # what the poller indexes
    sent = stack.slack.slash_command("pending", user=USER, channel=CHANNEL)
    assert sent.response.status_code == 200
    (first,) = responses(stack, sent.response_url or "", 1)
    valid(first)
    assert first["response_type"] == "ephemeral"
    text = json.dumps(first["blocks"], ensure_ascii=False)
    assert "1–20 of 30" in text
    assert "ack due in 11 h" in text or "ack due in 12 h" in text  # created moments ago
    acks = action_values(first, ids.ACK)
    assert len(acks) == 20
    (more,) = action_values(first, ids.PENDING_MORE)

    click = stack.slack.block_action(ids.PENDING_MORE, more, user=USER, channel=CHANNEL)
    assert click.response.status_code == 200
    (second,) = responses(stack, click.response_url or "", 1)
    valid(second)
    assert second["replace_original"] is True
    assert "21–30 of 30" in json.dumps(second["blocks"], ensure_ascii=False)
    assert action_values(second, ids.PENDING_MORE) == []
    shown = [json.loads(v)["o"] for v in acks + action_values(second, ids.ACK)]
    assert sorted(shown) == sorted(str(o["id"]) for o in orders)


def test_ref_looks_up_a_reference_spelled_like_a_command(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.advance(order_id, "IN_PROGRESS", "pending")
    sent = stack.slack.slash_command("ref pending", user=USER, channel=CHANNEL)
    (answer,) = responses(stack, sent.response_url or "", 1)
    assert f"Order {order_id}" in json.dumps(answer["blocks"])
    sent = stack.slack.slash_command("pending", user=USER, channel=CHANNEL)
    (queue,) = responses(stack, sent.response_url or "", 1)
    assert "Orders waiting for you* (1 order)" in json.dumps(queue["blocks"])  # the queue, not a lookup


def test_ref_looks_up_a_reference_that_looks_like_an_order_id(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.advance(order_id, "IN_PROGRESS", "12345678901")
    sent = stack.slack.slash_command("ref 12345678901", user=USER, channel=CHANNEL)
    (answer,) = responses(stack, sent.response_url or "", 1)
    assert f"Order {order_id}" in json.dumps(answer["blocks"])
