"""The card actions' Block Kit and payloads: buttons by order state with their keys, every modal step valid for
Slack (slack_sdk's own models) and within its limits, answers in words, and the modal metadata and form values
read back strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.actions.answers import ActionConflict, ActionOutcome, NotAllowed, WriteBusy
from bot.actions.cancel import CANCEL_ACTION
from bot.actions.entries import derived_key
from bot.actions.operation import Request
from bot.actions.order_actions import CANCEL, REFUND, SHIP, TRACKING, Line, Shipment, Snapshot
from bot.actions.ship import SHIP_ACTION
from bot.actions.update_tracking import TRACKING_ACTION
from bot.domain.carriers import search_carriers
from bot.slack import ids
from bot.slack.errors import BadRequest
from bot.slack.payloads import ActionForm, Click, form_values
from bot.slack.views import cancel, ship, tracking
from bot.slack.views.acknowledge import parse_ack_value
from bot.slack.views.action_modal import (
    action_buttons,
    answer_text,
    carrier_options,
    loading_modal,
    message_modal,
    modal,
    outcome_modal,
    sending_modal,
    thread_line,
)
from bot.slack.views.history import history_blocks

KEY = "0123456789abcdef0123456789abcdef"
SNAP = Snapshot(
    order_id="7001",
    state="IN_PROGRESS",
    lines=(Line("11", "Mug <b>", 2, 0, "12.50", "USD"), Line("12", "Cup", 1, 1, "3.00", "USD")),
    tracking_numbers=("1Z0",),
    shipments=(Shipment("s1", "ups", "1Z0", 1),),
    offered=(SHIP, TRACKING, CANCEL),
)
CLICK = Click("7001", KEY, "U0AGENT1", "T0SANDBOX", "T0SANDBOX", "C0ORDERS", "1.000100", False, None)


def valid(view: dict[str, Any]) -> dict[str, Any]:
    View(**view).validate_json()  # what Slack's own SDK checks: lengths, block and element shapes
    assert len(view["private_metadata"]) <= 3000
    return view


def order(state: str, shipped: int = 0) -> dict[str, Any]:
    return {
        "id": "7001",
        "order_status": {"state": state},
        "items": {"data": [{"id": "11", "quantity": 2, "price_per_unit": {"amount": "9.50", "currency": "USD"}}]},
        "shipments": {
            "data": [{"id": "s1", "items": {"data": [{"id": "11", "quantity": shipped}]}}] if shipped else []
        },
    }


@pytest.mark.parametrize(
    ("state", "shipped", "expected"),
    [
        ("CREATED", 0, [ids.ORDER_CANCEL]),
        ("IN_PROGRESS", 0, [ids.ORDER_SHIP, ids.ORDER_CANCEL]),
        ("IN_PROGRESS", 1, [ids.ORDER_SHIP, ids.ORDER_TRACKING, ids.ORDER_CANCEL, ids.ORDER_REFUND]),
        ("COMPLETED", 2, [ids.ORDER_TRACKING, ids.ORDER_REFUND]),
    ],
)
def test_cards_offer_the_actions_the_state_allows_each_with_its_own_key(
    state: str, shipped: int, expected: list[str]
) -> None:
    buttons = action_buttons(order(state, shipped), KEY)
    assert [b["action_id"] for b in buttons] == expected
    for button in buttons:
        action = {
            ids.ORDER_SHIP: SHIP,
            ids.ORDER_TRACKING: TRACKING,
            ids.ORDER_CANCEL: CANCEL,
            ids.ORDER_REFUND: REFUND,
        }[button["action_id"]]
        assert parse_ack_value(button["value"]) == ("7001", derived_key(KEY, action))
    assert action_buttons(order(state, shipped), None) == []


def test_every_step_of_every_modal_is_valid_for_slack() -> None:
    form = ActionForm(CLICK, SHIP, "form", SNAP)
    metadata = form.to_metadata()
    for view in (
        loading_modal(SHIP, metadata, "7001"),
        message_modal(SHIP, "", "Order 7001 has no units left to ship."),
        sending_modal(SHIP, metadata, "Shipped 2 items with UPS 1Z9"),
        outcome_modal(SHIP, "done"),
    ):
        valid(view)
    for views, action, values in (
        (ship, SHIP_ACTION, {"carrier": "UPS", "tracking_number": "1Z9", "qty_11": "2"}),
        (tracking, TRACKING_ACTION, {"shipment": "s1", "carrier": "DHL", "tracking_number": "N1"}),
        (cancel, CANCEL_ACTION, {"reason": "OUT_OF_STOCK", "note": "Sorry <3", "qty_11": "1"}),
    ):
        valid(modal(SHIP, metadata, views.form_blocks(SNAP), submit="Next"))
        params = action.check(SNAP, values, KEY).params
        assert params
        review = valid(
            modal(
                SHIP,
                ActionForm(CLICK, SHIP, "review", SNAP, params).to_metadata(),
                views.review_blocks(SNAP, params),
                submit="Send",
            )
        )
        text = json.dumps(review["blocks"])
        assert "Meta tells the buyer" in text
        assert "<b>" not in text  # text from Meta is escaped


def test_the_ship_form_defaults_to_every_unshipped_unit_and_the_cancel_review_shows_money_and_buyer_text() -> None:
    blocks = ship.form_blocks(SNAP)
    quantities = {b["block_id"]: b["element"] for b in blocks if b.get("block_id", "").startswith("qty_")}
    defaults = {k: (e["initial_value"], e["max_value"]) for k, e in quantities.items()}
    assert defaults == {"qty_11": ("2", "2"), "qty_12": ("1", "1")}
    carrier = next(b for b in blocks if b.get("block_id") == "carrier")
    assert carrier["element"]["type"] == "external_select"
    assert carrier["element"]["action_id"] == ids.CARRIER_SELECT
    note = next(b for b in cancel.form_blocks(SNAP) if b.get("block_id") == "note")
    assert "The buyer sees this note" in note["hint"]["text"]
    params = CANCEL_ACTION.check(SNAP, {"reason": "CUSTOMER_REQUESTED", "note": "On its way back", "qty_11": "2"}, KEY)
    review = json.dumps(cancel.review_blocks(SNAP, params.params))
    assert "USD 25.00" in review
    assert "On its way back" in review
    assert "Customer requested" in review


def test_carrier_options_put_common_carriers_first_and_always_offer_other() -> None:
    options = carrier_options([(c.code, c.name) for c in search_carriers("")])
    values = [o["value"] for o in options]
    assert "OTHER" in values
    assert values.index("UPS") < values.index("OTHER")
    assert "OTHER" in [o["value"] for o in carrier_options([(c.code, c.name) for c in search_carriers("zzqx")])]
    assert all(len(o["text"]["text"]) <= 75 for o in options)


def outcome(state: str, **fields: Any) -> ActionOutcome:
    return ActionOutcome("7001", "create_shipment", state, "U0AGENT1", "Shipped 2 items with UPS 1Z9", KEY, **fields)


def test_answers_say_what_happened_in_words() -> None:
    assert "Meta tells the buyer" in answer_text(outcome("succeeded"))
    assert "tries" not in answer_text(outcome("succeeded"))
    assert "orderdesk sends the same request again" in answer_text(outcome("retryable", message="no answer"))
    assert "This needs a person" in answer_text(outcome("given_up", message="Meta did not answer"))
    refused = answer_text(outcome("failed", message="raw", code=100, subcode=2382045))
    assert "tracking number is already on this order" in refused
    assert "Fix it" in refused
    stop = answer_text(outcome("failed", message="raw", code=100, subcode=1818214))
    assert "Look the order up again" in stop
    assert (
        thread_line(outcome("succeeded", approver="U0LEAD"))
        == "Shipped 2 items with UPS 1Z9 by <@U0AGENT1>, approved by <@U0LEAD>"
    )
    assert "different shipment" in answer_text(ActionConflict("7001", "shipment"))
    assert "is sending a shipment" in answer_text(WriteBusy("7001", "create_shipment", "U0AGENT2", "pending"))


def test_refusals_name_who_may_or_who_can_allow_it() -> None:
    named = answer_text(
        NotAllowed(("U0LEAD", "S0ONCALL"), False, {"S0ONCALL": "oncall"}, "cancel", "ORDERDESK_CANCEL_ALLOWED")
    )
    assert named == ":no_entry: You are not allowed to cancel orders; ask <@U0LEAD>, <!subteam^S0ONCALL|@oncall>."
    nobody = answer_text(NotAllowed((), False, {}, "refund", "ORDERDESK_REFUND_ALLOWED"))
    assert "Nobody may refund orders" in nobody
    assert "ORDERDESK_REFUND_ALLOWED" in nobody
    assert "Only members of this workspace" in answer_text(NotAllowed((), True, {}, "ship", "ORDERDESK_SHIP_ALLOWED"))


def test_history_says_each_action_in_words_with_its_key_and_approver() -> None:
    rows = [
        {
            "at": 1.0,
            "action": "create_shipment",
            "user_id": "U0AGENT1",
            "key": KEY,
            "outcome": "succeeded",
            "detail": json.dumps({"message": "Shipped 2 items with UPS 1Z9", "approver": "U0LEAD"}),
        },
        {
            "at": 2.0,
            "action": "cancel",
            "user_id": "U0AGENT2",
            "key": KEY,
            "outcome": "refused",
            "detail": "not in ORDERDESK_CANCEL_ALLOWED",
        },
        {
            "at": 3.0,
            "action": "cancel_order",
            "user_id": "U0AGENT1",
            "key": KEY,
            "outcome": "failed",
            "detail": json.dumps({"message": "The order is already cancelled."}),
        },
    ]
    text = "\n".join(b["text"]["text"] for b in history_blocks("7001", rows))
    assert "*Shipped* · Shipped 2 items with UPS 1Z9 · approved by <@U0LEAD>" in text
    assert "Refused: cancel" in text
    assert "not on the list of who may cancel orders" in text
    assert "Cancellation failed" in text
    assert KEY in text


def test_the_modal_metadata_is_read_back_exactly_and_forgeries_are_refused() -> None:
    params = {"items": [{"item_id": "11", "quantity": 1}]}
    form = ActionForm(CLICK, SHIP, "review", SNAP, params)
    back = ActionForm.from_metadata(form.to_metadata(), user_id="U0AGENT2", user_team_id="T0SANDBOX")
    assert back.snap == SNAP
    assert back.params == params
    assert back.click.user_id == "U0AGENT2"  # the submitter is who is checked
    assert back.click.key == KEY
    data = json.loads(form.to_metadata())
    for forged in (
        {**data, "st": "done"},
        {**data, "c": {**data["c"], "key": "not a key!"}},
        {**data, "s": {**data["s"], "o": "7002"}},
        {**data, "p": ["x"]},
        "not json",
    ):
        with pytest.raises(BadRequest):
            ActionForm.from_metadata(
                json.dumps(forged) if isinstance(forged, dict) else forged, user_id="U0AGENT1", user_team_id=None
            )
    with pytest.raises(BadRequest):
        ActionForm.from_metadata(form.to_metadata(), user_id=None, user_team_id=None)


def test_form_values_read_each_input_kind() -> None:
    view = {
        "state": {
            "values": {
                "carrier": {ids.CARRIER_SELECT: {"type": "external_select", "selected_option": {"value": "UPS"}}},
                "reason": {"reason": {"type": "static_select", "selected_option": None}},
                "restock": {"restock": {"type": "checkboxes", "selected_options": [{"value": "restock"}]}},
                "qty_11": {"qty_11": {"type": "number_input", "value": "2"}},
                "note": {"note": {"type": "plain_text_input", "value": None}},
            }
        }
    }
    assert form_values(view) == {"carrier": "UPS", "reason": "", "restock": True, "qty_11": "2", "note": ""}
    with pytest.raises(BadRequest):
        form_values({"state": None})


def test_a_request_from_a_form_is_the_click_it_came_from() -> None:
    assert isinstance(ActionForm(CLICK, SHIP, "form").click, Request)


def test_the_ship_review_shows_the_units_value() -> None:
    params = SHIP_ACTION.check(SNAP, {"carrier": "UPS", "tracking_number": "1Z9", "qty_11": "2", "qty_12": "1"}, KEY)
    review = "\n".join(b["text"]["text"] for b in ship.review_blocks(SNAP, params.params) if "text" in b)
    assert "USD 28.00" in review
    assert "2 × Mug &lt;b&gt;" in review
