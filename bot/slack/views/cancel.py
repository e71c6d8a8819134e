"""The Cancel order… form and its review: the reason, a note the buyer reads, restocking, and units per item
(all unshipped units by default, which cancels the whole order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.actions.cancel import CANCEL_REASONS
from bot.actions.order_actions import Snapshot
from bot.slack.views.action_modal import (
    buyer_told,
    input_block,
    item_lines,
    quantity_inputs,
    text_input,
    total_amount,
)
from bot.slack.views.kit import Block, clip, escape, line_sections, plain, section

RESTOCK = "restock"


def form_blocks(snap: Snapshot) -> list[Block]:
    reasons = [{"text": plain(words, 75), "value": code} for code, words in CANCEL_REASONS.items()]
    restock = {
        "type": "checkboxes",
        "options": [{"text": plain("Put the cancelled units back in stock", 75), "value": RESTOCK}],
    }
    return [
        section(
            f"Cancel units of order *{escape(snap.order_id)}* that have not shipped. All of them cancels the "
            "whole order; shipped units can only be refunded."
        ),
        input_block("reason", "Reason", {"type": "static_select", "options": reasons}),
        text_input(
            "note",
            "Note to the buyer",
            optional=True,
            multiline=True,
            max_length=500,
            hint="The buyer sees this note: Meta shows it with the cancellation.",
        ),
        input_block("restock", "Stock", restock, optional=True),
        *quantity_inputs(snap, unit_words="not shipped"),
        buyer_told(),
    ]


def review_blocks(snap: Snapshot, params: Mapping[str, Any]) -> list[Block]:
    reason = params.get("cancel_reason") or {}
    words = CANCEL_REASONS.get(str(reason.get("reason_code")), "?")
    note = reason.get("reason_description")
    items = params.get("items")
    whole = "every unshipped unit (the whole order)" if items is None else "these units"
    total = total_amount(snap, items)
    lines = [
        f"*Reason:* {escape(words)}",
        f"*The buyer reads:* {clip(escape(str(note)), 500)}" if note else "*The buyer reads:* (no note)",
        f"*Restock:* {'yes' if params.get('restock_items') else 'no'}",
        *([f"*Value of the cancelled units (before tax):* {total}"] if total else []),
    ]
    return [
        section(f"Check before sending: cancel {whole} of order *{escape(snap.order_id)}*."),
        *line_sections("*Cancelled*", item_lines(snap, items)),
        section("\n".join(lines)),
        buyer_told(),
    ]
