"""The Update tracking… form and its review: which shipment, its new carrier and tracking number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.actions.forms import carrier_words
from bot.actions.order_actions import Snapshot
from bot.slack.views.action_modal import buyer_told, carrier_input, input_block, text_input
from bot.slack.views.kit import Block, clip, escape, plain, section


def _shipment_label(carrier: str, tracking: str, units: int) -> str:
    count = f"{units} item" if units == 1 else f"{units} items"
    return f"{carrier_words(carrier) if carrier else 'No carrier'} {tracking or '(no number)'} ({count})"


def form_blocks(snap: Snapshot) -> list[Block]:
    options = [
        {"text": plain(_shipment_label(s.carrier, s.tracking_number, s.units), 75), "value": s.shipment_id}
        for s in snap.shipments
    ]
    select: dict[str, Any] = {"type": "static_select", "options": options, "placeholder": plain("Shipment", 150)}
    if len(options) == 1:
        select["initial_option"] = options[0]
    return [
        section(f"Correct the tracking of a shipment of order *{escape(snap.order_id)}*."),
        input_block("shipment", "Shipment", select),
        carrier_input(label="New carrier"),
        text_input("tracking_number", "New tracking number"),
        buyer_told(),
    ]


def review_blocks(snap: Snapshot, params: Mapping[str, Any]) -> list[Block]:
    shipment = next((s for s in snap.shipments if s.shipment_id == params.get("shipment_id")), None)
    tracking = params.get("tracking_info") or {}
    before = _shipment_label(shipment.carrier, shipment.tracking_number, shipment.units) if shipment else "?"
    after = f"{carrier_words(str(tracking.get('carrier', '')))} {tracking.get('tracking_number', '')}"
    return [
        section(f"Check before sending: order *{escape(snap.order_id)}*"),
        section(f"*Shipment:* {clip(escape(before), 200)}\n*New tracking:* {clip(escape(after), 200)}"),
        buyer_told(),
    ]
