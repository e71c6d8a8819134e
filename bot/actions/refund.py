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

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.actions.ledger import Ledger, LedgerEntry
from bot.domain import money
from bot.domain.remaining import REFUND_REASONS, RefundPreview
from bot.graph.client import GraphClient
from bot.storage.sqlite.store import Store

REFUND_ORDER = "refund_order"
# Refunds apply to shipped units, which an order has once it is IN_PROGRESS (partly shipped) or COMPLETED.
REFUNDABLE_STATES = frozenset({"IN_PROGRESS", "COMPLETED"})
# Each documented reason an agent may give, in words (Meta's own FACEBOOK_INITIATED is not offered).
REASON_WORDS: dict[str, str] = REFUND_REASONS
REFUNDS_BEFORE = "refunds_before"  # stored with the request, never sent: see the module docstring
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
    """What the ledger stores for ``preview``: the Graph parameters, and the refunds the order had before it."""
    return {**preview.graph_params(), REFUNDS_BEFORE: list(preview.refund_ids)}


class RefundOrder:
    """Refund shipped units of one order, by quantity or pre-tax amount, with shipping and deductions."""

    name = REFUND_ORDER
    offered_in = REFUNDABLE_STATES

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
        self, store: Store, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        return ledger.succeed(entry.key, response)

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


REFUND = RefundOrder()


def made_by(params: Mapping[str, Any], order: Mapping[str, Any]) -> str | None:
    """The id of the refund on ``order`` that the stored ``params`` made, if there is one: not among
    ``refunds_before``, with exactly these items (each with this quantity, or this amount) and this shipping."""
    before = {str(refund_id) for refund_id in params.get(REFUNDS_BEFORE) or ()}
    wanted = _wanted_lines(params)
    shipping = _shipping(params)
    for refund in _records(order.get("refunds")):
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
    for line in _records(refund.get("items")):
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


def _records(connection: object) -> list[Mapping[str, Any]]:
    if isinstance(connection, Mapping):
        connection = connection.get("data")
    if not isinstance(connection, list):
        return []
    return [record for record in connection if isinstance(record, Mapping)]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
