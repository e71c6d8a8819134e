"""Refunding shipped units: the ``refund_order`` operation of the actions engine, and its reasons in words.

A refund is money leaving the shop, so everything about it is decided before the claim and never rebuilt after:

* :func:`bot.domain.remaining.check_refund` turns what the agent typed into a :class:`RefundPreview` that fits
  what is left of the order (or refuses it by field). :func:`refund_params` turns the preview into the ledger's
  parameters: Meta's ``POST /{order-id}/refunds`` parameters, always naming the items (Meta refunds the whole
  order when ``items`` is left out), and ``refunds_before``, the ids of the refunds the order had when the
  preview was checked. That one is never sent: it tells a refund of this intent apart from earlier ones.
* The claim stores them; only the claimant sends them, with the stored key, byte for byte
  (:class:`RefundOrder`.send).
* An ambiguous outcome (the answer was lost, the process died) is confirmed by reading the order's refunds back:
  a refund that is not among ``refunds_before`` and has these items, quantities and amounts (and this shipping)
  is this intent done, recorded without another call. Otherwise the sweeper sends the same request again with the
  same key, which Meta dedupes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.actions import forms
from bot.actions.entries import REFUND_ORDER
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.order_actions import REFUND, Checked, Snapshot
from bot.domain import money
from bot.domain.order import edge_records
from bot.domain.remaining import (
    FIELD_DEDUCTION,
    FIELD_ITEMS,
    FIELD_NOTE,
    FIELD_REASON,
    FIELD_SHIPPING,
    REFUND_REASONS,
    ItemAsk,
    RefundAsk,
    RefundPreview,
    RefundProblems,
    Remaining,
    amount_field,
    check_refund,
    from_compact,
    quantity_field,
)
from bot.graph.client import GraphClient
from bot.storage.ports import Storage

# Refunds apply to shipped units, which an order has once it is IN_PROGRESS (partly shipped) or COMPLETED.
REFUNDABLE_STATES = frozenset({"IN_PROGRESS", "COMPLETED"})
# Each documented reason an agent may give, in words (Meta's own FACEBOOK_INITIATED is not offered).
REASON_WORDS: dict[str, str] = REFUND_REASONS
REFUNDS_BEFORE = "refunds_before"  # stored with the request, never sent: see the module docstring
REFUND_TOTAL = "refund_total"  # stored with the request (for words and history), never sent
AMOUNT_PREFIX = "amt_"  # field name of an item's refund amount: amt_<item id> (its quantity: forms.quantity_field)
_GRAPH_PARAMS = ("reason_code", "reason_text", "items", "shipping", "deductions")
READ_BACK_FIELDS = "id,order_status,refunds.limit(100){id,refund_reason,refund_amount,items}"
# What :func:`bot.domain.remaining.remaining` needs of an order, without buyer data, in one request.
REFUND_ORDER_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "estimated_payment_details",
        "selected_shipping_option",
        "items.limit(100){id,retailer_id,product_name,quantity,price_per_unit}",
        "shipments.limit(100){id,items}",
        "cancellations.limit(100){id,items}",
        "refunds.limit(100){id,refund_reason,refund_amount,items}",
    )
)


def reason_words(code: str) -> str:
    """A refund reason code in words; a code orderdesk does not offer (Meta's own) as Meta wrote it."""
    if code == "FACEBOOK_INITIATED":
        return "Refunded by Meta"
    return REASON_WORDS.get(code, code)


def refund_params(preview: RefundPreview) -> dict[str, Any]:
    """What the ledger stores for ``preview``: the Graph parameters, the refunds the order had before it and the
    total before tax (the last two never sent)."""
    total = money.Money(preview.total, preview.currency).to_graph()
    return {**preview.graph_params(), REFUNDS_BEFORE: list(preview.refund_ids), REFUND_TOTAL: total}


def amount_input(item_id: str) -> str:
    return f"{AMOUNT_PREFIX}{item_id}"


def left_of(snap: Snapshot) -> Remaining | None:
    """What is left to refund of the snapshot's order, with the item names the modal shows; None when the
    snapshot carries none (the order offered no refund when it was read)."""
    if snap.refund is None:
        return None
    try:
        return from_compact(snap.refund, snap.order_id, {line.item_id: line.name for line in snap.lines})
    except ValueError:
        return None


def ask_of(values: Mapping[str, Any], left: Remaining) -> RefundAsk:
    """The refund form's values (by block id) as a :class:`RefundAsk`."""
    items = {
        item.item_id: ItemAsk(
            quantity=forms.text(values, forms.quantity_field(item.item_id)),
            amount=forms.text(values, amount_input(item.item_id)),
        )
        for item in left.items
    }
    return RefundAsk(
        reason=forms.text(values, FIELD_REASON),
        note=forms.text(values, FIELD_NOTE),
        items=items,
        shipping=forms.text(values, FIELD_SHIPPING),
        deduction=forms.text(values, FIELD_DEDUCTION),
    )


def ask_from_params(params: Mapping[str, Any]) -> RefundAsk:
    """The ask that :func:`refund_params` stored (to check it again against the order)."""
    items: dict[str, ItemAsk] = {}
    for line in params.get("items") or ():
        if "item_refund_quantity" in line:
            items[str(line["item_id"])] = ItemAsk(quantity=str(line["item_refund_quantity"]))
        else:
            items[str(line["item_id"])] = ItemAsk(amount=str((line.get("item_refund_amount") or {}).get("amount")))
    shipping = ((params.get("shipping") or {}).get("shipping_refund") or {}).get("amount")
    deductions = params.get("deductions") or [{}]
    deduction = (deductions[0].get("deduction_amount") or {}).get("amount")
    return RefundAsk(
        reason=str(params.get("reason_code") or ""),
        note=str(params.get("reason_text") or ""),
        items=items,
        shipping=str(shipping or ""),
        deduction=str(deduction or ""),
    )


def preview_of(snap: Snapshot, params: Mapping[str, Any]) -> RefundPreview | None:
    """The preview behind checked parameters, against the snapshot they were checked with."""
    left = left_of(snap)
    checked = check_refund(left, ask_from_params(params)) if left is not None else None
    return checked if isinstance(checked, RefundPreview) else None


def _errors(left: Remaining, problems: RefundProblems) -> dict[str, str]:
    """The check's problems under the modal's blocks: items by their quantity or amount input."""
    errors: dict[str, str] = {}
    first = next((item for item in left.items if item.refundable_amount > 0), None)
    for name, words in problems.fields.items():
        kind, _, item_id = name.partition(":")
        if name == quantity_field(item_id) and item_id:
            errors[forms.quantity_field(item_id)] = words
        elif name == amount_field(item_id) and item_id:
            errors[amount_input(item_id)] = words
        elif name == FIELD_ITEMS:
            errors[forms.quantity_field(first.item_id) if first else FIELD_REASON] = words
        else:
            errors[kind] = words
    return errors


class RefundOrder:
    """Refund shipped units of one order, by quantity or pre-tax amount, with shipping and deductions."""

    name = REFUND_ORDER
    action = REFUND
    verb = "refund"
    noun = "refund"
    offered_in = REFUNDABLE_STATES

    def check(self, snap: Snapshot, values: Mapping[str, Any], key: str) -> Checked:
        """The refund form against what the order had left when the modal opened (no call to Meta)."""
        left = left_of(snap)
        if left is None:
            return Checked(errors={FIELD_REASON: "Nothing of this order is left to refund. Open the order again."})
        checked = check_refund(left, ask_of(values, left))
        if isinstance(checked, RefundProblems):
            return Checked(errors=_errors(left, checked))
        return Checked(params=refund_params(checked))

    def summary(self, params: Mapping[str, Any], snap: Snapshot | None = None) -> str:
        """``Refunded USD 120.00 before tax (2 units and an amount; arrived damaged)``."""
        total = money.from_graph(params.get(REFUND_TOTAL))
        amount = f" {total}" if total is not None else ""
        lines = params.get("items") or []
        units = sum(int(line.get("item_refund_quantity", 0)) for line in lines)
        by_amount = sum(1 for line in lines if "item_refund_amount" in line)
        parts = [forms.units_words(units)] if units else []
        parts += ["an amount" if by_amount == 1 else f"{by_amount} amounts"] if by_amount else []
        if params.get("shipping"):
            parts.append("shipping")
        reason = reason_words(str(params.get("reason_code"))).lower()
        return f"Refunded{amount} before tax ({' and '.join(parts) or 'nothing'}; {reason})"

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        sent = {name: entry.params[name] for name in _GRAPH_PARAMS if name in entry.params}
        return graph.refund_order(entry.order_id, entry.key, **sent)

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return graph.get_order(entry.order_id, READ_BACK_FIELDS)

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        return made_by(entry.params, order) is not None

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"success": True, "recovered": True}

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return None

    def record_success(
        self, store: Storage, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        words: dict[str, str] = {"message": self.summary(entry.params)}
        request = store.approval_for_key(entry.key)
        if request is not None and request["decided_by"] and request["state"] in ("approved", "sent"):
            words["approver"] = str(request["decided_by"])
        return ledger.succeed(entry.key, response, detail=json.dumps(words))

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


REFUND_ACTION = RefundOrder()


def made_by(params: Mapping[str, Any], order: Mapping[str, Any]) -> str | None:
    """The id of the refund on ``order`` that the stored ``params`` made, if there is one: not among
    ``refunds_before``, with exactly these items (each with this quantity, or this amount) and this shipping."""
    before = {str(refund_id) for refund_id in params.get(REFUNDS_BEFORE) or ()}
    wanted = _wanted_lines(params)
    shipping = _shipping(params)
    for refund in edge_records(order.get("refunds")):
        refund_id = str(refund.get("id"))
        if refund_id in before:
            continue
        if _lines(refund) != wanted:
            continue
        got = _amount(_mapping(refund.get("refund_amount")).get("shipping"))
        if got is not None and got != shipping:
            continue
        return refund_id
    return None


def _wanted_lines(params: Mapping[str, Any]) -> dict[str, tuple[str, object]]:
    wanted: dict[str, tuple[str, object]] = {}
    for line in params.get("items") or ():
        item_id = str(line.get("item_id"))
        if "item_refund_quantity" in line:
            wanted[item_id] = ("quantity", int(line["item_refund_quantity"]))
        else:
            wanted[item_id] = ("amount", _amount(line.get("item_refund_amount")))
    return wanted


def _lines(refund: Mapping[str, Any]) -> dict[str, tuple[str, object]]:
    """A refund's lines as Meta reports them: by quantity when a quantity is given, else by their subtotal."""
    lines: dict[str, tuple[str, object]] = {}
    for line in edge_records(refund.get("items")):
        quantity = line.get("quantity")
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
            lines[str(line.get("id"))] = ("quantity", quantity)
        else:
            lines[str(line.get("id"))] = ("amount", _amount(line.get("refund_subtotal")))
    return lines


def _shipping(params: Mapping[str, Any]) -> Decimal:
    refund = _mapping(params.get("shipping")).get("shipping_refund")
    return _amount(refund) or Decimal(0)


def _amount(value: object) -> Decimal | None:
    parsed = money.from_graph(value)
    return abs(parsed.amount) if parsed is not None else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
