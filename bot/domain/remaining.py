"""What is left to do on an order: the units still open (to ship or cancel) and the money still refundable, and
the check of a refund an agent asks for against it.

Everything is computed from the order as Graph returns it with its edges expanded (``items``, ``shipments``,
``cancellations``, ``refunds``: :data:`bot.graph.client.ORDER_CARD_FIELDS` reads them all in one request), the same
way the sandbox and Meta count:

* an item's **open** units are ordered − shipped − cancelled: they may be shipped or cancelled;
* an item's **refundable amount** is shipped units × unit price − what its earlier refunds took (by quantity or
  by amount), and its **refundable units** are the shipped units not refunded by quantity, but no more than
  that amount covers (after a partial refund by amount, a whole unit may no longer fit);
* **shipping** left to refund is the shipping charged minus the shipping of earlier refunds.

Amounts are Decimal in the order's currency and its own minor units (:mod:`bot.domain.money`); a refund is never
rounded into validity: an amount with more digits than the currency has is refused in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.domain import money
from bot.domain.order import edge_records

# Every documented refund reason an agent may give (Meta's own FACEBOOK_INITIATED is not one), in words.
REFUND_REASONS: dict[str, str] = {
    "BUYERS_REMORSE": "Buyer changed their mind",
    "DAMAGED_GOODS": "Arrived damaged",
    "NOT_AS_DESCRIBED": "Not as described",
    "QUALITY_ISSUE": "Quality problem",
    "WRONG_ITEM": "Wrong item sent",
    "REFUND_REASON_OTHER": "Another reason",
}
# The buyer reads the note in the Facebook or Instagram app; Meta documents no limit, so orderdesk sets one.
NOTE_MAX = 500
RETURN_SHIPPING = "RETURN_SHIPPING"

# The keys of :attr:`RefundProblems.fields`: one per modal field, items by id.
FIELD_REASON = "reason"
FIELD_NOTE = "note"
FIELD_SHIPPING = "shipping"
FIELD_DEDUCTION = "deduction"
FIELD_ITEMS = "items"  # the refund as a whole: no item chosen, the order cannot be refunded, ...


def quantity_field(item_id: str) -> str:
    return f"quantity:{item_id}"


def amount_field(item_id: str) -> str:
    return f"amount:{item_id}"


ZERO = Decimal(0)
_CHANGES = ("shipments", "cancellations", "refunds")  # the edges that change what is left of the items


@dataclass(frozen=True)
class ItemLeft:
    """One order line and what its shipments, cancellations and refunds left of it."""

    item_id: str
    retailer_id: str | None
    name: str | None
    ordered: int
    unit_price: Decimal | None  # None when Meta gave no usable price: nothing can be refunded by orderdesk
    shipped: int = 0
    cancelled: int = 0
    refunded_units: int = 0
    refunded_amount: Decimal = ZERO

    @property
    def open_units(self) -> int:
        """Units neither shipped nor cancelled: what may still be shipped, or cancelled."""
        return max(0, self.ordered - self.shipped - self.cancelled)

    @property
    def refundable_amount(self) -> Decimal:
        """The pre-tax value of shipped units not yet refunded."""
        if self.unit_price is None:
            return ZERO
        return max(ZERO, self.shipped * self.unit_price - self.refunded_amount)

    @property
    def refundable_units(self) -> int:
        """Shipped units not refunded by quantity, as many as the refundable amount still covers."""
        if self.unit_price is None or self.unit_price <= 0:
            return 0
        by_value = int(self.refundable_amount // self.unit_price)
        return max(0, min(self.shipped - self.refunded_units, by_value))


@dataclass(frozen=True)
class Remaining:
    """An order's lines and shipping with what is left of them, in the order's currency.

    ``complete`` is False when an edge came back with another page (an order with more than one read holds):
    the counts could then be short, and no refund is offered from them. ``refund_ids`` are the refunds already on
    the order, so a refund sent later is told apart from them when its outcome is confirmed by reading back.
    """

    order_id: str
    currency: str
    items: tuple[ItemLeft, ...]
    shipping_charged: Decimal = ZERO
    shipping_refunded: Decimal = ZERO
    complete: bool = True
    refund_ids: tuple[str, ...] = ()

    @property
    def shipping_refundable(self) -> Decimal:
        return max(ZERO, self.shipping_charged - self.shipping_refunded)

    @property
    def refundable(self) -> bool:
        """Whether any shipped value is left to refund (what the Refund… button needs)."""
        return self.complete and any(item.refundable_amount > 0 for item in self.items)

    @property
    def refundable_total(self) -> Decimal:
        """The most one refund could still return before tax: every item's refundable amount and the shipping."""
        return sum((item.refundable_amount for item in self.items), ZERO) + self.shipping_refundable

    def item(self, item_id: str) -> ItemLeft | None:
        return next((item for item in self.items if item.item_id == item_id), None)

    def money(self, amount: Decimal) -> str:
        """``amount`` for people, in this order's currency."""
        return money.format_money(amount, self.currency)


def to_compact(left: Remaining) -> dict[str, Any]:
    """``left`` in a few characters (no names), to travel in a modal's metadata; :func:`from_compact` reads it."""
    return {
        "c": left.currency,
        "i": [
            [
                item.item_id,
                None if item.unit_price is None else str(item.unit_price),
                item.ordered,
                item.shipped,
                item.cancelled,
                item.refunded_units,
                str(item.refunded_amount),
            ]
            for item in left.items
        ],
        "s": [str(left.shipping_charged), str(left.shipping_refunded)],
        "r": list(left.refund_ids),
        "k": int(left.complete),
    }


def from_compact(data: Mapping[str, Any], order_id: str, names: Mapping[str, str] | None = None) -> Remaining:
    """The :class:`Remaining` :func:`to_compact` wrote (item names from ``names``); ValueError for anything else."""
    try:
        items = tuple(
            ItemLeft(
                item_id=str(item_id),
                retailer_id=None,
                name=(names or {}).get(str(item_id)),
                ordered=int(ordered),
                unit_price=None if price is None else Decimal(str(price)),
                shipped=int(shipped),
                cancelled=int(cancelled),
                refunded_units=int(units),
                refunded_amount=Decimal(str(amount)),
            )
            for item_id, price, ordered, shipped, cancelled, units, amount in data["i"]
        )
        charged, refunded = data["s"]
        return Remaining(
            order_id=order_id,
            currency=str(data["c"]),
            items=items,
            shipping_charged=Decimal(str(charged)),
            shipping_refunded=Decimal(str(refunded)),
            complete=bool(data["k"]),
            refund_ids=tuple(str(refund_id) for refund_id in data["r"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise ValueError("not what to_compact wrote") from error


def remaining(order: Mapping[str, Any]) -> Remaining:
    """What is left of ``order`` (a Graph order with its ``items`` and the edges that change them)."""
    items = edge_records(order.get("items"))
    currency = _currency(order, items)
    lines: dict[str, dict[str, Any]] = {}
    by_retailer: dict[str, str] = {}
    for item in items:
        item_id = _text(item.get("id"))
        if item_id is None:
            continue
        retailer = _text(item.get("retailer_id"))
        if retailer is not None:
            by_retailer.setdefault(retailer, item_id)
        price = money.from_graph(item.get("price_per_unit"))
        lines[item_id] = {
            "item_id": item_id,
            "retailer_id": retailer,
            "name": _text(item.get("product_name")),
            "ordered": _count(item.get("quantity")),
            "unit_price": price.amount if price is not None and price.amount >= 0 else None,
            "shipped": 0,
            "cancelled": 0,
            "refunded_units": 0,
            "refunded_amount": ZERO,
        }

    def line_of(record_line: Mapping[str, Any]) -> dict[str, Any] | None:
        item_id = _text(record_line.get("id")) or by_retailer.get(_text(record_line.get("retailer_id")) or "")
        return lines.get(item_id or "")

    for shipment in edge_records(order.get("shipments")):
        for record_line in edge_records(shipment.get("items")):
            if (line := line_of(record_line)) is not None:
                line["shipped"] += _count(record_line.get("quantity"))
    for cancellation in edge_records(order.get("cancellations")):
        for record_line in edge_records(cancellation.get("items")):
            if (line := line_of(record_line)) is not None:
                line["cancelled"] += _count(record_line.get("quantity"))
    shipping_refunded = ZERO
    refund_ids: list[str] = []
    for refund in edge_records(order.get("refunds")):
        if (refund_id := _text(refund.get("id"))) is not None:
            refund_ids.append(refund_id)
        for record_line in edge_records(refund.get("items")):
            if (line := line_of(record_line)) is not None:
                line["refunded_units"] += _count(record_line.get("quantity"))
                line["refunded_amount"] += _amount(record_line.get("refund_subtotal"))
        breakdown = refund.get("refund_amount")
        if isinstance(breakdown, Mapping):
            shipping_refunded += _amount(breakdown.get("shipping"))  # Meta writes it with a minus sign: abs()
    payment = order.get("estimated_payment_details")
    charged = _mapping(_mapping(payment).get("subtotal")).get("shipping")
    if charged is None:
        charged = _mapping(order.get("selected_shipping_option")).get("price")
    complete = not any(_has_next(order.get(edge)) for edge in ("items", *_CHANGES)) and not any(
        _has_next(record.get("items")) for edge in _CHANGES for record in edge_records(order.get(edge))
    )
    return Remaining(
        order_id=str(order.get("id") or ""),
        currency=currency,
        items=tuple(ItemLeft(**line) for line in lines.values()),
        shipping_charged=_amount(charged),
        shipping_refunded=shipping_refunded,
        complete=complete,
        refund_ids=tuple(refund_ids),
    )


def open_units(order: Mapping[str, Any]) -> dict[str, int]:
    """Every item's units neither shipped nor cancelled, by item id (zeros included)."""
    return {item.item_id: item.open_units for item in remaining(order).items}


def cancellable(order: Mapping[str, Any]) -> dict[str, int]:
    """Units a cancellation may still take, by item id: the unshipped, uncancelled ones (zeros included).

    Meta cancels only unshipped units; whether the order's *state* allows a cancellation at all (CREATED,
    IN_PROGRESS, FB_PROCESSING after 24 h) is the caller's question.
    """
    return open_units(order)


# The refund an agent asks for, and the check of it.


@dataclass(frozen=True)
class ItemAsk:
    """One line of the refund modal: a quantity or a pre-tax amount (as typed; empty or 0 means none)."""

    quantity: str = ""
    amount: str = ""


@dataclass(frozen=True)
class RefundAsk:
    """What an agent asked to refund: per item a quantity or an amount, shipping, the return-shipping deduction,
    the reason code and the note the buyer will read. Text as typed; :func:`check_refund` parses it."""

    reason: str
    note: str = ""
    items: Mapping[str, ItemAsk] = field(default_factory=dict)
    shipping: str = ""
    deduction: str = ""


@dataclass(frozen=True)
class RefundLine:
    """One item of a refund: by ``quantity`` (its amount is quantity × unit price) or by amount (quantity None)."""

    item_id: str
    retailer_id: str | None
    name: str | None
    quantity: int | None
    amount: Decimal


@dataclass(frozen=True)
class RefundPreview:
    """A refund that fits what is left of the order: what the agent sees before sending, and what is sent.

    ``total`` is before tax: items + shipping − the return-shipping deduction. ``refund_ids`` are the refunds the
    order had when it was checked.
    """

    order_id: str
    currency: str
    reason: str
    note: str
    lines: tuple[RefundLine, ...]
    shipping: Decimal = ZERO
    deduction: Decimal = ZERO
    refund_ids: tuple[str, ...] = ()

    @property
    def items_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.items_total + self.shipping - self.deduction

    def money(self, amount: Decimal) -> str:
        return money.format_money(amount, self.currency)

    def graph_params(self) -> dict[str, Any]:
        """The parameters of ``POST /{order-id}/refunds`` other than the key: always naming the items (Meta
        refunds the whole order when ``items`` is left out)."""
        items: list[dict[str, Any]] = []
        for line in self.lines:
            if line.quantity is not None:
                items.append({"item_id": line.item_id, "item_refund_quantity": line.quantity})
            else:
                items.append({"item_id": line.item_id, "item_refund_amount": self._graph_money(line.amount)})
        params: dict[str, Any] = {"reason_code": self.reason, "items": items}
        if self.note:
            params["reason_text"] = self.note
        if self.shipping > 0:
            params["shipping"] = {"shipping_refund": self._graph_money(self.shipping)}
        if self.deduction > 0:
            params["deductions"] = [
                {"deduction_type": RETURN_SHIPPING, "deduction_amount": self._graph_money(self.deduction)}
            ]
        return params

    def _graph_money(self, amount: Decimal) -> dict[str, str]:
        return money.Money(amount, self.currency).to_graph()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able copy (amounts as strings), read back by :func:`preview_from_json`."""
        return {
            "order_id": self.order_id,
            "currency": self.currency,
            "reason": self.reason,
            "note": self.note,
            "lines": [
                {
                    "item_id": line.item_id,
                    "retailer_id": line.retailer_id,
                    "name": line.name,
                    "quantity": line.quantity,
                    "amount": str(line.amount),
                }
                for line in self.lines
            ],
            "shipping": str(self.shipping),
            "deduction": str(self.deduction),
            "refund_ids": list(self.refund_ids),
        }

    def ask(self) -> RefundAsk:
        """The ask this preview answers, to check it again against a fresher read of the order."""
        items = {
            line.item_id: ItemAsk(quantity=str(line.quantity))
            if line.quantity is not None
            else ItemAsk(amount=money.plain_amount(line.amount, self.currency))
            for line in self.lines
        }
        return RefundAsk(
            reason=self.reason,
            note=self.note,
            items=items,
            shipping=money.plain_amount(self.shipping, self.currency) if self.shipping else "",
            deduction=money.plain_amount(self.deduction, self.currency) if self.deduction else "",
        )


def preview_from_json(data: Mapping[str, Any]) -> RefundPreview:
    return RefundPreview(
        order_id=str(data["order_id"]),
        currency=str(data["currency"]),
        reason=str(data["reason"]),
        note=str(data["note"]),
        lines=tuple(
            RefundLine(
                item_id=str(line["item_id"]),
                retailer_id=line.get("retailer_id"),
                name=line.get("name"),
                quantity=line.get("quantity"),
                amount=Decimal(str(line["amount"])),
            )
            for line in data["lines"]
        ),
        shipping=Decimal(str(data["shipping"])),
        deduction=Decimal(str(data["deduction"])),
        refund_ids=tuple(str(refund_id) for refund_id in data.get("refund_ids", ())),
    )


@dataclass(frozen=True)
class RefundProblems:
    """Why a refund cannot be sent, in words, by field (:data:`FIELD_REASON`, :func:`quantity_field`, ...)."""

    fields: dict[str, str]


def check_refund(left: Remaining, ask: RefundAsk) -> RefundPreview | RefundProblems:
    """The preview of ``ask`` if it fits what is left of the order, else what is wrong with each field.

    Refused: an unknown reason, a note longer than :data:`NOTE_MAX`, a quantity and an amount on one item, a
    quantity or amount beyond what the item has left, shipping beyond what is left of it, amounts with more digits
    than the currency has, no item at all, and a deduction that leaves nothing to refund.
    """
    problems: dict[str, str] = {}
    currency = left.currency
    if ask.reason not in REFUND_REASONS:
        problems[FIELD_REASON] = "Choose the reason for the refund."
    note = ask.note.strip()
    if len(note) > NOTE_MAX:
        problems[FIELD_NOTE] = f"At most {NOTE_MAX} characters (this is {len(note)}); the buyer reads it."
    if not left.complete:
        problems[FIELD_ITEMS] = (
            "This order has more shipments, refunds or items than orderdesk reads at once, so it cannot check "
            "what is left: refund it in Commerce Manager."
        )
    lines: list[RefundLine] = []
    for item_id, wanted in ask.items.items():
        item = left.item(item_id)
        if item is None:
            problems[FIELD_ITEMS] = f"Item {item_id} is not on this order any more. Open the order again."
            continue
        line = _check_item(left, item, wanted, problems)
        if line is not None:
            lines.append(line)
    shipping = _typed(ask.shipping, currency, FIELD_SHIPPING, problems)
    if shipping is not None and shipping > left.shipping_refundable:
        left_words = left.money(left.shipping_refundable)
        problems[FIELD_SHIPPING] = (
            f"At most {left_words} of shipping is left to refund."
            if left.shipping_refundable > 0
            else "No shipping charge is left to refund."
        )
    deduction = _typed(ask.deduction, currency, FIELD_DEDUCTION, problems)
    if problems:
        return RefundProblems(problems)
    if not lines:
        return RefundProblems({FIELD_ITEMS: "Choose at least one item to refund, by quantity or by amount."})
    preview = RefundPreview(
        order_id=left.order_id,
        currency=currency,
        reason=ask.reason,
        note=note,
        lines=tuple(lines),
        shipping=shipping or ZERO,
        deduction=deduction or ZERO,
        refund_ids=left.refund_ids,
    )
    if preview.total <= 0:
        before = preview.money(preview.items_total + preview.shipping)
        return RefundProblems({FIELD_DEDUCTION: f"The deduction must be less than the refund ({before})."})
    return preview


def _check_item(left: Remaining, item: ItemLeft, wanted: ItemAsk, problems: dict[str, str]) -> RefundLine | None:
    quantity_text, amount_text = wanted.quantity.strip(), wanted.amount.strip()
    if _blank(quantity_text) and _blank(amount_text):
        return None
    if not _blank(quantity_text) and not _blank(amount_text):
        problems[amount_field(item.item_id)] = "Give a quantity or an amount for this item, not both."
        return None
    if item.unit_price is None:
        field_name = quantity_field(item.item_id) if quantity_text else amount_field(item.item_id)
        problems[field_name] = "Meta gave no price for this item: refund it in Commerce Manager."
        return None
    if not _blank(quantity_text):
        return _by_quantity(item, quantity_text, problems)
    amount = _typed(amount_text, left.currency, amount_field(item.item_id), problems)
    if amount is None:
        return None
    if amount > item.refundable_amount:
        problems[amount_field(item.item_id)] = _nothing_left(item) or (
            f"At most {left.money(item.refundable_amount)} is left to refund on this item, before tax."
        )
        return None
    return RefundLine(item.item_id, item.retailer_id, item.name, None, amount)


def _by_quantity(item: ItemLeft, text: str, problems: dict[str, str]) -> RefundLine | None:
    name = quantity_field(item.item_id)
    if not text.isdigit() or not text.isascii():
        problems[name] = "Enter a whole number of units."
        return None
    quantity = int(text)
    if quantity > item.refundable_units:
        problems[name] = _nothing_left(item) or _units_left(item)
        return None
    assert item.unit_price is not None
    return RefundLine(item.item_id, item.retailer_id, item.name, quantity, quantity * item.unit_price)


def _nothing_left(item: ItemLeft) -> str | None:
    if item.shipped == 0:
        return "Nothing of this item has shipped yet, so nothing can be refunded: cancel unshipped units instead."
    if item.refundable_amount <= 0:
        return "This item is refunded in full already."
    return None


def _units_left(item: ItemLeft) -> str:
    units = item.refundable_units
    done = f"{item.shipped} shipped, {item.refunded_units} refunded"
    if item.refunded_amount > (item.unit_price or ZERO) * item.refunded_units:
        done += " and part of the value refunded by amount"
    if units == 0:
        return f"No whole unit is left to refund ({done}): refund an amount instead."
    return f"At most {units} {'unit' if units == 1 else 'units'} can be refunded ({done})."


def _typed(text: str, currency: str, name: str, problems: dict[str, str]) -> Decimal | None:
    """A typed amount (None when blank or zero), or None with the problem recorded under ``name``."""
    if _blank(text.strip()):
        return None
    parsed = money.parse_typed(text, currency)
    if isinstance(parsed, str):
        problems[name] = parsed
        return None
    return parsed if parsed > 0 else None


def _blank(text: str) -> bool:
    """Empty, or a zero however it is written (``0``, ``0.00``): the same as leaving the field out."""
    if not text:
        return True
    stripped = text.replace(",", "")
    try:
        return Decimal(stripped) == 0 if stripped.replace(".", "", 1).isdigit() else False
    except ArithmeticError:
        return False


# Reading Graph's shapes.


def _has_next(connection: object) -> bool:
    return isinstance(connection, Mapping) and bool(_mapping(connection.get("paging")).get("next"))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


def _count(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _amount(value: object) -> Decimal:
    """A ``currency_amount``'s size (Meta writes some refund parts with a minus sign); zero when missing."""
    parsed = money.from_graph(value)
    return abs(parsed.amount) if parsed is not None else ZERO


def _currency(order: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> str:
    """The order's currency: its total's, else its first priced item's."""
    total = _mapping(_mapping(order.get("estimated_payment_details")).get("total_amount"))
    for candidate in [total.get("currency")] + [_mapping(i.get("price_per_unit")).get("currency") for i in items]:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip().upper()
    return ""
