"""Refunds end to end over real HTTP: the card's Refund… button, the modal's inline errors, the preview, the refund
at the Graph sandbox and the refreshed card; and four-eyes approvals: the request message, self-approval refused,
ten concurrent Approve clicks making one POST, Decline, expiry and an order that changed meanwhile."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from e2e_stack import Stack
from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.runtime.services import approvals_for
from bot.slack import ids
from bot.slack.approval_board import SlackApprovalBoard
from bot.slack.views.blocks import notification_card, notification_text

T = TypeVar("T")
CHANNEL = "C0SUPPORT"  # a team channel not shared with another organisation
AGENT = "U0AGENT1"
APPROVER = "U0AGENT2"
NOT_ALLOWED = "U0AGENT3"


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(
        tmp_path,
        graph_max_retries=0,
        ship_allowed=(AGENT,),
        refund_allowed=(AGENT, APPROVER),
        refund_approval_over=Decimal("100"),
    ) as started:
        yield started


def shipped_order(stack: Stack, quantity: int = 3, price: str = "60.00") -> dict[str, Any]:
    order = stack.graph_sandbox.add_order(
        state="IN_PROGRESS", items=[{"quantity": quantity, "price_per_unit": {"amount": price, "currency": "USD"}}]
    )
    item = order["items"]["data"][0]["id"]
    stack.services.graph.create_shipment(
        order["id"],
        new_key(),
        items=[{"item_id": item, "quantity": quantity}],
        tracking_info={"carrier": "UPS", "tracking_number": f"1Z{order['id']}"},
    )
    return stack.graph_sandbox.order(order["id"])


def post_card(stack: Stack, order_id: str) -> str:
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


WAIT_SECONDS = 20.0  # generous: the suite runs beside others on two cores


def wait(stack: Stack, predicate: Callable[[], T]) -> T:
    return stack.slack_sandbox.wait_for(predicate, WAIT_SECONDS)


def buttons(stack: Stack, channel: str, ts: str) -> dict[str, str]:
    blocks = stack.slack_sandbox.message(channel, ts)["blocks"]
    return {e["action_id"]: e.get("value", "") for b in blocks for e in b.get("elements", []) if "action_id" in e}


def refund_posts(stack: Stack) -> list[dict[str, Any]]:
    return [c for c in stack.graph_sandbox.calls() if c["method"] == "POST" and c["path"].endswith("/refunds")]


def open_refund(stack: Stack, ts: str, user: str = AGENT) -> dict[str, Any]:
    before = {v["id"] for v in stack.slack_sandbox.views()}
    sent = stack.slack.block_action(
        ids.ORDER_REFUND, buttons(stack, CHANNEL, ts)[ids.ORDER_REFUND], user=user, channel=CHANNEL, message_ts=ts
    )
    assert sent.response.status_code == 200

    def filled() -> dict[str, Any] | None:
        return next((v for v in stack.slack_sandbox.views() if v["id"] not in before and v.get("submit")), None)

    view: dict[str, Any] = wait(stack, filled)
    return view


def submit(stack: Stack, view: dict[str, Any], values: dict[str, Any], user: str = AGENT) -> dict[str, Any]:
    sent = stack.slack.view_submission(view, values, user=user)
    assert sent.response.status_code == 200
    return sent.response.json() if sent.response.content else {}


def text(value: str, kind: str = "plain_text_input") -> dict[str, Any]:
    return {"type": kind, "value": value}


def refund_values(order: dict[str, Any], *, units: str = "", amount: str = "", **fields: str) -> dict[str, Any]:
    item = order["items"]["data"][0]["id"]
    reason = fields.get("reason", "DAMAGED_GOODS")
    values: dict[str, Any] = {
        "reason": {"reason": {"type": "static_select", "selected_option": {"value": reason}}},
        "note": {"note": text(fields.get("note", "Sorry it broke."))},
        f"qty_{item}": {f"qty_{item}": text(units, "number_input")},
        f"amt_{item}": {f"amt_{item}": text(amount)},
        "deduction": {"deduction": text(fields.get("deduction", ""))},
    }
    if "shipping" in fields:
        values["shipping"] = {"shipping": text(fields["shipping"])}
    return values


def modal_text(stack: Stack, view_id: str) -> str:
    return json.dumps(stack.slack_sandbox.view(view_id)["blocks"])


def test_a_refund_from_the_card_is_checked_inline_previewed_and_sent_once(stack: Stack) -> None:
    order = shipped_order(stack, quantity=3, price="30.00")
    ts = post_card(stack, order["id"])
    view = open_refund(stack, ts)
    form = json.dumps(view["blocks"])
    assert "The buyer sees this note" in form
    assert "USD 90.00" in form  # what is left, in the order's currency
    item = order["items"]["data"][0]["id"]

    too_many = submit(stack, view, refund_values(order, units="4"))
    assert too_many["response_action"] == "errors"
    assert too_many["errors"] == {f"qty_{item}": "At most 3 units can be refunded (3 shipped, 0 refunded)."}
    over = submit(stack, view, refund_values(order, amount="90.01"))
    assert over["errors"] == {f"amt_{item}": "At most USD 90.00 is left to refund on this item, before tax."}
    both = submit(stack, view, refund_values(order, units="1", amount="2", reason="FACEBOOK_INITIATED"))
    assert set(both["errors"]) == {"reason", f"amt_{item}"}
    digits = submit(stack, view, refund_values(order, amount="1.001"))
    assert digits["errors"] == {f"amt_{item}": "USD has 2 decimal places at most, such as 12.50."}
    assert refund_posts(stack) == []

    review = submit(stack, view, refund_values(order, units="2", deduction="5"))
    assert review["response_action"] == "update", review
    shown = json.dumps(review["view"]["blocks"])
    assert "2 \\u00d7" in shown or "2 ×" in shown
    assert "USD 60.00" in shown
    assert "USD 55.00" in shown  # the total before tax, less the deduction
    assert "Sorry it broke." in shown
    assert refund_posts(stack) == []  # nothing is sent before the review is confirmed

    done = submit(stack, stack.slack_sandbox.view(view["id"]), {})
    assert done["response_action"] == "update"
    wait(stack, lambda: "white_check_mark" in modal_text(stack, view["id"]))
    [sent] = refund_posts(stack)
    assert sent["status"] == 200
    assert "refunds_before" not in sent["params"]
    assert json.loads(sent["params"]["items"]) == [{"item_id": item, "item_refund_quantity": 2}]
    assert json.loads(sent["params"]["deductions"]) == [
        {"deduction_type": "RETURN_SHIPPING", "deduction_amount": {"amount": "5.00", "currency": "USD"}}
    ]
    refunds = stack.graph_sandbox.order(order["id"])["refunds"]["data"]
    assert len(refunds) == 1
    thread = wait(stack, lambda: [m for m in stack.slack_sandbox.messages(CHANNEL, thread_ts=ts) if m["ts"] != ts])
    assert "Refunded USD 55.00" in thread[-1]["text"]


def test_concurrent_submissions_of_one_refund_modal_make_one_post(stack: Stack) -> None:
    order = shipped_order(stack, quantity=2, price="20.00")
    ts = post_card(stack, order["id"])
    view = open_refund(stack, ts)
    review = submit(stack, view, refund_values(order, units="1"))
    assert review["response_action"] == "update"
    current = stack.slack_sandbox.view(view["id"])
    start = threading.Barrier(20)

    def send() -> None:
        start.wait()
        stack.slack.view_submission(current, {}, user=AGENT)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait(stack, lambda: "white_check_mark" in modal_text(stack, view["id"]))
    assert [post["status"] for post in refund_posts(stack)] == [200]


def test_someone_not_allowed_to_refund_is_refused_without_a_call_to_meta(stack: Stack) -> None:
    order = shipped_order(stack)
    ts = post_card(stack, order["id"])
    sent = stack.slack.block_action(
        ids.ORDER_REFUND,
        buttons(stack, CHANNEL, ts)[ids.ORDER_REFUND],
        user=NOT_ALLOWED,
        channel=CHANNEL,
        message_ts=ts,
    )
    assert sent.response.status_code == 200
    wait(
        stack,
        lambda: any("not allowed to refund" in json.dumps(e) for e in stack.slack_sandbox.ephemerals(user=NOT_ALLOWED)),
    )
    assert refund_posts(stack) == []


def ask_for_approval(stack: Stack, order: dict[str, Any], units: str = "2") -> tuple[str, str, dict[str, Any]]:
    """Submit a refund over the threshold: the approval request's ts in the card's channel, and the modal."""
    ts = post_card(stack, order["id"])
    view = open_refund(stack, ts)
    review = submit(stack, view, refund_values(order, units=units))
    assert review["response_action"] == "update", review
    submit(stack, stack.slack_sandbox.view(view["id"]), {})
    wait(stack, lambda: "It now waits in" in modal_text(stack, view["id"]))
    request = wait(
        stack,
        lambda: next(
            (m for m in stack.slack_sandbox.messages(CHANNEL) if ids.APPROVAL_APPROVE in json.dumps(m["blocks"])),
            None,
        ),
    )
    return str(request["ts"]), ts, view


def told(stack: Stack, user: str) -> str:
    """What the bot told ``user`` privately."""
    return json.dumps(stack.slack_sandbox.ephemerals(user=user))


def click(stack: Stack, action_id: str, ts: str, user: str) -> None:
    value = buttons(stack, CHANNEL, ts)[action_id]
    sent = stack.slack.block_action(action_id, value, user=user, channel=CHANNEL, message_ts=ts)
    assert sent.response.status_code == 200


def test_a_refund_over_the_threshold_waits_and_ten_concurrent_approvals_send_it_once(stack: Stack) -> None:
    order = shipped_order(stack)
    request_ts, card_ts, _ = ask_for_approval(stack, order)
    request = json.dumps(stack.slack_sandbox.message(CHANNEL, request_ts)["blocks"])
    assert "USD 120.00" in request
    assert "Sorry it broke." in request
    assert refund_posts(stack) == []

    click(stack, ids.APPROVAL_APPROVE, request_ts, AGENT)  # the requester: refused
    wait(
        stack,
        lambda: any("someone else must approve" in json.dumps(e) for e in stack.slack_sandbox.ephemerals(user=AGENT)),
    )
    assert refund_posts(stack) == []

    value = buttons(stack, CHANNEL, request_ts)[ids.APPROVAL_APPROVE]
    start = threading.Barrier(10)

    def approve(n: int) -> None:
        start.wait()
        stack.slack.block_action(ids.APPROVAL_APPROVE, value, user=APPROVER, channel=CHANNEL, message_ts=request_ts)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait(
        stack, lambda: "went through at Meta" in json.dumps(stack.slack_sandbox.message(CHANNEL, request_ts)["blocks"])
    )
    [sent] = refund_posts(stack)
    assert sent["status"] == 200
    assert ids.APPROVAL_APPROVE not in buttons(stack, CHANNEL, request_ts)
    wait(stack, lambda: "went through at Meta" in told(stack, AGENT))
    thread = wait(
        stack, lambda: [m for m in stack.slack_sandbox.messages(CHANNEL, thread_ts=card_ts) if m["ts"] != card_ts]
    )
    assert "approved by" in thread[-1]["text"]
    url = stack.slack.slash_command(f"history {order['id']}").response_url or ""
    history = json.dumps(wait(stack, lambda: stack.slack_sandbox.responses(url)))
    assert f"<@{AGENT}> *Refund approval: requested*" in history
    assert f"<@{APPROVER}> *Refund approval: approved*" in history
    assert f"approved by <@{APPROVER}>" in history  # on the refund's own line
    assert "*Refunded*" in history


def test_decline_tells_the_requester_and_nothing_is_sent(stack: Stack) -> None:
    order = shipped_order(stack)
    request_ts, _, _ = ask_for_approval(stack, order)
    click(stack, ids.APPROVAL_DECLINE, request_ts, APPROVER)
    wait(stack, lambda: "Declined by" in json.dumps(stack.slack_sandbox.message(CHANNEL, request_ts)["blocks"]))
    wait(stack, lambda: "was not sent" in told(stack, AGENT))
    assert refund_posts(stack) == []


def test_an_expired_request_is_marked_and_cannot_be_approved(stack: Stack) -> None:
    order = shipped_order(stack)
    request_ts, _, _ = ask_for_approval(stack, order)
    services = stack.services
    assert services.order_actions is not None
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    a_day_later = approvals_for(  # the worker of a bot one day on (the default window is 24h)
        stack.settings,
        services.graph,
        services.store,
        services.order_actions,
        SlackApprovalBoard(client),
        clock=lambda: time.time() + 86_401,
    )
    assert a_day_later.expire_due() == 1
    wait(stack, lambda: "Expired" in json.dumps(stack.slack_sandbox.message(CHANNEL, request_ts)["blocks"]))
    wait(stack, lambda: "was not sent" in told(stack, AGENT))
    assert ids.APPROVAL_APPROVE not in buttons(stack, CHANNEL, request_ts)
    assert refund_posts(stack) == []


def test_an_order_refunded_meanwhile_is_refused_in_words_at_approval(stack: Stack) -> None:
    order = shipped_order(stack)
    request_ts, _, _ = ask_for_approval(stack, order)
    item = order["items"]["data"][0]["id"]
    stack.services.graph.refund_order(
        order["id"], new_key(), reason_code="WRONG_ITEM", items=[{"item_id": item, "item_refund_quantity": 2}]
    )
    click(stack, ids.APPROVAL_APPROVE, request_ts, APPROVER)
    wait(stack, lambda: "The order changed" in json.dumps(stack.slack_sandbox.message(CHANNEL, request_ts)["blocks"]))
    wait(stack, lambda: "The order changed" in told(stack, AGENT))
    assert len(refund_posts(stack)) == 1  # only the refund made meanwhile
