"""Update tracking: ``POST /{order-id}/update_shipment`` with the shipment's id and its new tracking number.

Confirmed by reading the order back: the shipment carrying the new carrier and number means it took effect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.actions import forms
from bot.actions.entries import UPDATE_SHIPMENT
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.order_actions import TRACKING, Checked, Snapshot, post, read_order
from bot.graph.client import GraphClient
from bot.storage.sqlite.store import Store


class UpdateShipment:
    name = UPDATE_SHIPMENT
    action = TRACKING
    verb = "update tracking of"
    noun = "tracking update"
    offered_in = frozenset({"IN_PROGRESS", "COMPLETED"})

    def check(self, snap: Snapshot, values: Mapping[str, Any], key: str) -> Checked:
        errors: dict[str, str] = {}
        shipment_id = forms.text(values, "shipment")
        shipment = next((s for s in snap.shipments if s.shipment_id == shipment_id), None)
        if shipment is None:
            errors["shipment"] = "Choose the shipment to correct."
        code = forms.carrier_code(values, errors)
        number = forms.tracking_number(snap, values, errors)
        if errors or shipment is None or code is None or number is None:
            return Checked(errors=errors)
        return Checked(
            params={"shipment_id": shipment.shipment_id, "tracking_info": {"carrier": code, "tracking_number": number}}
        )

    def summary(self, params: Mapping[str, Any], snap: Snapshot | None = None) -> str:
        tracking = params.get("tracking_info") or {}
        carrier = forms.carrier_words(str(tracking.get("carrier", "")))
        return f"Changed a shipment's tracking to {carrier} {tracking.get('tracking_number', '')}"

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        return post(graph, "update_shipment", entry)

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return read_order(graph, entry.order_id)

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        wanted = entry.params.get("tracking_info") or {}
        value = order.get("shipments")
        shipments = value.get("data") if isinstance(value, Mapping) else None
        for shipment in shipments if isinstance(shipments, list) else []:
            tracking = shipment.get("tracking_info") if isinstance(shipment, Mapping) else None
            if shipment.get("id") == entry.params.get("shipment_id") and isinstance(tracking, Mapping):
                return bool(
                    tracking.get("tracking_number") == wanted.get("tracking_number")
                    and str(tracking.get("carrier", "")).upper() == str(wanted.get("carrier", "")).upper()
                )
        return False

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"success": True, "recovered": True}

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return forms.refused_in_state(order) if order.get("order_status") else None

    def record_success(
        self, store: Store, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        return ledger.succeed(entry.key, response, detail=json.dumps({"message": self.summary(entry.params)}))

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


TRACKING_ACTION = UpdateShipment()
