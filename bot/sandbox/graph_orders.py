"""The Graph sandbox's order book: storage, the newest-first index, and the order state machine.

State machine, as Meta's Order Management API reference describes it::

    FB_PROCESSING --(Meta finalizes)--> CREATED --(acknowledge)--> IN_PROGRESS --(all shipped|cancelled)--> COMPLETED

Acknowledgement works only from CREATED (else 2361009, FB_PROCESSING included, with a message saying so);
shipments and cancellations move item quantities and complete the order once every unit is shipped or cancelled;
refunds apply to shipped units only. Commerce error numbers travel in ``error_subcode`` with ``code`` 100, as in
Meta's error reference. Nothing here locks: the caller (``GraphSandbox``) holds its lock around every call.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.graph_data import DAY, STATES, IdMint, cents, iso, money, new_order, reference

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
        "REFUND_COMPROMISED",
        "REFUND_FOR_RETURN",
        "REFUND_SFI_FAKE",
        "REFUND_SFI_REAL",
    }
)
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
    refunded_cents: int = 0


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
        entry = self.get(order_id, "POST")
        if entry.state == "COMPLETED":
            raise commerce(1818214, "Order already fulfilled", "every item was already shipped, cancelled or refunded")
        if entry.state != "IN_PROGRESS":
            raise invalid(f"Order {order_id} is {entry.state}: only acknowledged (IN_PROGRESS) orders can be shipped")
        ref = _optional_str(params, "merchant_order_reference")
        stored = entry.data.get("merchant_order_id")
        if ref and stored and ref != stored:
            raise invalid(f"merchant_order_reference {ref!r} differs from the order's stored reference {stored!r}")
        counts = _counts(entry)
        lines = self._lines(entry, params.get("items"), lambda i: _open(i, counts[i["id"]]))
        if not lines:
            raise commerce(2361357, "Shipment has no items", "a shipment needs at least one item")
        tracking = params.get("tracking_info")
        if tracking is not None:
            if not isinstance(tracking, Mapping) or not tracking.get("carrier") or not tracking.get("tracking_number"):
                raise invalid("Param tracking_info needs carrier and tracking_number")
            used = {s.get("tracking_info", {}).get("tracking_number") for s in entry.data["shipments"]}
            if tracking["tracking_number"] in used:
                raise commerce(2382045, "Duplicate fulfillment", "this tracking number is already used on the order")
        shipment: dict[str, Any] = {"id": self.mint(), "items": [_line(i, q, tax=True) for i, q in lines]}
        if tracking is not None:
            shipment["tracking_info"] = dict(tracking)
        if external := _optional_str(params, "external_shipment_id"):
            shipment["external_shipment_id"] = external
        entry.data["shipments"].append(shipment)
        if ref:
            entry.data["merchant_order_id"] = ref
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def cancel(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
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
        lines = self._lines(entry, params.get("items"), lambda i: _open(i, counts[i["id"]]))
        if not lines:
            raise commerce(1818215, "Items already processed", "no item quantity is left to cancel")
        entry.data["cancellations"].append(
            {
                "id": self.mint(),
                "items": [_line(i, q) for i, q in lines],
                "cancel_reason": dict(reason or {"reason_code": "CANCEL_REASON_OTHER"}),
                "restock_items": str(params.get("restock_items", False)).lower() in ("true", "1"),
            }
        )
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def refund(self, order_id: str, params: Mapping[str, Any], now: int) -> dict[str, Any]:
        entry = self.get(order_id, "POST")
        reason = params.get("reason_code")
        if reason not in REFUND_REASONS:
            raise invalid(f"Param reason_code is required and must be one of {sorted(REFUND_REASONS)}")
        counts = _counts(entry)
        if not any(c.shipped for c in counts.values()):
            if entry.state == "COMPLETED":
                raise commerce(1818105, "Order cancelled", "a cancelled order cannot be refunded")
            raise commerce(1818107, "Order not charged", "no item has shipped yet, so nothing was charged")
        lines = params.get("items")
        refunded: list[dict[str, Any]] = []
        if lines is None:
            for item in entry.data["items"]:
                if quantity := _refundable_quantity(item, counts[item["id"]]):
                    refunded.append({**_line(item, quantity), "refund_subtotal": _subtotal(item, quantity)})
            if not refunded:
                raise commerce(2382319, "Item already refunded", "every shipped item was already refunded")
        else:
            refunded = [self._refund_line(entry, line, counts) for line in _objects(lines)]
        subtotal = sum(cents(r["refund_subtotal"]) for r in refunded)
        shipping = params.get("shipping") or {}
        shipping_cents = cents(shipping["shipping_refund"]) if isinstance(shipping, Mapping) and shipping else 0
        refund_reason = {"reason_code": reason}
        if text := _optional_str(params, "reason_text"):
            refund_reason["reason_text"] = text
        entry.data["refunds"].append(
            {
                "id": self.mint(),
                "items": refunded,
                "refund_reason": refund_reason,
                "refund_amount": {
                    **money(subtotal + shipping_cents),
                    "subtotal": money(subtotal),
                    "shipping": money(shipping_cents),
                    "total": money(subtotal + shipping_cents),
                },
            }
        )
        _refresh(entry)
        _touch(entry, now)
        return {"success": True}

    def _refund_line(self, entry: Entry, line: Mapping[str, Any], counts: dict[str, _Counts]) -> dict[str, Any]:
        item = self._item(entry, line, unknown_retailer=2382021)
        count = counts[item["id"]]
        refundable_cents = count.shipped * cents(item["price_per_unit"]) - count.refunded_cents
        if refundable_cents <= 0:
            raise commerce(2382319, "Item already refunded", f"item {item['id']} has nothing left to refund")
        if "item_refund_amount" in line:
            amount = line["item_refund_amount"]
            if not isinstance(amount, Mapping) or "amount" not in amount:
                raise invalid("item_refund_amount must be a currency amount {amount, currency}")
            wanted = cents(amount)
            if wanted <= 0:
                raise commerce(2382030, "Refund is zero", "the refund total cannot be 0")
            if wanted > refundable_cents:
                raise commerce(2382023, "Refund too large", "the item refund is greater than the charged amount")
            count.refunded_cents += wanted
            return {**_line(item, None), "refund_subtotal": money(wanted)}
        quantity = _quantity(line, "item_refund_quantity")
        if quantity > _refundable_quantity(item, count):
            raise commerce(2382023, "Refund too large", "the item refund is greater than the charged amount")
        count.refunded += quantity
        count.refunded_cents += quantity * cents(item["price_per_unit"])
        return {**_line(item, quantity), "refund_subtotal": _subtotal(item, quantity)}

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
                self.ship(order_id, {"tracking_info": {"carrier": "ups", "tracking_number": f"1Z{self.mint()}"}}, now)
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
            tracking = {"carrier": rng.choice(("ups", "usps", "fedex")), "tracking_number": f"1Z{self.mint()}"}
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
            counts[line["id"]].refunded_cents += cents(line["refund_subtotal"])
    return counts


def _open(item: Mapping[str, Any], count: _Counts) -> int:
    return int(item["quantity"]) - count.shipped - count.cancelled


def _refundable_quantity(item: Mapping[str, Any], count: _Counts) -> int:
    by_value = (count.shipped * cents(item["price_per_unit"]) - count.refunded_cents) // cents(item["price_per_unit"])
    return max(0, min(count.shipped - count.refunded, by_value))


def _refresh(entry: Entry) -> None:
    """Recompute item status and captured tax, and complete the order once nothing is left open."""
    counts = _counts(entry)
    for item in entry.data["items"]:
        count = counts[item["id"]]
        item["status"] = {
            "in_progress": _open(item, count),
            "fulfilled": count.shipped,
            "cancelled": count.cancelled,
            "refunded": count.refunded,
        }
        estimated = cents(item["tax_details"]["estimated_tax"])
        captured = estimated * count.shipped // int(item["quantity"])
        item["tax_details"]["captured_tax"] = {"total_tax": money(captured)}
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
        line["tax"] = {"final_tax": money(cents(item["tax_details"]["estimated_tax"]) * quantity // item["quantity"])}
    return line


def _subtotal(item: Mapping[str, Any], quantity: int) -> dict[str, str]:
    return money(cents(item["price_per_unit"]) * quantity)


def _objects(lines: Any) -> list[Mapping[str, Any]]:
    if not isinstance(lines, list) or not all(isinstance(line, Mapping) for line in lines):
        raise invalid("Param items must be an array of objects")
    return lines


def _quantity(line: Mapping[str, Any], key: str) -> int:
    value = line.get(key)
    if isinstance(value, bool) or not str(value).isdigit() or int(str(value)) < 1:
        raise invalid(f"{key} must be a positive integer, got {value!r}")
    return int(str(value))


def _optional_str(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "") else str(value)
