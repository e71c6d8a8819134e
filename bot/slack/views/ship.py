"""The Mark shipped… form and its review: carrier, tracking number, shipping method, units per item, and the
optional shipment id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.actions.forms import carrier_words
from bot.actions.order_actions import Snapshot
from bot.slack.views.action_modal import (
    buyer_told,
    carrier_input,
    item_lines,
    quantity_inputs,
    text_input,
    total_amount,
)
from bot.slack.views.kit import Block, clip, escape, line_sections, section


def form_blocks(snap: Snapshot) -> list[Block]:
    return [
        section(f"Mark units of order *{escape(snap.order_id)}* shipped, with one tracking number."),
        carrier_input(),
        text_input("tracking_number", "Tracking number", placeholder="e.g. 1Z999AA10123456784"),
        text_input("shipping_method", "Shipping method", optional=True, placeholder="e.g. Ground"),
        *quantity_inputs(snap, unit_words="not shipped yet"),
        text_input(
            "external_shipment_id",
            "Your shipment id",
            optional=True,
            hint="Letters, digits and _ only. Left empty, orderdesk gives the shipment an id of its own.",
        ),
        buyer_told(),
    ]


def review_blocks(snap: Snapshot, params: Mapping[str, Any]) -> list[Block]:
    tracking = params.get("tracking_info") or {}
    method = tracking.get("shipping_method_name")
    lines = [
        f"*Carrier:* {escape(carrier_words(str(tracking.get('carrier', ''))))}",
        f"*Tracking number:* {clip(escape(str(tracking.get('tracking_number', ''))), 100)}",
        *([f"*Shipping method:* {clip(escape(str(method)), 100)}"] if method else []),
        f"*Shipment id:* {clip(escape(str(params.get('external_shipment_id', ''))), 100)}",
    ]
    total = total_amount(snap, params.get("items"))
    if total:
        lines.append(f"*Value of these units (before tax):* {total}; Meta captures their payment once they ship")
    return [
        section(f"Check before sending: order *{escape(snap.order_id)}* is marked shipped with"),
        section("\n".join(lines)),
        *line_sections("*Items in this shipment*", item_lines(snap, params.get("items"))),
        buyer_told(),
    ]
