"""Mark shipped: ``POST /{order-id}/shipments`` with one tracking number and the units it carries.

An ambiguous outcome is confirmed by the shipment's ``external_shipment_id``: the agent's, or else the intent's
own key (hex, within Meta's ``^[A-Za-z0-9_]+$``), so the shipment read back is known to be this one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.actions import forms
from bot.actions.entries import CREATE_SHIPMENT
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.order_actions import SHIP, Checked, Snapshot, post, read_order
from bot.graph.client import GraphClient
from bot.storage.sqlite.store import Store


def _shipments(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = order.get("shipments")
    data = value.get("data") if isinstance(value, Mapping) else value
    return [s for s in data if isinstance(s, Mapping)] if isinstance(data, list) else []


class CreateShipment:
    name = CREATE_SHIPMENT
    action = SHIP
    verb = "ship"
    noun = "shipment"
    offered_in = frozenset({"IN_PROGRESS"})

    def check(self, snap: Snapshot, values: Mapping[str, Any], key: str) -> Checked:
        errors: dict[str, str] = {}
        code = forms.carrier_code(values, errors)
        number = forms.tracking_number(snap, values, errors)
        method = forms.text(values, "shipping_method")
        if len(method) > forms.TRACKING_MAX:
            errors["shipping_method"] = f"At most {forms.TRACKING_MAX} characters."
        external = forms.text(values, "external_shipment_id")
        if external and not forms.EXTERNAL_ID.fullmatch(external):
            errors["external_shipment_id"] = "Letters, digits and _ only (at most 100), or leave it empty."
        chosen = forms.quantities(snap, values, errors)
        if not errors and not any(chosen.values()):
            first = next((line for line in snap.lines if line.open), None)
            errors[forms.quantity_field(first.item_id) if first else "tracking_number"] = "Ship at least one unit."
        if errors or code is None or number is None:
            return Checked(errors=errors)
        tracking = {"carrier": code, "tracking_number": number}
        if method:
            tracking["shipping_method_name"] = method
        return Checked(
            params={
                "items": [{"item_id": item, "quantity": count} for item, count in chosen.items() if count],
                "tracking_info": tracking,
                "external_shipment_id": external or key,
            }
        )

    def summary(self, params: Mapping[str, Any], snap: Snapshot | None = None) -> str:
        units = sum(int(line.get("quantity", 0)) for line in params.get("items") or [])
        tracking = params.get("tracking_info") or {}
        return (
            f"Shipped {forms.units_words(units)} with {forms.carrier_words(str(tracking.get('carrier', '')))} "
            f"{tracking.get('tracking_number', '')}"
        )

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        return post(graph, "shipments", entry)

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return read_order(graph, entry.order_id)

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        wanted = entry.params.get("external_shipment_id")
        return bool(wanted) and any(s.get("external_shipment_id") == wanted for s in _shipments(order))

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"success": True, "recovered": True}

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return forms.refused_in_state(order)

    def record_success(
        self, store: Store, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        return ledger.succeed(entry.key, response, detail=json.dumps({"message": self.summary(entry.params)}))

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


SHIP_ACTION = CreateShipment()
