"""The Graph sandbox's order book: storage, the newest-first index, the order state machine and the write rules.

State machine, as Meta's Order Management API reference describes it::

    FB_PROCESSING --(Meta finalizes)--> CREATED --(acknowledge)--> IN_PROGRESS --(all shipped|cancelled)--> COMPLETED

Every refusal is a Graph envelope, HTTP 400. Commerce numbers (the reference's section 11.3) travel in
``error_subcode`` with ``code`` 100 and ``error_user_title``/``error_user_msg`` in words; a malformed parameter is
code 100 without a subcode. Nested parameters may be JSON values or JSON-encoded strings (form bodies). Amounts are
``currency_amount`` objects ``{"amount": "<decimal string>", "currency": "<ISO 4217>"}`` in the order's currency,
with at most the currency's own decimals (USD 2, JPY 0, KWD 3), else code 100; what is read back uses exactly
those decimals.

**Acknowledge** (``acknowledge_order``, ``acknowledge_orders``): only from CREATED, else 2361009 (FB_PROCESSING
included, with a message saying so).

**Ship** (``POST /{order-id}/shipments``, answers ``{"success": true}``)::

    items?: [{"item_id" | "retailer_id": ..., "quantity": n >= 1}]  (omitted: every open unit; [] -> 2361357)
    tracking_info?: {"carrier": "FEDEX", "tracking_number": "1Z999", "shipping_method_name"?: "Ground"}
    external_shipment_id?: [A-Za-z0-9_]+ ; merchant_order_reference?: must equal the stored one if any

- only IN_PROGRESS (CREATED/FB_PROCESSING: code 100); a COMPLETED order: 1818111 when everything was cancelled,
  else 1818214; more units than are still open (not shipped, not cancelled) for an item: 1818215;
- ``carrier``: one of the uppercase codes of ``bot/data/meta-carrier-codes.tsv`` or ``OTHER``; anything else
  (lowercase included) is code 100. Stored and read back lowercase (``fedex``), as Meta does;
- one tracking number per shipment: a list, or a number with spaces, commas or semicolons, is code 100; a number
  already on any shipment of the order (case-insensitive) is **2382045**;
- ``tracking_info`` may be left out (Meta's reference marks it optional); given, it needs both carrier and number;
- ``external_shipment_id``: outside ``[A-Za-z0-9_]+`` or already used on the order: code 100;
- reads: ``GET /{order-id}/shipments`` gives ``{id, items{data:[{id, retailer_id, product_id, quantity,
  tax{final_tax}}]}, tracking_info, created}`` and, when asked (``fields=...,external_shipment_id``), the
  ``external_shipment_id``; the items' ``status.fulfilled`` grows; once nothing is open the order is COMPLETED.

**Update tracking** (``POST /{order-id}/update_shipment``, ``{"success": true}``): exactly one of
``external_shipment_id`` or ``shipment_id`` names the shipment (unknown: code 100); ``tracking_info`` is required
and follows the shipment rules (a number on any shipment of the order, this one included: 2382045).

**Cancel** (``POST /{order-id}/cancellations``, ``{"success": true}``)::

    cancel_reason: {"reason_code": CUSTOMER_REQUESTED | OUT_OF_STOCK | INVALID_ADDRESS | SUSPICIOUS_ORDER
                    | CANCEL_REASON_OTHER, "reason_description"?: "shown to the buyer"}
                   (omitted: CANCEL_REASON_OTHER)
    restock_items?: bool (default false)
    items?: [{"item_id" | "retailer_id": ..., "quantity": n >= 1}]   (omitted: every open unit; [] is code 100)

- CREATED, IN_PROGRESS (its open units) and FB_PROCESSING once the order is 24 h old (younger: code 100, Meta
  documents no number); COMPLETED: 1818050 when something shipped (refund instead), else 1818048;
- only open units: more than are open for an item is 1818215;
- reads: ``GET /{order-id}/cancellations`` gives ``{id, items{data:[{id, retailer_id, product_id, quantity}]},
  cancel_reason, created}`` (``restock_items`` when asked); ``status.cancelled`` grows.

**Refund** (``POST /{order-id}/refunds``, ``{"success": true}``)::

    reason_code: BUYERS_REMORSE | DAMAGED_GOODS | NOT_AS_DESCRIBED | QUALITY_ISSUE | REFUND_REASON_OTHER
                 | WRONG_ITEM | FACEBOOK_INITIATED          (required; anything else: code 100)
    reason_text?: "shown to the buyer"
    items?: [{"item_id" | "retailer_id": ..., "item_refund_quantity": n >= 1
                                             | "item_refund_amount": {"amount": "12.50", "currency": "USD"}}]
            (omitted: everything still refundable on shipped units; [] with a shipping refund: shipping only)
    shipping?: {"shipping_refund": {"amount", "currency"}}
    deductions?: [{"deduction_type": "RETURN_SHIPPING", "deduction_amount": {"amount", "currency"}}]

- only shipped units, IN_PROGRESS orders included: nothing shipped is 1818107, or 1818105 when the order was
  cancelled; amounts are pre-tax;
- per item, what is left is ``shipped units x price - earlier refunds`` (quantity and amount refunds alike):
  more is **2382023** (by quantity: at most the whole units still left); nothing left is 2382319; an unknown
  ``retailer_id`` is 2382021 (an unknown ``item_id``: code 100); an amount of 0 is 2382030;
- shipping: at most the order's shipping charge (``selected_shipping_option.price``) less earlier shipping
  refunds, else **2382022**; deductions are positive and ``items + shipping - deductions`` must be above 0, else
  2382030;
- reads: ``GET /{order-id}/refunds`` gives ``{id, items{data:[{id, retailer_id, product_id, quantity (by-quantity
  lines only), refund_subtotal}]}, refund_reason{reason_code, reason_text?}, refund_amount{amount, currency,
  subtotal, shipping, deductions, tax, total}, created}``: every figure positive, ``tax`` the items' tax refunded
  in proportion, ``total = amount = subtotal + shipping - deductions + tax``. Refunds change no state; the order
  then matches ``filters=has_refunds``.

Item ``status`` is the object of Meta's reference: ``{"in_progress": open, "fulfilled": shipped, "cancelled": n}``;
``tax_details.captured_tax`` grows with shipments. Nothing here locks: the caller (``GraphSandbox``) holds its lock
around every call, and keeps the idempotency record.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.graph_data import (
    CURRENCY,
    DAY,
    STATES,
    IdMint,
    carrier_codes,
    iso,
    minor,
    money,
    new_order,
    parse_amount,
    reference,
)

CANCEL_REASONS = frozenset(
    {"CUSTOMER_REQUESTED", "OUT_OF_STOCK", "INVALID_ADDRESS", "SUSPICIOUS_ORDER", "CANCEL_REASON_OTHER"}
)
REFUND_REASONS = frozenset(
    {
        "BUYERS_REMORSE",
        "DAMAGED_GOODS",
        "NOT_AS_DESCRIBED",
        "QUALITY_ISSUE",
        "REFUND_REASON_OTHER",
        "WRONG_ITEM",
        "FACEBOOK_INITIATED",
    }
)
DEDUCTION_TYPES = frozenset({"RETURN_SHIPPING"})
EXTERNAL_SHIPMENT_ID = re.compile(r"[A-Za-z0-9_]+")
MAX_BATCH_ACK = 100
_HIDDEN_WHILE_PROCESSING = ("buyer_details", "shipping_address")  # Meta shares no buyer data before CREATED
_OBJECT_DOCS = "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"


class ApiError(Exception):
    """An error answered in Graph's envelope; ``envelope()`` gives the JSON body."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        subcode: int | None = None,
        kind: str = "OAuthException",
        title: str | None = None,
        user_msg: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.subcode = message, code, status, subcode
        self.kind, self.title, self.user_msg, self.transient = kind, title, user_msg, transient

    def envelope(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        optional = {"error_subcode": self.subcode, "error_user_title": self.title, "error_user_msg": self.user_msg}
        error.update({k: v for k, v in optional.items() if v is not None})
        error.update(is_transient=self.transient, fbtrace_id=fbtrace_id)
        return {"error": error}


def not_found(object_id: str, method: str) -> ApiError:
    """Graph's answer for an id it does not know (or may not show): 400, code 100, subcode 33."""
    return ApiError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        f"to missing permissions, or does not support this operation. {_OBJECT_DOCS}",
        code=100,
        subcode=33,
        kind="GraphMethodException",
    )


def invalid(message: str) -> ApiError:
    return ApiError(f"(#100) {message}", code=100)


def commerce(subcode: int, title: str, detail: str) -> ApiError:
    return ApiError(f"(#100) {title}: {detail}", code=100, subcode=subcode, title=title, user_msg=detail)


@dataclass
class Entry:
    """One stored order: its Graph representation plus the unix times the index and filters use."""

    data: dict[str, Any]
    created: int
    updated: int

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def state(self) -> str:
        return str(self.data["order_status"]["state"])

    def view(self) -> dict[str, Any]:
        """What Graph shows: no buyer details or address while the order is still FB_PROCESSING."""
        if self.state != "FB_PROCESSING":
            return self.data
        return {k: v for k, v in self.data.items() if k not in _HIDDEN_WHILE_PROCESSING}


@dataclass
class _Counts:
    shipped: int = 0
    cancelled: int = 0
    refunded: int = 0
    refunded_minor: int = 0


FILTERS: Mapping[str, Callable[[Entry], bool]] = {
    "has_cancellations": lambda e: bool(e.data["cancellations"]),
    "no_cancellations": lambda e: not e.data["cancellations"],
    "has_refunds": lambda e: bool(e.data["refunds"]),
    "no_refunds": lambda e: not e.data["refunds"],
    "no_shipments": lambda e: not e.data["shipments"],
    "has_fulfillments": lambda e: bool(e.data["shipments"]),
}

IndexKey = tuple[int, int]


def index_key(created: int, order_id: str) -> IndexKey:
    """Sort key of the list order, newest ``created`` first, then higher id first: stable while paging."""
    return (-created, -int(order_id))


class OrderBook:
    def __init__(self, mint: IdMint) -> None:
        self.mint = mint
        self._orders: dict[str, Entry] = {}
        self._index: list[IndexKey] = []

    def __len__(self) -> int:
        return len(self._orders)

    def find(self, order_id: str) -> Entry | None:
        return self._orders.get(order_id)

    def get(self, order_id: str, method: str = "GET") -> Entry:
        entry = self._orders.get(order_id)
        if entry is None:
            raise not_found(order_id, method)
        return entry

    def newest_first(self) -> Iterator[Entry]:
        return (self._orders[str(-key[1])] for key in self._index)

    def add(self, data: dict[str, Any], created: int, state: str) -> Entry:
        if str(data["id"]).startswith("0"):
            raise ValueError("order ids may not start with 0")
        data.update(order_status={"state": state}, shipments=[], cancellations=[], refunds=[])
        data["created"] = data["last_updated"] = iso(created)
        entry = Entry(data, created, created)
        self._orders[entry.id] = entry
        bisect.insort(self._index, index_key(created, entry.id))
        _refresh(entry)
        return entry

    def page(
        self, match: Callable[[Entry], bool], size: int, *, after: IndexKey | None, before: IndexKey | None
    ) -> tuple[list[Entry], bool, bool]:
        """Up to ``size`` matching orders after (or before) a position: (orders, more after, more before)."""
        if before is not None:
            pos = bisect.bisect_left(self._index, before)
            found, more_before = self._collect(match, range(pos - 1, -1, -1), size)
            found.reverse()
            return found, self._collect(match, range(pos, len(self._index)), 0)[1], more_before
        pos = bisect.bisect_right(self._index, after) if after is not None else 0
        found, more_after = self._collect(match, range(pos, len(self._index)), size)
        return found, more_after, self._collect(match, range(pos - 1, -1, -1), 0)[1]

    def _collect(self, match: Callable[[Entry], bool], positions: Iterable[int], size: int) -> tuple[list[Entry], bool]:
        """The first ``size`` matches and whether one more exists (stops there: pages stay cheap)."""
        found: list[Entry] = []
        for pos in positions:
            entry = self._orders[str(-self._index[pos][1])]
            if match(entry):
                if len(found) == size:
                    return found, True
                found.append(entry)
        return found, False

    def acknowledge(self, order_id: str, merchant_reference: str | None, now: int) -> dict[str, Any]:
        entry = self.get(order_id, "POST")
        if entry.state != "CREATED":
            raise _cannot_acknowledge(entry)
        entry.data["order_status"] = {"state": "IN_PROGRESS"}
        if merchant_reference:
            entry.data["merchant_order_id"] = merchant_reference
        _touch(entry, now)
        return {"id": entry.id, "state": "IN_PROGRESS"}

    def acknowledge_many(self, orders: Any, now: int) -> dict[str, Any]:
        """Batch acknowledgement: per-order outcomes, failures as ``{error_code, error_message}`` (not envelopes)."""
        if not isinstance(orders, list) or not orders or not all(isinstance(o, Mapping) and "id" in o for o in orders):
            raise invalid("Param orders must be a non-empty array of objects with an id")
        if len(orders) > MAX_BATCH_ACK:
            raise invalid(f"Param orders can hold at most {MAX_BATCH_ACK} orders, got {len(orders)}")
        results: list[dict[str, Any]] = []
        for order in orders:
            order_id = str(order["id"])
            if order_id not in self._orders:
                results.append({"id": order_id, "error": {"error_code": 2361003, "error_message": "Invalid Order ID"}})
                continue
            try:
                results.append(self.acknowledge(order_id, _optional_str(order, "merchant_order_reference"), now))
            except ApiError as exc:
                error = {"error_code": exc.subcode, "error_message": exc.user_msg or exc.message}
                results.append({"id": order_id, "error": error})
        return {"orders": results}

    def ship(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
        """``POST /{order-id}/shipments``: ship open units (every one when ``items`` is omitted) with one number."""
        entry = self.get(order_id, "POST")
        counts = _counts(entry)
        if entry.state == "COMPLETED":
            if not any(c.shipped for c in counts.values()):
                raise commerce(1818111, "Order cancelled", "a cancelled order cannot be shipped")
            raise commerce(1818214, "Order already fulfilled", "every item was already shipped, cancelled or refunded")
        if entry.state != "IN_PROGRESS":
            raise invalid(f"Order {order_id} is {entry.state}: only acknowledged (IN_PROGRESS) orders can be shipped")
        ref = _optional_str(params, "merchant_order_reference")
        stored = entry.data.get("merchant_order_id")
        if ref and stored and ref != stored:
            raise invalid(f"merchant_order_reference {ref!r} differs from the order's stored reference {stored!r}")
        tracking = _tracking(params.get("tracking_info"), required=False)
        external = _optional_str(params, "external_shipment_id")
        if external is not None:
            if not EXTERNAL_SHIPMENT_ID.fullmatch(external):
                raise invalid(f"Param external_shipment_id may hold only letters, digits and '_', got {external!r}")
            if any(s.get("external_shipment_id") == external for s in entry.data["shipments"]):
                raise invalid(f"external_shipment_id {external!r} is already used by a shipment of this order")
        lines = params.get("items")
        if isinstance(lines, list) and not lines:
            raise commerce(2361357, "Shipment has no items", "a shipment needs at least one item")
        resolved = self._lines(entry, lines, lambda i: _open(i, counts[i["id"]]))
        if not resolved:
            raise commerce(2361357, "Shipment has no items", "a shipment needs at least one item")
        if tracking is not None:
            _check_unused(entry, tracking["tracking_number"])
        shipment: dict[str, Any] = {
            "id": self.mint(),
            "created": iso(now),
            "items": [_line(i, q, tax=True) for i, q in resolved],
        }
        if tracking is not None:
            shipment["tracking_info"] = tracking
        if external is not None:
            shipment["external_shipment_id"] = external
        entry.data["shipments"].append(shipment)
        if ref:
            entry.data["merchant_order_id"] = ref
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def update_shipment(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
        """``POST /{order-id}/update_shipment``: new tracking for the shipment named by either of its ids."""
        entry = self.get(order_id, "POST")
        external, shipment_id = _optional_str(params, "external_shipment_id"), _optional_str(params, "shipment_id")
        if (external is None) == (shipment_id is None):
            raise invalid("update_shipment needs exactly one of external_shipment_id or shipment_id")
        key, wanted = ("external_shipment_id", external) if external is not None else ("id", shipment_id)
        shipment = next((s for s in entry.data["shipments"] if s.get(key) == wanted), None)
        if shipment is None:
            name = "external_shipment_id" if external is not None else "shipment_id"
            raise invalid(f"Order {order_id} has no shipment with {name} {wanted!r}")
        tracking = _tracking(params.get("tracking_info"), required=True)
        assert tracking is not None
        _check_unused(entry, tracking["tracking_number"])
        shipment["tracking_info"] = tracking
        _touch(entry, now)
        return {"success": True}

    def cancel(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
        """``POST /{order-id}/cancellations``: cancel open units (every one when ``items`` is omitted)."""
        entry = self.get(order_id, "POST")
        counts = _counts(entry)
        if entry.state == "COMPLETED":
            if any(c.shipped for c in counts.values()):
                raise commerce(1818050, "Order already shipped", "shipped items cannot be cancelled; refund instead")
            raise commerce(1818048, "Order already cancelled", "this order has nothing left to cancel")
        if entry.state == "FB_PROCESSING" and now - entry.created < DAY:
            raise invalid("Order is still in processing (FB_PROCESSING); it can be cancelled after 24 hours")
        reason = params.get("cancel_reason")
        if reason is not None and (not isinstance(reason, Mapping) or reason.get("reason_code") not in CANCEL_REASONS):
            raise invalid(f"Param cancel_reason.reason_code must be one of {sorted(CANCEL_REASONS)}")
        if reason is not None and not isinstance(reason.get("reason_description", ""), str):
            raise invalid("Param cancel_reason.reason_description must be a string")
        restock = _flag(params.get("restock_items"), "restock_items")
        lines = params.get("items")
        if isinstance(lines, list) and not lines:
            raise invalid("Param items must not be empty: omit it to cancel every unshipped unit")
        resolved = self._lines(entry, lines, lambda i: _open(i, counts[i["id"]]))
        if not resolved:
            raise commerce(1818215, "Items already processed", "no item quantity is left to cancel")
        cancel_reason = {k: str(v) for k, v in (reason or {"reason_code": "CANCEL_REASON_OTHER"}).items() if v}
        entry.data["cancellations"].append(
            {
                "id": self.mint(),
                "created": iso(now),
                "items": [_line(i, q) for i, q in resolved],
                "cancel_reason": cancel_reason,
                "restock_items": restock,
            }
        )
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def refund(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
        """``POST /{order-id}/refunds``: refund shipped units by quantity or pre-tax amount, shipping, deductions."""
        entry = self.get(order_id, "POST")
        currency = _currency(entry)
        reason = params.get("reason_code")
        if reason not in REFUND_REASONS:
            raise invalid(f"Param reason_code is required and must be one of {sorted(REFUND_REASONS)}")
        text = params.get("reason_text")
        if text is not None and not isinstance(text, str):
            raise invalid("Param reason_text must be a string")
        counts = _counts(entry)
        if not any(c.shipped for c in counts.values()):
            if entry.state == "COMPLETED":
                raise commerce(1818105, "Order cancelled", "a cancelled order cannot be refunded")
            raise commerce(1818107, "Order not charged", "no item has shipped yet, so nothing was charged")
        lines = params.get("items")
        if lines is None:
            refunded = [line for item in entry.data["items"] if (line := _rest(item, counts[item["id"]], currency))]
            if not refunded:
                raise commerce(2382319, "Item already refunded", "every shipped item was already refunded")
        else:
            refunded = [self._refund_line(entry, line, counts, currency) for line in _objects(lines)]
        subtotal = sum(minor(r["refund_subtotal"]) for r in refunded)
        tax = sum(minor(r.pop("_tax")) for r in refunded)
        shipping = _shipping_refund(entry, params.get("shipping"), currency)
        deducted = _deductions(params.get("deductions"), currency)
        total = subtotal + shipping - deducted
        if total <= 0:
            raise commerce(2382030, "Refund is zero", "the refund total (items + shipping - deductions) cannot be 0")
        refund_reason = {"reason_code": str(reason)}
        if text:
            refund_reason["reason_text"] = text
        entry.data["refunds"].append(
            {
                "id": self.mint(),
                "created": iso(now),
                "items": refunded,
                "refund_reason": refund_reason,
                "refund_amount": {
                    **money(total + tax, currency),
                    "subtotal": money(subtotal, currency),
                    "shipping": money(shipping, currency),
                    "deductions": money(deducted, currency),
                    "tax": money(tax, currency),
                    "total": money(total + tax, currency),
                },
            }
        )
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def _refund_line(
        self, entry: Entry, line: Mapping[str, Any], counts: dict[str, _Counts], currency: str
    ) -> dict[str, Any]:
        item = self._item(entry, line, unknown_retailer=2382021)
        count = counts[item["id"]]
        price = minor(item["price_per_unit"])
        left = count.shipped * price - count.refunded_minor
        if ("item_refund_amount" in line) == ("item_refund_quantity" in line):
            raise invalid("each refund item needs exactly one of item_refund_quantity or item_refund_amount")
        if left <= 0:
            raise commerce(2382319, "Item already refunded", f"item {item['id']} has nothing left to refund")
        if "item_refund_amount" in line:
            wanted = parse_amount(line["item_refund_amount"], currency)
            if isinstance(wanted, str):
                raise invalid(f"item_refund_amount {wanted}")
            if wanted < 0:
                raise invalid("item_refund_amount must not be negative")
            if wanted == 0:
                raise commerce(2382030, "Refund is zero", "an item refund cannot be 0")
            if wanted > left:
                raise commerce(
                    2382023,
                    "Refund too large",
                    f"item {item['id']}: {money(wanted, currency)['amount']} asked, "
                    f"{money(left, currency)['amount']} {currency} still refundable (before tax)",
                )
            count.refunded_minor += wanted
            return _refunded(item, None, wanted, currency)
        quantity = _quantity(line, "item_refund_quantity")
        if quantity > _refundable_quantity(item, count):
            raise commerce(
                2382023,
                "Refund too large",
                f"item {item['id']}: {quantity} asked, {_refundable_quantity(item, count)} shipped units refundable",
            )
        count.refunded += quantity
        count.refunded_minor += quantity * price
        return _refunded(item, quantity, quantity * price, currency)

    def _lines(
        self, entry: Entry, lines: Any, available: Callable[[dict[str, Any]], int]
    ) -> list[tuple[dict[str, Any], int]]:
        """``items`` of a shipment or cancellation resolved to (item, quantity); omitted means every open unit."""
        if lines is None:
            return [(item, n) for item in entry.data["items"] if (n := available(item)) > 0]
        wanted: dict[str, int] = {}
        items = {item["id"]: item for item in entry.data["items"]}
        for line in _objects(lines):
            item = self._item(entry, line)
            wanted[item["id"]] = wanted.get(item["id"], 0) + _quantity(line, "quantity")
        for item_id, quantity in wanted.items():
            if quantity > available(items[item_id]):
                raise commerce(
                    1818215,
                    "Items already processed",
                    f"item {item_id}: {quantity} requested, {available(items[item_id])} still open",
                )
        return [(items[i], q) for i, q in wanted.items()]

    @staticmethod
    def _item(entry: Entry, line: Mapping[str, Any], unknown_retailer: int | None = None) -> dict[str, Any]:
        if ("item_id" in line) == ("retailer_id" in line):
            raise invalid("each entry of items needs exactly one of item_id or retailer_id")
        key, value = ("item_id", "id") if "item_id" in line else ("retailer_id", "retailer_id")
        for item in entry.data["items"]:
            if str(item[value]) == str(line[key]):
                return item  # type: ignore[no-any-return]
        if key == "retailer_id" and unknown_retailer:
            raise commerce(unknown_retailer, "Invalid retailer_id", f"{line[key]!r} is not an item of this order")
        raise invalid(f"{key} {line[key]!r} is not an item of order {entry.id}")

    def advance(self, order_id: str, to: str | None, merchant_reference: str | None, now: int) -> Entry:
        """Move an order forward as Meta or another tool would (finalize, acknowledge elsewhere, ship all)."""
        entry = self._orders.get(order_id)
        if entry is None:
            raise KeyError(order_id)
        current = STATES.index(entry.state)
        target = to or (STATES[current + 1] if current + 1 < len(STATES) else None)
        if target not in STATES or STATES.index(target) <= current:
            raise ValueError(f"order {order_id} is {entry.state}; cannot advance it to {target}")
        if merchant_reference and not current <= 1 < STATES.index(target):
            raise ValueError("merchant_order_reference applies only when the advance acknowledges the order")
        while entry.state != target:
            if entry.state == "FB_PROCESSING":
                entry.data["order_status"] = {"state": "CREATED"}
                _touch(entry, now)
            elif entry.state == "CREATED":
                self.acknowledge(order_id, merchant_reference, now)
            else:
                self.ship(order_id, {"tracking_info": {"carrier": "UPS", "tracking_number": f"1Z{self.mint()}"}}, now)
        return entry

    def seed(self, rng: random.Random, count: int, now: int) -> None:
        """``count`` orders over the last 60 days, every state and both channels present (for count >= 4)."""
        next_ref = 1001
        for n in range(count):
            state = STATES[n] if n < len(STATES) else rng.choices(STATES, weights=(1, 6, 5, 8))[0]
            age = {"FB_PROCESSING": 25 * 60, "CREATED": 3 * DAY, "IN_PROGRESS": 20 * DAY}.get(state, 60 * DAY)
            created = now - rng.randrange(60, age)
            overrides = {"channel": ("facebook", "instagram")[n % 2]} if n < 2 else None
            entry = self.add(new_order(rng, self.mint, created=created, overrides=overrides), created, "FB_PROCESSING")
            if state == "FB_PROCESSING":
                continue
            clock = _Clock(rng, created, now)
            self.advance(entry.id, "CREATED", None, clock.later(60, 1800))
            if state == "CREATED":
                continue
            ref = reference(next_ref) if rng.random() < 0.7 else None
            next_ref += ref is not None
            self.acknowledge(entry.id, ref, clock.later(600, 6 * 3600))
            self._seed_history(entry, rng, clock, complete=state == "COMPLETED")

    def _seed_history(self, entry: Entry, rng: random.Random, clock: _Clock, *, complete: bool) -> None:
        items = entry.data["items"]
        if complete and rng.random() < 0.1:
            self.cancel(entry.id, {"cancel_reason": {"reason_code": "OUT_OF_STOCK"}}, clock.later(3600, DAY))
            return
        if complete and len(items) > 1 and rng.random() < 0.15:
            line = [{"item_id": items[-1]["id"], "quantity": items[-1]["quantity"]}]
            self.cancel(entry.id, {"items": line, "cancel_reason": {"reason_code": "CUSTOMER_REQUESTED"}}, clock.now)
        if complete or (len(items) > 1 and rng.random() < 0.3):
            first = [{"item_id": items[0]["id"], "quantity": items[0]["quantity"]}]
            tracking = {"carrier": rng.choice(("UPS", "USPS", "FEDEX")), "tracking_number": f"1Z{self.mint()}"}
            when = clock.later(DAY // 2, 3 * DAY)
            self.ship(entry.id, {"items": None if complete else first, "tracking_info": tracking}, when)
        if complete and rng.random() < 0.15:
            line = [{"item_id": items[0]["id"], "item_refund_quantity": 1}]
            self.refund(entry.id, {"reason_code": "DAMAGED_GOODS", "items": line}, clock.later(DAY, 5 * DAY))


class _Clock:
    """Monotonic seeding time for one order's history, never past ``now``."""

    def __init__(self, rng: random.Random, start: int, end: int) -> None:
        self._rng, self.now, self._end = rng, start, end

    def later(self, low: int, high: int) -> int:
        self.now = min(self._end, self.now + self._rng.randrange(low, high))
        return self.now


def _cannot_acknowledge(entry: Entry) -> ApiError:
    if entry.state == "FB_PROCESSING":
        detail = "the order is still in processing (FB_PROCESSING); Meta has not finalized it yet"
    else:
        detail = f"the order is {entry.state}; only CREATED orders can be acknowledged"
    return commerce(2361009, "Order cannot be acknowledged", detail)


def _counts(entry: Entry) -> dict[str, _Counts]:
    counts = {item["id"]: _Counts() for item in entry.data["items"]}
    for shipment in entry.data["shipments"]:
        for line in shipment["items"]:
            counts[line["id"]].shipped += line["quantity"]
    for cancellation in entry.data["cancellations"]:
        for line in cancellation["items"]:
            counts[line["id"]].cancelled += line["quantity"]
    for refund in entry.data["refunds"]:
        for line in refund["items"]:
            counts[line["id"]].refunded += line.get("quantity", 0)
            counts[line["id"]].refunded_minor += minor(line["refund_subtotal"])
    return counts


def _open(item: Mapping[str, Any], count: _Counts) -> int:
    return int(item["quantity"]) - count.shipped - count.cancelled


def _refundable_quantity(item: Mapping[str, Any], count: _Counts) -> int:
    price = minor(item["price_per_unit"])
    by_value = (count.shipped * price - count.refunded_minor) // price if price else count.shipped
    return max(0, min(count.shipped - count.refunded, by_value))


def _refresh(entry: Entry) -> None:
    """Recompute item status and captured tax, and complete the order once nothing is left open."""
    counts = _counts(entry)
    for item in entry.data["items"]:
        count = counts[item["id"]]
        item["status"] = {"in_progress": _open(item, count), "fulfilled": count.shipped, "cancelled": count.cancelled}
        estimated = item["tax_details"]["estimated_tax"]
        captured = minor(estimated) * count.shipped // int(item["quantity"])
        item["tax_details"]["captured_tax"] = {"total_tax": money(captured, estimated["currency"])}
    if all(_open(item, counts[item["id"]]) == 0 for item in entry.data["items"]):
        entry.data["order_status"] = {"state": "COMPLETED"}


def _touch(entry: Entry, now: int) -> None:
    entry.updated = max(entry.updated, now)
    entry.data["last_updated"] = iso(entry.updated)


def _line(item: Mapping[str, Any], quantity: int | None, *, tax: bool = False) -> dict[str, Any]:
    line = {k: item[k] for k in ("id", "retailer_id", "product_id")}
    if quantity is not None:
        line["quantity"] = quantity
    if tax and quantity is not None:
        estimated = item["tax_details"]["estimated_tax"]
        line["tax"] = {"final_tax": money(minor(estimated) * quantity // item["quantity"], estimated["currency"])}
    return line


def _currency(entry: Entry) -> str:
    """The order's currency: every amount of an order is in the one currency of its prices."""
    return str(entry.data["items"][0]["price_per_unit"].get("currency") or CURRENCY)


def _refunded(item: Mapping[str, Any], quantity: int | None, amount: int, currency: str) -> dict[str, Any]:
    """A refund line as Graph reads it back; ``_tax`` (the item tax refunded with it) is taken off by the caller."""
    full = minor(item["price_per_unit"]) * int(item["quantity"])
    tax = minor(item["tax_details"]["estimated_tax"]) * amount // full if full else 0
    return {**_line(item, quantity), "refund_subtotal": money(amount, currency), "_tax": money(tax, currency)}


def _rest(item: Mapping[str, Any], count: _Counts, currency: str) -> dict[str, Any] | None:
    """What a full refund gives back of one item: whole units by quantity, a remainder (after amount refunds) by
    amount."""
    price = minor(item["price_per_unit"])
    left = count.shipped * price - count.refunded_minor
    if left <= 0:
        return None
    units = _refundable_quantity(item, count)
    return _refunded(item, units if units * price == left else None, left, currency)


def _tracking(value: Any, *, required: bool) -> dict[str, str] | None:
    """A valid ``tracking_info`` as stored (carrier lowercase, as Graph reads it back), or the reason it is not."""
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise invalid("Param tracking_info must be an object {carrier, tracking_number, shipping_method_name?}")
    carrier, number = value.get("carrier"), value.get("tracking_number")
    if not isinstance(carrier, str) or carrier not in carrier_codes():
        raise invalid(
            "Param tracking_info[carrier] must be one of Meta's carrier codes in uppercase (e.g. FEDEX, UPS, USPS) "
            f"or OTHER for a carrier not listed, got {carrier!r}"
        )
    if not isinstance(number, str) or not number.strip():
        raise invalid("Param tracking_info[tracking_number] is required: one tracking number per shipment")
    if any(ch.isspace() or ch in ",;" for ch in number.strip()):
        raise invalid(
            f"Param tracking_info[tracking_number] must be one tracking number, got {number!r}: "
            "use one shipment per tracking number"
        )
    method = value.get("shipping_method_name")
    if method is not None and not isinstance(method, str):
        raise invalid("Param tracking_info[shipping_method_name] must be a string")
    stored = {"tracking_number": number.strip(), "carrier": carrier.lower()}
    if method:
        stored["shipping_method_name"] = method
    return stored


def _check_unused(entry: Entry, number: str) -> None:
    """A tracking number may appear on one shipment of an order only (2382045 otherwise)."""
    used = {str((s.get("tracking_info") or {}).get("tracking_number", "")).upper() for s in entry.data["shipments"]}
    if number.upper() in used:
        raise commerce(
            2382045, "Duplicate fulfillment", f"tracking number {number} is already used on a shipment of this order"
        )


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if str(value).lower() in ("true", "1", "false", "0"):
        return str(value).lower() in ("true", "1")
    raise invalid(f"Param {name} must be a boolean, got {value!r}")


def _shipping_refund(entry: Entry, value: Any, currency: str) -> int:
    """Minor units of ``shipping.shipping_refund``, at most the shipping charged less what earlier refunds gave back."""
    if value is None:
        return 0
    if not isinstance(value, Mapping) or "shipping_refund" not in value:
        raise invalid("Param shipping must be {shipping_refund: {amount, currency}}")
    wanted = parse_amount(value["shipping_refund"], currency)
    if isinstance(wanted, str):
        raise invalid(f"shipping.shipping_refund {wanted}")
    if wanted < 0:
        raise invalid("shipping.shipping_refund must not be negative")
    charged = minor(entry.data["selected_shipping_option"]["price"])
    left = charged - sum(minor(r["refund_amount"]["shipping"]) for r in entry.data["refunds"])
    if wanted > left:
        raise commerce(
            2382022,
            "Shipping refund too large",
            f"{money(wanted, currency)['amount']} asked, {money(left, currency)['amount']} {currency} of shipping left",
        )
    return wanted


def _deductions(value: Any, currency: str) -> int:
    """Minor units deducted (``deductions[{deduction_type: RETURN_SHIPPING, deduction_amount}]``)."""
    if value is None:
        return 0
    total = 0
    for deduction in _objects(value, "deductions"):
        if deduction.get("deduction_type") not in DEDUCTION_TYPES:
            raise invalid(f"deduction_type must be one of {sorted(DEDUCTION_TYPES)}")
        amount = parse_amount(deduction.get("deduction_amount"), currency)
        if isinstance(amount, str):
            raise invalid(f"deduction_amount {amount}")
        if amount <= 0:
            raise invalid("deduction_amount must be positive")
        total += amount
    return total


def _objects(lines: Any, name: str = "items") -> list[Mapping[str, Any]]:
    if not isinstance(lines, list) or not all(isinstance(line, Mapping) for line in lines):
        raise invalid(f"Param {name} must be an array of objects")
    return lines


def _quantity(line: Mapping[str, Any], key: str) -> int:
    value = line.get(key)
    if isinstance(value, bool) or not str(value).isdigit() or int(str(value)) < 1:
        raise invalid(f"{key} must be a positive integer, got {value!r}")
    return int(str(value))


def _optional_str(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "") else str(value)
