"""Seeded order data for the Graph sandbox: realistic orders built from one ``random.Random``.

Everything random comes from the generator the caller passes in, so the same seed gives the same orders, ids,
buyers and items, run after run; tests and the demo can name orders that exist. Histories (acknowledgements,
shipments, cancellations, refunds) are *not* made up here: the sandbox replays them through its own write
operations (see ``graph_orders``), so seeded orders obey exactly the rules the API enforces.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

STATES = ("FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED")
CURRENCY = "USD"
DAY = 86_400

# (product name, retailer id, price in cents). Fixed, so a seed always shows the same catalogue.
_CATALOG = (
    ("Linen Throw Pillow", "PIL-LIN-01", 3450),
    ("Ceramic Pour-Over Set", "CER-POS-02", 4800),
    ("Merino Beanie, Charcoal", "MER-BEA-03", 2900),
    ("Walnut Cutting Board", "WAL-CUT-04", 6500),
    ("Beeswax Candle Trio", "BEE-CAN-05", 2250),
    ("Organic Cotton Tote", "ORG-TOT-06", 1800),
    ("Hand-thrown Mug", "HAN-MUG-07", 2600),
    ("Leather Card Wallet", "LEA-WAL-08", 3900),
    ("Indigo Tea Towel", "IND-TEA-09", 1400),
    ("Brass Desk Lamp", "BRA-LAM-10", 11900),
    ("Wool Blanket, Oat", "WOO-BLA-11", 14500),
    ("Stoneware Bowl Set", "STO-BOW-12", 5600),
)
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Frances", "Dennis", "Radia")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Allen", "Perlman")
_STREETS = ("Market St", "Elm Ave", "Harbor Rd", "Maple Dr", "Cedar Ln", "Sunset Blvd", "Pine St", "Lake Shore Dr")
_CITIES = (
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Chicago", "IL", "60611"),
    ("Brooklyn", "NY", "11201"),
    ("Denver", "CO", "80202"),
    ("Seattle", "WA", "98101"),
    ("Raleigh", "NC", "27601"),
)
_SHIPPING = (("Standard", 599, 5, 8), ("Expedited", 1299, 2, 3), ("Free shipping", 0, 6, 10))
_TAX_RATE = Decimal("0.08")

ORDER_FIELDS = frozenset(
    {
        "id",
        "order_status",
        "created",
        "last_updated",
        "channel",
        "ship_by_date",
        "merchant_order_id",
        "buyer_details",
        "shipping_address",
        "selected_shipping_option",
        "estimated_payment_details",
        "is_test_order",
        "items",
    }
)


def iso(ts: int) -> str:
    """Graph's datetime format for order timestamps, e.g. ``2026-03-01T10:15:00+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def money(cents: int) -> dict[str, str]:
    """A ``currency_amount``: Meta sends the amount as a decimal *string*."""
    sign = "-" if cents < 0 else ""
    return {"amount": f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}", "currency": CURRENCY}


def cents(amount: Mapping[str, Any]) -> int:
    return int(Decimal(str(amount["amount"])) * 100)


class IdMint:
    """Unique numeric id strings of 15 or 16 digits, like Meta's order, item and shipment ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def __call__(self) -> str:
        while True:
            new = str(self._rng.randrange(10**14, 10**16))
            if new not in self._used:
                self._used.add(new)
                return new

    def claim(self, existing: str) -> None:
        """Reserve an id chosen by a caller (``add_order(id=...)``), refusing one already in use."""
        if not (existing.isdigit() and 5 <= len(existing) <= 20):
            raise ValueError(f"order id must be a numeric string, got {existing!r}")
        if existing in self._used:
            raise ValueError(f"id {existing} is already in use")
        self._used.add(existing)


def new_item(rng: random.Random, mint: IdMint, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One order line; ``overrides`` (e.g. a product name full of special characters) win over the catalogue."""
    name, retailer_id, price = rng.choice(_CATALOG)
    item: dict[str, Any] = {
        "id": mint(),
        "retailer_id": retailer_id,
        "product_id": str(rng.randrange(10**15, 10**16)),
        "quantity": rng.choice((1, 1, 1, 2, 3)),
        "price_per_unit": money(price),
        "product_name": name,
    }
    item.update(overrides or {})
    line = cents(item["price_per_unit"]) * int(item["quantity"])
    item["tax_details"] = {"estimated_tax": money(int(line * _TAX_RATE)), "captured_tax": {"total_tax": money(0)}}
    return item


def new_order(
    rng: random.Random, mint: IdMint, *, created: int, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A CREATED order with buyer, address, items and payment details; ``overrides`` replace or merge fields.

    Dict-valued overrides (``buyer_details``, ``shipping_address``, ...) are merged into the generated value, so a
    test can set just a buyer name. ``items`` may be a count or a list of partial items.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - ORDER_FIELDS - {"order_status", "created", "last_updated"}
    if unknown:
        raise ValueError(f"unknown order fields: {sorted(unknown)}; known: {sorted(ORDER_FIELDS)}")
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, state, postal = rng.choice(_CITIES)
    ship_name, ship_cents, min_days, max_days = rng.choice(_SHIPPING)
    relay = "".join(rng.choices(string.ascii_lowercase + string.digits, k=10))
    order_id = overrides.pop("id", None)
    if order_id is None:
        order_id = mint()
    else:
        mint.claim(str(order_id))
    items_spec = overrides.pop("items", rng.choice((1, 1, 2, 2, 3, 4)))
    if isinstance(items_spec, int):
        items = [new_item(rng, mint) for _ in range(items_spec)]
    else:
        items = [new_item(rng, mint, spec) for spec in items_spec]
    if not items:
        raise ValueError("an order needs at least one item")
    order: dict[str, Any] = {
        "id": str(order_id),
        "order_status": {"state": "CREATED"},
        "created": iso(created),
        "last_updated": iso(created),
        "channel": rng.choice(("facebook", "instagram")),
        "ship_by_date": datetime.fromtimestamp(created + 3 * DAY, UTC).strftime("%Y-%m-%d"),
        "buyer_details": {
            "name": f"{first} {last}",
            "email": f"{relay}@marketplace.facebook.com",
            "phone_number": f"+1 555 01{rng.randrange(100):02d}",
            "email_remarketing_option": rng.random() < 0.3,
        },
        "shipping_address": {
            "name": f"{first} {last}",
            "street1": f"{rng.randrange(1, 2400)} {rng.choice(_STREETS)}",
            "street2": rng.choice(("", "", f"Apt {rng.randrange(1, 40)}")),
            "city": city,
            "state": state,
            "postal_code": postal,
            "country": "US",
        },
        "selected_shipping_option": {
            "name": ship_name,
            "reference_id": ship_name.lower().replace(" ", "_"),
            "price": money(ship_cents),
            "calculated_tax": money(int(ship_cents * _TAX_RATE)),
            "estimated_shipping_time": {"min_days": min_days, "max_days": max_days},
        },
        "is_test_order": False,
        "items": items,
    }
    for key, value in overrides.items():
        if key in ("order_status", "created", "last_updated"):
            continue  # set by the caller from the state machine and the clock
        if isinstance(value, Mapping) and isinstance(order.get(key), dict):
            order[key] = {**order[key], **value}
        else:
            order[key] = value
    order["estimated_payment_details"] = _payment(order, overrides.get("estimated_payment_details"))
    return order


def _payment(order: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    items_total = sum(cents(i["price_per_unit"]) * int(i["quantity"]) for i in order["items"])
    shipping = cents(order["selected_shipping_option"]["price"])
    tax = sum(cents(i["tax_details"]["estimated_tax"]) for i in order["items"])
    tax += cents(order["selected_shipping_option"]["calculated_tax"])
    payment = {
        "subtotal": {"items": money(items_total), "shipping": money(shipping)},
        "tax": money(tax),
        "total_amount": money(items_total + shipping + tax),
        "tax_remitted": True,
    }
    return {**payment, **(override or {})}


def reference(number: int) -> str:
    """A merchant order reference in the style of a shop's OMS (``SHOP-1042``)."""
    return f"SHOP-{number}"
