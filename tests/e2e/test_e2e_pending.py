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


def keys_by_order(answer: JSON, action_id: str = ids.ACK) -> dict[str, str]:
    return {(data := json.loads(v))["o"]: data["k"] for v in action_values(answer, action_id)}


def line_of(answer: JSON, order_id: str) -> JSON:
    """The actions block of ``order_id``'s line on a page."""
    lines = [b for b in answer["blocks"] if b["type"] == "actions"]
    return next(b for b in lines if any(json.loads(e.get("value") or "{}").get("o") == order_id for e in b["elements"]))


def page_for(stack: Stack, user: str = USER) -> JSON:
    sent = stack.slack.slash_command("pending", user=user, channel=CHANNEL)
    (answer,) = responses(stack, sent.response_url or "", 1)
    return answer


def test_a_press_on_a_pending_line_answers_privately_and_never_takes_the_list_for_a_card(stack: Stack) -> None:
    orders = [stack.graph_sandbox.add_order() for _ in range(3)]
    stack.services.store.upsert_orders(orders)
    order_id = str(orders[0]["id"])
    listed = page_for(stack)
    line = line_of(listed, order_id)
    value = next(e["value"] for e in line["elements"] if e["action_id"] == ids.ACK)
    click = stack.slack.block_action(ids.ACK, value, user=USER, channel=CHANNEL, block_id=line.get("block_id"))
    assert click.response.status_code == 200
    answers = stack.slack_sandbox.wait_for(
        lambda: [r for r in stack.slack_sandbox.responses(click.response_url or "") if "Acknowledged" in json.dumps(r)]
    )
    assert stack.graph_sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
    # The list is no card of the order: nothing remembers it, so no redraw of the order ever replaces it.
    assert stack.services.store.cards_for_order(order_id) == []
    assert all(r.get("replace_original") is False for r in stack.slack_sandbox.responses(click.response_url or ""))
    assert answers[-1]["response_type"] == "ephemeral"


def test_pending_lines_keep_their_keys_across_pages_and_re_renders_until_a_write_finishes(stack: Stack) -> None:
    orders = [stack.graph_sandbox.add_order() for _ in range(25)]
    stack.services.store.upsert_orders(orders)
    first, again = page_for(stack), page_for(stack)
    assert keys_by_order(first) == keys_by_order(again)
    assert action_values(first, ids.ORDER_CANCEL) == action_values(again, ids.ORDER_CANCEL)
    other = keys_by_order(page_for(stack, user="U0AGENT2"))
    assert set(other.values()).isdisjoint(keys_by_order(first).values())  # one person's intent is not another's

    def second_page() -> dict[str, str]:
        (more,) = action_values(page_for(stack), ids.PENDING_MORE)
        click = stack.slack.block_action(ids.PENDING_MORE, more, user=USER, channel=CHANNEL)
        (answer,) = responses(stack, click.response_url or "", 1)
        return keys_by_order(answer)

    paged = second_page()
    assert len(paged) == 5
    assert second_page() == paged

    # A finished write of one order gives its line new keys; every other line keeps its own.
    order_id, key = next(iter(keys_by_order(first).items()))
    click = stack.slack.block_action(ids.ACK, json.dumps({"o": order_id, "k": key}, separators=(",", ":")))
    assert click.response.status_code == 200
    ledger = stack.services.order_actions.ledger
    stack.slack_sandbox.wait_for(lambda: (entry := ledger.current(order_id)) is not None and entry.state == "succeeded")
    after = {**keys_by_order(page_for(stack)), **second_page()}
    before = {**keys_by_order(first), **paged}
    assert after.get(order_id) != key
    assert {o: k for o, k in after.items() if o != order_id} == {o: k for o, k in before.items() if o != order_id}
