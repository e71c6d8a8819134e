"""Cancel order: ``POST /{order-id}/cancellations`` for the whole order or chosen units of unshipped items.

The reason's description is shown to the buyer by Meta (the modal says so beside the field). An ambiguous outcome
is confirmed by reading the order back: a cancellation with this reason, this note and these units.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.actions import forms
from bot.actions.entries import CANCEL_ORDER
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.order_actions import CANCEL, Checked, Snapshot, post, read_order
from bot.domain.order import edge_records
from bot.graph.client import GraphClient
from bot.storage.ports import Storage

# Meta's five cancellation reasons, in the words the modal offers.
CANCEL_REASONS: dict[str, str] = {
    "CUSTOMER_REQUESTED": "Customer requested",
    "OUT_OF_STOCK": "Out of stock",
    "INVALID_ADDRESS": "Invalid address",
    "SUSPICIOUS_ORDER": "Suspicious order",
    "CANCEL_REASON_OTHER": "Other reason",
}


class CancelOrder:
    name = CANCEL_ORDER
    action = CANCEL
    verb = "cancel"
    noun = "cancellation"
    offered_in = frozenset({"FB_PROCESSING", "CREATED", "IN_PROGRESS"})

    def check(self, snap: Snapshot, values: Mapping[str, Any], key: str) -> Checked:
        errors: dict[str, str] = {}
        reason = forms.text(values, "reason")
        if reason not in CANCEL_REASONS:
            errors["reason"] = "Choose a reason."
        note = forms.text(values, "note")
        if len(note) > forms.TEXT_MAX:
            errors["note"] = f"At most {forms.TEXT_MAX} characters (the buyer reads it)."
        chosen = forms.quantities(snap, values, errors)
        if not errors and not any(chosen.values()):
            first = next((line for line in snap.lines if line.open), None)
            errors[forms.quantity_field(first.item_id) if first else "reason"] = "Cancel at least one unit."
        if errors:
            return Checked(errors=errors)
        cancel_reason = {"reason_code": reason, **({"reason_description": note} if note else {})}
        params: dict[str, Any] = {"cancel_reason": cancel_reason, "restock_items": values.get("restock") is True}
        everything = snap.more_lines == 0 and all(chosen.get(line.item_id, 0) == line.open for line in snap.lines)
        if not everything:
            params["items"] = [{"item_id": item, "quantity": count} for item, count in chosen.items() if count]
        # Not sent: the cancellations the order already had, so a lost answer is confirmed only by a new one.
        params["_earlier"] = sorted(snap.cancellations)
        return Checked(params=params)

    def summary(self, params: Mapping[str, Any], snap: Snapshot | None = None) -> str:
        reason = CANCEL_REASONS.get(str((params.get("cancel_reason") or {}).get("reason_code")), "no reason")
        items = params.get("items")
        if items is None:
            return f"Cancelled every unshipped item ({reason.lower()})"
        units = sum(int(line.get("quantity", 0)) for line in items)
        return f"Cancelled {forms.units_words(units)} ({reason.lower()})"

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        return post(graph, "cancellations", entry)

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return read_order(graph, entry.order_id)

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        """A cancellation the order did not have when the modal opened, with this reason and note, and (when units
        were chosen) exactly these units."""
        wanted_reason = entry.params.get("cancel_reason") or {}
        wanted_items = entry.params.get("items")
        wanted = (
            None
            if wanted_items is None
            else sorted((str(line["item_id"]), int(line["quantity"])) for line in wanted_items)
        )
        earlier = set(entry.params.get("_earlier") or ())
        for cancellation in edge_records(order.get("cancellations")):
            if str(cancellation.get("id")) in earlier:
                continue
            reason = cancellation.get("cancel_reason")
            reason = reason if isinstance(reason, Mapping) else {}
            if reason.get("reason_code") != wanted_reason.get("reason_code"):
                continue
            if (reason.get("reason_description") or "") != (wanted_reason.get("reason_description") or ""):
                continue
            units = sorted(
                (str(line.get("id")), int(line.get("quantity") or 0))
                for line in edge_records(cancellation.get("items"))
            )
            if wanted is None or units == wanted:
                return True
        return False

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"success": True, "recovered": True}

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return forms.refused_in_state(order)

    def record_success(
        self, store: Storage, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        return ledger.succeed(entry.key, response, detail=json.dumps({"message": self.summary(entry.params)}))

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


CANCEL_ACTION = CancelOrder()
