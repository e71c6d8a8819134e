"""The Refund… form and review, and the approval request and its answers, as plain Block Kit: inputs per item in
the order's currency, the money in the review, Approve/Decline while pending, words once it ended."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from test_blocks import assert_within_limits

from bot.actions.answers import NotAllowed
from bot.actions.approvals import (
    Approval,
    ApprovalBusy,
    ApprovalClosed,
    ApprovalConflict,
    ApprovalDelayed,
    ApprovalEnded,
    ApprovalNews,
    ApprovalNotPossible,
    ApprovalUnknown,
    AwaitingApproval,
    OwnRequest,
    RefundSent,
)
from bot.actions.order_actions import snapshot
from bot.actions.refund import REFUND_ACTION, preview_of
from bot.actions.status import AckStatus
from bot.domain.remaining import RefundPreview
from bot.slack import ids
from bot.slack.views.approval import ended_words, news_text, request_blocks
from bot.slack.views.refund import form_blocks, review_blocks


def order(currency: str = "JPY", price: str = "1500", shipping: str = "500") -> dict[str, Any]:
    line = {"id": "I1", "quantity": 2}
    return {
        "id": "7001",
        "order_status": {"state": "COMPLETED"},
        "created": "2026-03-01T10:15:00+00:00",
        "estimated_payment_details": {
            "subtotal": {"shipping": {"amount": shipping, "currency": currency}},
            "total_amount": {"amount": "3500", "currency": currency},
        },
        "items": {
            "data": [
                {
                    "id": "I1",
                    "retailer_id": "SKU-1",
                    "product_name": "Tea <b>bowl</b>",
                    "quantity": 2,
                    "price_per_unit": {"amount": price, "currency": currency},
                }
            ]
        },
        "shipments": {"data": [{"id": "S1", "items": {"data": [line]}}]},
        "cancellations": {"data": []},
        "refunds": {"data": []},
    }


def block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in blocks if b.get("block_id") == block_id)


def test_the_form_offers_units_or_an_amount_per_item_in_the_orders_own_digits() -> None:
    blocks = form_blocks(snapshot(order(), now=0))
    assert_within_limits(blocks)
    assert block(blocks, "reason")["element"]["type"] == "static_select"
    assert "FACEBOOK_INITIATED" not in json.dumps(block(blocks, "reason"))
    assert "The buyer sees this note" in json.dumps(block(blocks, "note"))
    units = block(blocks, "qty_I1")
    assert (units["optional"], units["element"]["max_value"]) == (True, "2")
    amount = block(blocks, "amt_I1")
    assert "JPY 3,000" in amount["hint"]["text"]
    assert amount["element"]["placeholder"]["text"] == "e.g. 1200"
    assert "JPY 500" in block(blocks, "shipping")["hint"]["text"]
    assert "&lt;b&gt;" in json.dumps(blocks)  # the product name is escaped


def test_the_review_shows_the_items_shipping_deduction_total_and_what_the_buyer_reads() -> None:
    snap = snapshot(order(currency="KWD", price="1.25", shipping="0.5"), now=0)
    values = {"reason": "DAMAGED_GOODS", "note": "Sorry <3", "qty_I1": "1", "shipping": "0.5", "deduction": "0.1"}
    checked = REFUND_ACTION.check(snap, values, "k" * 32)
    assert checked.errors == {}
    blocks = review_blocks(snap, checked.params)
    assert_within_limits(blocks)
    shown = json.dumps(blocks, ensure_ascii=False)
    for words in ("KWD 1.250", "KWD 0.500", "−KWD 0.100", "KWD 1.650", "Arrived damaged", "Sorry &lt;3"):
        assert words in shown


def test_the_check_puts_each_problem_under_its_input() -> None:
    snap = snapshot(order(), now=0)
    checked = REFUND_ACTION.check(snap, {"reason": "", "qty_I1": "3", "amt_I1": "", "deduction": "0.5"}, "k" * 32)
    assert checked.errors == {
        "reason": "Choose the reason for the refund.",
        "qty_I1": "At most 2 units can be refunded (2 shipped, 0 refunded).",
        "deduction": "JPY has no smaller unit: enter a whole amount, such as 1,200.",
    }
    nothing = REFUND_ACTION.check(snap, {"reason": "WRONG_ITEM"}, "k" * 32)
    assert nothing.errors == {"qty_I1": "Choose at least one item to refund, by quantity or by amount."}


def approval(state: str = "pending", **changes: Any) -> Approval:
    snap = snapshot(order(currency="USD", price="60.00", shipping="5.00"), now=0)
    checked = REFUND_ACTION.check(snap, {"reason": "WRONG_ITEM", "qty_I1": "2", "note": "Oops"}, "k" * 32)
    preview = preview_of(snap, checked.params)
    assert isinstance(preview, RefundPreview)
    base = Approval(
        id="a" * 32,
        order_id="7001",
        key="k" * 32,
        preview=preview,
        requester_id="U0ASKER",
        requester_team="T1",
        origin_channel="C0ORDERS",
        origin_ts="1.0001",
        origin_response_url=None,
        state=state,  # type: ignore[arg-type]
        channel="C0APPROVE",
        ts="2.0002",
        decided_by=None,
        decided_at=None,
        detail=None,
        created_at=1_800_000_000.0,
        expires_at=1_800_086_400.0,
    )
    return replace(base, **changes)


def test_a_pending_request_shows_the_preview_with_approve_and_decline() -> None:
    blocks = request_blocks(approval())
    assert_within_limits(blocks)
    shown = json.dumps(blocks)
    assert "USD 120.00" in shown
    assert "<@U0ASKER>" in shown
    assert "Oops" in shown
    buttons = {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert set(buttons) == {ids.APPROVAL_APPROVE, ids.APPROVAL_DECLINE}
    assert buttons[ids.APPROVAL_APPROVE]["value"] == "a" * 32
    assert "confirm" in buttons[ids.APPROVAL_APPROVE]


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"state": "sent", "decided_by": "U0BOSS"}, AckStatus("succeeded", "U0ASKER", 1.0), "went through at Meta"),
        ({"state": "sent", "decided_by": "U0BOSS"}, AckStatus("retryable", "U0ASKER", 1.0), "sends the same"),
        ({"state": "declined", "decided_by": "U0BOSS", "detail": "declined"}, None, "Declined by <@U0BOSS>"),
        ({"state": "declined", "detail": "withdrawn by the requester"}, None, "Withdrawn by <@U0ASKER>"),
        ({"state": "declined", "decided_by": "U0BOSS", "detail": "The order changed since: x"}, None, "not sent"),
        ({"state": "expired"}, None, "Expired"),
    ],
)
def test_an_ended_request_has_no_buttons_and_says_how_it_ended(
    changes: dict[str, Any], status: AckStatus | None, words: str
) -> None:
    ended = approval(**changes)
    blocks = request_blocks(ended, status)
    assert_within_limits(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]
    assert words in ended_words(ended, status)
    assert words in json.dumps(blocks)


@pytest.mark.parametrize(
    "news",
    [
        AwaitingApproval(approval()),
        AwaitingApproval(approval(), again=True),
        ApprovalNotPossible("7001", "Not in a <direct> message."),
        ApprovalConflict(approval()),
        OwnRequest(approval()),
        ApprovalClosed(approval(state="expired")),
        ApprovalEnded(approval(state="declined", decided_by="U0BOSS", detail="declined")),
        RefundSent(approval(state="sent", decided_by="U0BOSS"), AckStatus("succeeded", "U0ASKER", 1.0)),
        ApprovalDelayed(approval(state="approved")),
        ApprovalBusy(approval()),
        ApprovalUnknown("x"),
        NotAllowed(("U0BOSS",), other_workspace=False, verb="refund", setting="ORDERDESK_REFUND_ALLOWED"),
    ],
)
def test_every_answer_reads_as_words(news: ApprovalNews) -> None:
    text = news_text(news)
    assert text
    assert "<direct>" not in text
    assert "Decimal(" not in text


def test_amounts_in_words_keep_the_currencys_digits() -> None:
    pending = approval()
    assert pending.total == "USD 120.00"
    assert "USD 120.00" in news_text(AwaitingApproval(pending))
    assert pending.preview.total == Decimal("120.00")
