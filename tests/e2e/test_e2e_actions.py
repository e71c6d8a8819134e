"""Card actions end to end over real HTTP: signed clicks and submissions → the bot → the Graph sandbox's state, the
refreshed cards and the modal, in the Slack sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.slack import ids
from bot.slack.views.blocks import notification_card, notification_text

CHANNEL = "C0ORDERS"
ALLOWED = "U0AGENT1"
NOT_ALLOWED = "U0AGENT2"


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(
        tmp_path,
        graph_max_retries=0,
        ship_allowed=(ALLOWED,),
        cancel_allowed=(ALLOWED,),
        refund_allowed=(ALLOWED,),
    ) as started:
        yield started


def post_card(stack: Stack, order_id: str) -> str:
    """Post a notification card as the poller would, and remember it: its ts."""
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    stack.services.store.upsert_order(order)
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    posted = client.chat_postMessage(
        channel=CHANNEL,
        blocks=notification_card(order, ack_key=new_key(), commerce_manager_url=stack.settings.commerce_manager_url),
        text=notification_text(order),
    )
    ts = str(posted["ts"])
    stack.services.store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
    return ts


def card_buttons(stack: Stack, ts: str) -> dict[str, str]:
    blocks = stack.slack_sandbox.message(CHANNEL, ts)["blocks"]
    return {e["action_id"]: e.get("value", "") for b in blocks for e in b.get("elements", []) if "action_id" in e}


def posts(stack: Stack, edge: str) -> list[dict[str, Any]]:
    return [c for c in stack.graph_sandbox.calls() if c["method"] == "POST" and c["path"].endswith(f"/{edge}")]


def open_form(stack: Stack, ts: str, action_id: str, user: str = ALLOWED) -> dict[str, Any]:
    """Click the card's button and wait for the modal to be filled with its form."""
    before = {v["id"] for v in stack.slack_sandbox.views()}
    value = card_buttons(stack, ts)[action_id]
    sent = stack.slack.block_action(action_id, value, user=user, message_ts=ts)
    assert sent.response.status_code == 200

    def filled() -> dict[str, Any] | None:
        for view in stack.slack_sandbox.views():
            if view["id"] not in before and view.get("submit"):
                return view
        return None

    view: dict[str, Any] = stack.slack_sandbox.wait_for(filled)
    return view


def submit(stack: Stack, view: dict[str, Any], values: dict[str, Any], user: str = ALLOWED) -> dict[str, Any]:
    sent = stack.slack.view_submission(view, values, user=user)
    assert sent.response.status_code == 200
    return sent.response.json() if sent.response.content else {}


def text(value: str, kind: str = "plain_text_input") -> dict[str, Any]:
    return {"value": {"type": kind, "value": value}}


def option(value: str, kind: str = "static_select") -> dict[str, Any]:
    return {"value": {"type": kind, "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}}


def ship_values(order: dict[str, Any], tracking: str, **quantities: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "carrier": {ids.CARRIER_SELECT: option("UPS", "external_select")["value"]},
        "tracking_number": {"tracking_number": text(tracking)["value"]},
        "shipping_method": {"shipping_method": text("")["value"]},
        "external_shipment_id": {"external_shipment_id": text("")["value"]},
    }
    for item in order["items"]["data"]:
        units = quantities.get(f"i{item['id']}", item["quantity"])
        values[f"qty_{item['id']}"] = {f"qty_{item['id']}": text(str(units), "number_input")["value"]}
    return values


def modal_text(stack: Stack, view_id: str) -> str:
    return json.dumps(stack.slack_sandbox.view(view_id)["blocks"])


def test_mark_shipped_from_the_card_ships_at_meta_and_refreshes_the_card(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(state="IN_PROGRESS", items=2)
    order_id = str(order["id"])
    ts = post_card(stack, order_id)
    assert ids.ORDER_SHIP in card_buttons(stack, ts)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    assert "Meta tells the buyer" in json.dumps(view["blocks"])
    full = stack.graph_sandbox.order(order_id)
    review = submit(stack, view, ship_values(full, "1Z999AA10123456784"))
    assert review["response_action"] == "update", review
    assert "1Z999AA10123456784" in json.dumps(review["view"]["blocks"])
    assert posts(stack, "shipments") == []  # nothing is sent before the review is confirmed
    done = submit(stack, stack.slack_sandbox.view(view["id"]), {})
    assert done["response_action"] == "update"
    stack.slack_sandbox.wait_for(lambda: "white_check_mark" in modal_text(stack, view["id"]))
    [sent] = posts(stack, "shipments")
    assert json.loads(sent["params"]["tracking_info"]) == {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    shipments = stack.graph_sandbox.order(order_id)["shipments"]["data"]
    assert [s["tracking_info"]["tracking_number"] for s in shipments] == ["1Z999AA10123456784"]
    # The card shows the order's new state, and its thread says who shipped what.
    stack.slack_sandbox.wait_for(lambda: "State: Completed" in json.dumps(stack.slack_sandbox.message(CHANNEL, ts)))
    thread = stack.slack_sandbox.wait_for(
        lambda: [m for m in stack.slack_sandbox.messages(CHANNEL, thread_ts=ts) if m["ts"] != ts]
    )
    assert "Shipped" in thread[-1]["text"]
    assert f"<@{ALLOWED}>" in thread[-1]["text"]
    assert ids.ORDER_SHIP not in card_buttons(stack, ts)  # every unit shipped
    assert ids.ORDER_TRACKING in card_buttons(stack, ts)
