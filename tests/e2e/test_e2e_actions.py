"""Card actions end to end over real HTTP: signed clicks and submissions → the bot → the Graph sandbox's state, the
refreshed cards and the modal, in the Slack sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from e2e_stack import Stack
from slack_sdk import WebClient

from bot.actions.ledger import card_key, new_key
from bot.actions.status import notification_place
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
    """Post a notification card as the poller would (with the key the poller gives it), and remember it: its ts."""
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    stack.services.store.upsert_order(order)
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    posted = client.chat_postMessage(
        channel=CHANNEL,
        blocks=notification_card(
            order,
            ack_key=card_key(stack.services.order_actions.ledger.card_token(order_id), notification_place(CHANNEL)),
            commerce_manager_url=stack.settings.commerce_manager_url,
        ),
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


def review_of(stack: Stack, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Submit the form and return the review (the modal as Slack now holds it)."""
    answer = submit(stack, view, values)
    assert answer.get("response_action") == "update", answer
    return stack.slack_sandbox.view(view["id"])


def outcome_text(stack: Stack, view_id: str) -> str:
    """The modal's words once the write's outcome replaced the review and the "sending" step."""

    def settled() -> str:
        shown = modal_text(stack, view_id)
        return "" if "sending to Meta" in shown or "Check before" in shown else shown

    found: str = stack.slack_sandbox.wait_for(settled)
    return found


def cancel_values(order: dict[str, Any], reason: str, note: str, restock: bool, **quantities: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "reason": {"reason": option(reason)["value"]},
        "note": {"note": text(note)["value"]},
        "restock": {"restock": {"type": "checkboxes", "selected_options": [{"value": "restock"}] if restock else []}},
    }
    for item in order["items"]["data"]:
        units = quantities.get(f"i{item['id']}", item["quantity"])
        values[f"qty_{item['id']}"] = {f"qty_{item['id']}": text(str(units), "number_input")["value"]}
    return values


def test_a_partial_cancel_cancels_the_chosen_units_and_shows_the_buyer_text_before_sending(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(state="IN_PROGRESS", items=2)
    order_id = str(order["id"])
    ts = post_card(stack, order_id)
    full = stack.graph_sandbox.order(order_id)
    first, second = full["items"]["data"]
    view = open_form(stack, ts, ids.ORDER_CANCEL)
    assert "The buyer sees this note" in json.dumps(view["blocks"])
    values = cancel_values(full, "OUT_OF_STOCK", "Sorry, sold out", True, **{f"i{second['id']}": 0})
    review = review_of(stack, view, values)
    shown = json.dumps(review["blocks"])
    assert "Out of stock" in shown
    assert "Sorry, sold out" in shown
    assert "The buyer reads" in shown
    submit(stack, review, {})
    assert "white_check_mark" in outcome_text(stack, view["id"])
    [sent] = posts(stack, "cancellations")
    assert json.loads(sent["params"]["items"]) == [{"item_id": first["id"], "quantity": first["quantity"]}]
    assert json.loads(sent["params"]["cancel_reason"]) == {
        "reason_code": "OUT_OF_STOCK",
        "reason_description": "Sorry, sold out",
    }
    assert sent["params"]["restock_items"] == "true"
    assert "_earlier" not in sent["params"]  # orderdesk's own note of earlier cancellations stays in the ledger
    after = stack.graph_sandbox.order(order_id)
    assert after["order_status"]["state"] == "IN_PROGRESS"  # the other item is still open
    assert ids.ORDER_SHIP in stack.slack_sandbox.wait_for(lambda: card_buttons(stack, ts))
    history = stack.slack.slash_command(f"history {order_id}")
    answer = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(history.response_url or "")))
    assert "Cancelled" in answer
    assert f"<@{ALLOWED}>" in answer
    assert sent["params"]["idempotency_key"] in answer


def test_update_tracking_changes_the_shipments_number_at_meta(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    stack.services.graph.send(
        "POST",
        f"{order_id}/shipments",
        {"idempotency_key": new_key(), "tracking_info": {"carrier": "FEDEX", "tracking_number": "OLD123"}},
    )
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_TRACKING)
    shipment_id = stack.graph_sandbox.order(order_id)["shipments"]["data"][0]["id"]
    values = {
        "shipment": {"shipment": option(shipment_id)["value"]},
        "carrier": {ids.CARRIER_SELECT: option("DHL", "external_select")["value"]},
        "tracking_number": {"tracking_number": text("NEW456")["value"]},
    }
    review = review_of(stack, view, values)
    assert "OLD123" in json.dumps(review["blocks"])
    assert "NEW456" in json.dumps(review["blocks"])
    submit(stack, review, {})
    assert "white_check_mark" in outcome_text(stack, view["id"])
    [sent] = posts(stack, "update_shipment")
    assert sent["params"]["shipment_id"] == shipment_id
    tracking = stack.graph_sandbox.order(order_id)["shipments"]["data"][0]["tracking_info"]
    assert (tracking["carrier"], tracking["tracking_number"]) == ("dhl", "NEW456")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"carrier": ""}, "carrier", "Choose a carrier"),
        ({"carrier": "NOT_A_CARRIER"}, "carrier", "Choose a carrier from the list"),
        ({"tracking_number": ""}, "tracking_number", "Enter the tracking number"),
        ({"tracking_number": "1Z 999"}, "tracking_number", "without spaces"),
        ({"tracking_number": "TAKEN1"}, "tracking_number", "already on this order"),
        ({"external_shipment_id": "box-1"}, "external_shipment_id", "Letters, digits and _ only"),
        ({"qty": "7"}, "qty", "At most 1"),
        ({"qty": "x"}, "qty", "whole number"),
        ({"qty": "0"}, "qty", "Ship at least one unit"),
    ],
)
def test_the_ship_form_refuses_each_invalid_input_inline_without_calling_meta(
    stack: Stack, change: dict[str, str], field: str, words: str
) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}, {"quantity": 1}])["id"])
    stack.services.graph.send(
        "POST",
        f"{order_id}/shipments",
        {
            "idempotency_key": new_key(),
            "tracking_info": {"carrier": "UPS", "tracking_number": "TAKEN1"},
            "items": [{"item_id": stack.graph_sandbox.order(order_id)["items"]["data"][0]["id"], "quantity": 1}],
        },
    )
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    full = stack.graph_sandbox.order(order_id)
    first, second = full["items"]["data"]
    values = ship_values(full, change.get("tracking_number", "1Z999"), **{f"i{first['id']}": 1})
    values[f"qty_{first['id']}"][f"qty_{first['id']}"]["value"] = change.get("qty", "1") if "qty" in change else "1"
    if change.get("qty") == "7":
        field_id = f"qty_{first['id']}"
    elif "qty" in change:
        values[f"qty_{second['id']}"][f"qty_{second['id']}"]["value"] = "0"
        field_id = f"qty_{first['id']}"
    else:
        field_id = field
    if "carrier" in change:
        values["carrier"][ids.CARRIER_SELECT]["selected_option"]["value"] = change["carrier"]
    if "external_shipment_id" in change:
        values["external_shipment_id"]["external_shipment_id"]["value"] = change["external_shipment_id"]
    stack.graph_sandbox.clear_calls()
    answer = submit(stack, view, values)
    assert answer["response_action"] == "errors", answer
    assert words in answer["errors"][field_id]
    assert stack.graph_sandbox.calls() == []


def test_twenty_concurrent_submissions_of_one_review_make_one_shipment(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(state="IN_PROGRESS", items=2)
    order_id = str(order["id"])
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    review = review_of(stack, view, ship_values(stack.graph_sandbox.order(order_id), "1ZCONCURRENT"))
    stack.graph_sandbox.set_faults(latency_ms=300, match={"method": "POST"})
    # The very same submission twenty times at once (double clicks, Slack's retries), signed as Slack signs it.
    payload = {
        "type": "view_submission",
        "token": "sandbox-verification-token",
        "user": {"id": ALLOWED, "team_id": stack.slack_sandbox.team_id},
        "team": {"id": stack.slack_sandbox.team_id},
        "view": {k: v for k, v in review.items() if k in ("id", "type", "callback_id", "private_metadata", "blocks")}
        | {"state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        sent = list(pool.map(lambda _: stack.slack.send_raw(body, {**headers, **stack.slack.sign(body)}), range(20)))
    assert [s.status_code for s in sent] == [200] * 20
    stack.slack_sandbox.wait_for(
        lambda: (
            (e := stack.services.order_actions.ledger.for_order(order_id, "create_shipment"))
            and e[0].state == "succeeded"
        ),
        timeout=10,
    )
    shipped = [c for c in posts(stack, "shipments") if c["status"] == 200]
    assert len(shipped) == 1
    assert len(stack.graph_sandbox.order(order_id)["shipments"]["data"]) == 1


def test_a_click_by_someone_not_allowed_is_refused_privately_naming_who_may_and_meta_is_not_called(
    stack: Stack,
) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    ts = post_card(stack, order_id)
    stack.graph_sandbox.clear_calls()
    for action_id in (ids.ORDER_SHIP, ids.ORDER_CANCEL):
        sent = stack.slack.block_action(action_id, card_buttons(stack, ts)[action_id], user=NOT_ALLOWED, message_ts=ts)
        answer = json.dumps(stack.slack_sandbox.wait_for(lambda s=sent: stack.slack_sandbox.responses(s.response_url)))
        assert "You are not allowed to" in answer
        assert f"<@{ALLOWED}>" in answer
    assert stack.graph_sandbox.calls() == []
    assert stack.slack_sandbox.views() == []


def test_a_submission_by_someone_not_allowed_is_refused_on_the_modal_and_nothing_is_sent(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    review = review_of(stack, view, ship_values(stack.graph_sandbox.order(order_id), "1ZNOPE"))
    submit(stack, review, {}, user=NOT_ALLOWED)
    assert "You are not allowed to ship orders" in outcome_text(stack, view["id"])
    assert posts(stack, "shipments") == []


def test_cancel_with_nobody_allowed_says_who_can_allow_it(tmp_path: Path) -> None:
    with Stack.start(tmp_path) as stack:
        order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
        ts = post_card(stack, order_id)
        stack.graph_sandbox.clear_calls()
        sent = stack.slack.block_action(ids.ORDER_CANCEL, card_buttons(stack, ts)[ids.ORDER_CANCEL], message_ts=ts)
        answer = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url)))
        assert "Nobody may cancel orders" in answer
        assert "ORDERDESK_CANCEL_ALLOWED" in answer
        assert stack.graph_sandbox.calls() == []


def test_meta_refusing_a_reused_tracking_number_is_said_in_words_on_the_modal(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}])["id"])
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    full = stack.graph_sandbox.order(order_id)
    item = full["items"]["data"][0]["id"]
    review = review_of(stack, view, ship_values(full, "1ZSAME", **{f"i{item}": 1}))
    # Meanwhile someone ships the other unit in Commerce Manager with that very number.
    stack.services.graph.send(
        "POST",
        f"{order_id}/shipments",
        {
            "idempotency_key": new_key(),
            "tracking_info": {"carrier": "UPS", "tracking_number": "1ZSAME"},
            "items": [{"item_id": item, "quantity": 1}],
        },
    )
    submit(stack, review, {})
    words = outcome_text(stack, view["id"])
    assert "tracking number is already on this order" in words
    assert "Fix it and open the action again" in words


def test_the_same_card_sending_a_different_shipment_is_refused_without_calling_meta(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 3}])["id"])
    ts = post_card(stack, order_id)
    value = card_buttons(stack, ts)[ids.ORDER_SHIP]
    view = open_form(stack, ts, ids.ORDER_SHIP)
    form = stack.slack_sandbox.view(view["id"])
    full = stack.graph_sandbox.order(order_id)
    item = full["items"]["data"][0]["id"]
    submit(stack, review_of(stack, form, ship_values(full, "1ZFIRST", **{f"i{item}": 1})), {})
    assert "white_check_mark" in outcome_text(stack, view["id"])
    # A second modal opened from the same (old) button: the same key, other parameters.
    stack.slack.block_action(ids.ORDER_SHIP, value, message_ts=ts)
    second = stack.slack_sandbox.wait_for(
        lambda: [v for v in stack.slack_sandbox.views() if v["id"] != view["id"] and v.get("submit")]
    )[-1]
    review = review_of(stack, second, ship_values(stack.graph_sandbox.order(order_id), "1ZSECOND", **{f"i{item}": 1}))
    submit(stack, review, {})
    assert "already sent a different shipment" in outcome_text(stack, second["id"])
    assert [p["params"]["idempotency_key"] for p in posts(stack, "shipments")] == [json.loads(value)["k"]]


def test_a_shipment_whose_answer_was_lost_is_sent_again_with_its_key_and_counted_once(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_SHIP)
    review = review_of(stack, view, ship_values(stack.graph_sandbox.order(order_id), "1ZLOST"))
    stack.graph_sandbox.set_faults(drop_after_commit=1, match={"method": "POST", "path": "/shipments"})
    submit(stack, review, {})
    assert "Not through yet" in outcome_text(stack, view["id"])
    key = posts(stack, "shipments")[0]["params"]["idempotency_key"]
    entry = stack.services.order_actions.ledger.get(key)
    assert entry is not None
    assert entry.retryable
    # The sweeper, when the retry is due, reads the order back: the shipment with the intent's id is there.
    stack.services.store._write("UPDATE ledger SET next_attempt_at = 0 WHERE key = ?", (key,))
    assert stack.services.order_actions.sweep() == 1
    done = stack.services.order_actions.ledger.get(key)
    assert done is not None
    assert done.state == "succeeded"
    assert len(stack.graph_sandbox.order(order_id)["shipments"]["data"]) == 1
    assert len(posts(stack, "shipments")) == 1


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"reason": ""}, "reason", "Choose a reason"),
        ({"note": "x" * 501}, "note", "At most 500 characters"),
        ({"qty": "0"}, "qty", "Cancel at least one unit"),
        ({"qty": "5"}, "qty", "At most 1"),
    ],
)
def test_the_cancel_form_refuses_each_invalid_input_inline_without_calling_meta(
    stack: Stack, change: dict[str, str], field: str, words: str
) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 1}])["id"])
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_CANCEL)
    full = stack.graph_sandbox.order(order_id)
    item = full["items"]["data"][0]["id"]
    values = cancel_values(full, change.get("reason", "OUT_OF_STOCK"), change.get("note", ""), False)
    values[f"qty_{item}"][f"qty_{item}"]["value"] = change.get("qty", "1")
    stack.graph_sandbox.clear_calls()
    answer = submit(stack, view, values)
    assert answer["response_action"] == "errors", answer
    assert words in answer["errors"][f"qty_{item}" if field == "qty" else field]
    assert stack.graph_sandbox.calls() == []


def test_the_tracking_form_refuses_a_number_already_on_the_order_inline(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    stack.services.graph.send(
        "POST",
        f"{order_id}/shipments",
        {"idempotency_key": new_key(), "tracking_info": {"carrier": "FEDEX", "tracking_number": "OLD123"}},
    )
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_TRACKING)
    values = {
        "shipment": {"shipment": {"type": "static_select", "selected_option": None}},
        "carrier": {ids.CARRIER_SELECT: option("DHL", "external_select")["value"]},
        "tracking_number": {"tracking_number": text("old123")["value"]},
    }
    stack.graph_sandbox.clear_calls()
    answer = submit(stack, view, values)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"shipment", "tracking_number"}
    assert "already on this order" in answer["errors"]["tracking_number"]
    assert stack.graph_sandbox.calls() == []


def test_the_carrier_picker_is_served_over_signed_http_common_carriers_first(stack: Stack) -> None:
    def suggest(typed: str) -> list[str]:
        payload = {
            "type": "block_suggestion",
            "token": "sandbox-verification-token",
            "user": {"id": ALLOWED, "team_id": stack.slack_sandbox.team_id},
            "team": {"id": stack.slack_sandbox.team_id},
            "action_id": ids.CARRIER_SELECT,
            "block_id": "carrier",
            "value": typed,
            "view": {"id": "V0", "type": "modal", "callback_id": ids.ACTION_MODAL},
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **stack.slack.sign(body)}
        answer = stack.slack.send_raw(body, headers)
        assert answer.status_code == 200
        return [o["value"] for o in answer.json()["options"]]

    common = suggest("")
    assert {"UPS", "USPS", "FEDEX", "DHL"} <= set(common)
    assert common[-1] == "OTHER"  # the common carriers, then Other
    found = suggest("fedex")
    assert "FEDEX" in found
    assert "OTHER" in found


def test_a_slack_connect_guest_cannot_open_an_action(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    ts = post_card(stack, order_id)
    stack.graph_sandbox.clear_calls()
    sent = stack.slack.block_action(
        ids.ORDER_SHIP, card_buttons(stack, ts)[ids.ORDER_SHIP], user="U0FOREIGN", message_ts=ts
    )
    answer = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url)))
    assert "members of this workspace" in answer
    assert stack.slack_sandbox.views() == []
    assert stack.graph_sandbox.calls() == []


def test_an_action_from_a_lookup_card_replaces_that_card_with_the_order_as_it_now_is(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    looked = stack.slack.slash_command(order_id, user=ALLOWED)
    card = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(looked.response_url or ""))[-1]
    value = next(
        e["value"] for b in card["blocks"] for e in b.get("elements", []) if e.get("action_id") == ids.ORDER_SHIP
    )
    before = {v["id"] for v in stack.slack_sandbox.views()}
    click = stack.slack.block_action(ids.ORDER_SHIP, value, user=ALLOWED)  # on the ephemeral card
    view = stack.slack_sandbox.wait_for(
        lambda: next((v for v in stack.slack_sandbox.views() if v["id"] not in before and v.get("submit")), None)
    )
    submit(stack, review_of(stack, view, ship_values(stack.graph_sandbox.order(order_id), "1ZLOOKUP")), {})
    assert "white_check_mark" in outcome_text(stack, view["id"])
    replaced = stack.slack_sandbox.wait_for(
        lambda: [r for r in stack.slack_sandbox.responses(click.response_url or "") if "1ZLOOKUP" in json.dumps(r)]
    )
    assert replaced[-1].get("replace_original") is True
    assert "*Shipments* (1)" in json.dumps(replaced[-1]["blocks"])


def test_an_order_held_in_processing_for_a_day_can_be_cancelled_whole(stack: Stack) -> None:
    young = str(stack.graph_sandbox.add_order(state="FB_PROCESSING", items=1)["id"])
    assert ids.ORDER_CANCEL not in card_buttons(stack, post_card(stack, young))
    held = str(
        stack.graph_sandbox.add_order(state="FB_PROCESSING", items=1, created=int(time.time()) - 25 * 3600)["id"]
    )
    ts = post_card(stack, held)
    view = open_form(stack, ts, ids.ORDER_CANCEL)
    review = review_of(stack, view, cancel_values(stack.graph_sandbox.order(held), "SUSPICIOUS_ORDER", "", False))
    assert "the whole order" in json.dumps(review["blocks"])
    submit(stack, review, {})
    assert "white_check_mark" in outcome_text(stack, view["id"])
    [sent] = posts(stack, "cancellations")
    assert "items" not in sent["params"]  # the whole order
    assert stack.graph_sandbox.order(held)["order_status"]["state"] == "COMPLETED"


def test_a_card_keeps_its_keys_across_a_redraw_so_a_modal_opened_before_it_is_the_same_intent(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(state="IN_PROGRESS", items=2)
    order_id = str(order["id"])
    ts = post_card(stack, order_id)
    drawn = card_buttons(stack, ts)
    values = ship_values(stack.graph_sandbox.order(order_id), "1ZREDRAWN")
    early = open_form(stack, ts, ids.ORDER_SHIP)  # a double-click: this modal stays open across the redraw
    late = open_form(stack, ts, ids.ORDER_SHIP)
    stack.graph_sandbox.set_faults(status=503, count=1, match={"method": "POST"})
    review_of(stack, late, values)
    submit(stack, stack.slack_sandbox.view(late["id"]), {})
    assert "Not through yet" in outcome_text(stack, late["id"])  # a transient failure, retried later
    assert [c for c in stack.slack_sandbox.calls("chat.update") if c["args"].get("ts") == ts]  # the card was redrawn...
    assert card_buttons(stack, ts) == drawn  # ...with the keys it had
    review_of(stack, early, values)
    submit(stack, stack.slack_sandbox.view(early["id"]), {})  # the same intent: re-sent with its key, not a second
    stack.slack_sandbox.wait_for(
        lambda: stack.services.order_actions.ledger.for_order(order_id, "create_shipment")[0].state == "succeeded",
        timeout=20,
    )
    assert len(stack.services.order_actions.ledger.for_order(order_id, "create_shipment")) == 1
    assert len([c for c in posts(stack, "shipments") if c["status"] == 200]) == 1
    stack.slack_sandbox.wait_for(lambda: card_buttons(stack, ts) != drawn, timeout=20)  # a success: new keys


def twenty_at_once(stack: Stack, review: dict[str, Any]) -> None:
    """The very same final submission of a review twenty times at once, signed as Slack signs it."""
    payload = {
        "type": "view_submission",
        "token": "sandbox-verification-token",
        "user": {"id": ALLOWED, "team_id": stack.slack_sandbox.team_id},
        "team": {"id": stack.slack_sandbox.team_id},
        "view": {k: v for k, v in review.items() if k in ("id", "type", "callback_id", "private_metadata", "blocks")}
        | {"state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        sent = list(pool.map(lambda _: stack.slack.send_raw(body, {**headers, **stack.slack.sign(body)}), range(20)))
    assert [s.status_code for s in sent] == [200] * 20


def settled(stack: Stack, order_id: str, operation: str) -> None:
    ledger = stack.services.order_actions.ledger
    stack.slack_sandbox.wait_for(
        lambda: (e := ledger.for_order(order_id, operation)) and e[0].state == "succeeded", timeout=20
    )


def test_twenty_concurrent_submissions_of_one_cancellation_make_one_post(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=2)["id"])
    ts = post_card(stack, order_id)
    full = stack.graph_sandbox.order(order_id)
    second = full["items"]["data"][1]
    view = open_form(stack, ts, ids.ORDER_CANCEL)
    review = review_of(stack, view, cancel_values(full, "OUT_OF_STOCK", "Sorry", False, **{f"i{second['id']}": 0}))
    stack.graph_sandbox.set_faults(latency_ms=300, match={"method": "POST"})
    twenty_at_once(stack, review)
    settled(stack, order_id, "cancel_order")
    assert len([c for c in posts(stack, "cancellations") if c["status"] == 200]) == 1
    assert len(stack.graph_sandbox.order(order_id)["cancellations"]["data"]) == 1


def test_twenty_concurrent_submissions_of_one_tracking_update_make_one_post(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    stack.services.graph.send(
        "POST",
        f"{order_id}/shipments",
        {"idempotency_key": new_key(), "tracking_info": {"carrier": "FEDEX", "tracking_number": "OLD123"}},
    )
    ts = post_card(stack, order_id)
    view = open_form(stack, ts, ids.ORDER_TRACKING)
    shipment_id = stack.graph_sandbox.order(order_id)["shipments"]["data"][0]["id"]
    values = {
        "shipment": {"shipment": option(shipment_id)["value"]},
        "carrier": {ids.CARRIER_SELECT: option("DHL", "external_select")["value"]},
        "tracking_number": {"tracking_number": text("NEW456")["value"]},
    }
    review = review_of(stack, view, values)
    stack.graph_sandbox.set_faults(latency_ms=300, match={"method": "POST"})
    twenty_at_once(stack, review)
    settled(stack, order_id, "update_shipment")
    assert len([c for c in posts(stack, "update_shipment") if c["status"] == 200]) == 1


def test_an_action_from_a_pending_line_answers_on_the_modal_and_leaves_the_list_as_it_is(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="IN_PROGRESS", items=1)["id"])
    stack.services.store.upsert_order(stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS))
    listed = stack.slack.slash_command("pending", user=ALLOWED)
    page = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(listed.response_url or ""))[-1]
    block, value = next(
        (b.get("block_id"), e["value"])
        for b in page["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ids.ORDER_SHIP
    )
    before = {v["id"] for v in stack.slack_sandbox.views()}
    click = stack.slack.block_action(ids.ORDER_SHIP, value, user=ALLOWED, block_id=block)  # on the ephemeral list
    view = stack.slack_sandbox.wait_for(
        lambda: next((v for v in stack.slack_sandbox.views() if v["id"] not in before and v.get("submit")), None)
    )
    submit(stack, review_of(stack, view, ship_values(stack.graph_sandbox.order(order_id), "1ZLISTED")), {})
    assert "white_check_mark" in outcome_text(stack, view["id"])  # the outcome is on the clicker's modal
    assert len(posts(stack, "shipments")) == 1
    # The list is no card of the order: nothing remembers it, so no redraw of the order replaces it.
    assert stack.services.store.cards_for_order(order_id) == []
    assert not any(r.get("replace_original") for r in stack.slack_sandbox.responses(click.response_url or ""))
