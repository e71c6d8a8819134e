"""The Refund… form and its review: the reason, a note the buyer reads, per item a quantity or a pre-tax amount,
a shipping refund and a return-shipping deduction; the review shows the money (per item, shipping, deduction,
total before tax) and the buyer-visible text before anything is sent.

Every amount is written in the order's currency and its own digits (``JPY 1,500``, ``KWD 1.250``); each input's
hint says how much is left, and the form is checked against that inline (:meth:`RefundOrder.check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.actions import forms
from bot.actions.order_actions import Snapshot
from bot.actions.refund import REASON_WORDS, amount_input, left_of, preview_of
from bot.domain import money
from bot.domain.remaining import (
    FIELD_DEDUCTION,
    FIELD_NOTE,
    FIELD_REASON,
    FIELD_SHIPPING,
    NOTE_MAX,
    ItemLeft,
    RefundPreview,
    Remaining,
)
from bot.slack.views.action_modal import buyer_told, input_block, text_input
from bot.slack.views.kit import Block, clip, context, escape, line_sections, plain, section

MAX_ITEMS = 20  # two inputs per item: well inside Slack's 100 blocks


def form_blocks(snap: Snapshot) -> list[Block]:
    left = left_of(snap)
    if left is None:
        return [section(f"Nothing of order *{escape(snap.order_id)}* is left to refund.")]
    reasons = [{"text": plain(words, 75), "value": code} for code, words in REASON_WORDS.items()]
    refundable = [item for item in left.items if item.refundable_amount > 0][:MAX_ITEMS]
    blocks: list[Block] = [
        section(
            f"Refund shipped units of order *{escape(snap.order_id)}*: per item a number of units, or an amount "
            f"before tax ({escape(left.currency)}). Left to refund: *{escape(left.money(left.refundable_total))}*."
        ),
        input_block(FIELD_REASON, "Reason", {"type": "static_select", "options": reasons}),
        text_input(
            FIELD_NOTE,
            "Note to the buyer",
            optional=True,
            multiline=True,
            max_length=NOTE_MAX,
            hint="The buyer sees this note: Meta shows it with the refund.",
        ),
    ]
    for item in refundable:
        blocks += _item_inputs(left, item)
    if left.shipping_refundable > 0:
        blocks.append(
            _amount_block(
                FIELD_SHIPPING,
                "Shipping refund",
                f"At most {left.money(left.shipping_refundable)} of shipping is left to refund.",
                left.currency,
            )
        )
    blocks.append(
        _amount_block(
            FIELD_DEDUCTION,
            "Return shipping deducted",
            "Taken off the refund for the return label, if the buyer pays for it.",
            left.currency,
        )
    )
    blocks.append(buyer_told())
    return blocks


def _item_inputs(left: Remaining, item: ItemLeft) -> list[Block]:
    name = clip(escape(item.name or f"item {item.item_id}"), 100)
    price = left.money(item.unit_price) if item.unit_price is not None else "no price"
    blocks: list[Block] = []
    if item.refundable_units > 0:
        element = {
            "type": "number_input",
            "is_decimal_allowed": False,
            "min_value": "0",
            "max_value": str(item.refundable_units),
        }
        hint = f"{item.refundable_units} of {item.shipped} shipped can be refunded · {price} each"
        blocks.append(
            input_block(forms.quantity_field(item.item_id), f"{name}: units", element, optional=True, hint=hint)
        )
    blocks.append(
        _amount_block(
            amount_input(item.item_id),
            f"{name}: or an amount",
            f"Before tax; at most {left.money(item.refundable_amount)} is left on this item.",
            left.currency,
        )
    )
    return blocks


def _amount_block(block_id: str, label: str, hint: str, currency: str) -> Block:
    example = money.plain_amount(Decimal("12.5"), currency) if money.minor_units(currency) else "1200"
    return text_input(block_id, label, optional=True, max_length=20, hint=hint, placeholder=f"e.g. {example}")


def review_blocks(snap: Snapshot, params: Mapping[str, Any]) -> list[Block]:
    preview = preview_of(snap, params)
    if preview is None:
        return [section("orderdesk could not read this refund again. Close the form and open it from the card.")]
    return [
        section(f"Check before sending: refund on order *{escape(snap.order_id)}*."),
        *preview_blocks(preview),
        buyer_told(),
    ]


def preview_blocks(preview: RefundPreview) -> list[Block]:
    """The money, the items and the buyer-visible text of a refund (the review and the approval request)."""
    lines = [_line(preview, line.quantity, line.name or f"item {line.item_id}", line.amount) for line in preview.lines]
    totals = [f"*Items:* {escape(preview.money(preview.items_total))}"]
    if preview.shipping:
        totals.append(f"*Shipping:* {escape(preview.money(preview.shipping))}")
    if preview.deduction:
        totals.append(f"*Return shipping deducted:* −{escape(preview.money(preview.deduction))}")
    totals.append(f"*Total before tax:* *{escape(preview.money(preview.total))}*")
    note = preview.note
    words = [
        f"*Reason:* {escape(REASON_WORDS.get(preview.reason, preview.reason))}",
        f"*The buyer reads:* {clip(escape(note), NOTE_MAX)}" if note else "*The buyer reads:* (no note)",
    ]
    return [
        *line_sections("*Refunded*", lines),
        section("\n".join(totals)),
        section("\n".join(words)),
        context("Amounts are before tax."),
    ]


def _line(preview: RefundPreview, quantity: int | None, name: str, amount: Decimal) -> str:
    what = f"{quantity} × {clip(escape(name), 100)}" if quantity is not None else clip(escape(name), 100)
    return f"• {what} · {escape(preview.money(amount))}"
