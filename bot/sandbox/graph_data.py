"""Seeded order data for the Graph sandbox: realistic orders built from one ``random.Random``.

Everything random comes from the generator the caller passes in, so the same seed gives the same orders, ids,
buyers and items, run after run; tests and the demo can name orders that exist. Histories (acknowledgements,
shipments, cancellations, refunds) are *not* made up here: the sandbox replays them through its own write
operations (see ``graph_orders``), so seeded orders obey exactly the rules the API enforces.

Money is kept as integers of the currency's minor unit (ISO 4217: USD cents, JPY has no minor unit, KWD has
three decimals) and written as Graph's ``currency_amount``, a decimal *string* with exactly that many decimals:
``{"amount": "34.50", "currency": "USD"}``, ``{"amount": "5175", "currency": "JPY"}``, ``{"amount": "10.695",
"currency": "KWD"}``. An order is in one currency (``add_order(currency="JPY")``; default USD): catalogue prices,
written in US cents, are converted at a fixed rough rate, so a seed always gives the same prices.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
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

# ISO 4217 currencies whose minor unit is not the cent: none (JPY, KRW, ...) or three decimals (KWD, BHD, ...).
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
# Rough units of a currency per US dollar: only so that seeded prices look plausible in that currency.
_PER_USD = {"EUR": "0.92", "GBP": "0.79", "JPY": "150", "KRW": "1350", "KWD": "0.31", "BHD": "0.38", "CAD": "1.36"}

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


def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 unless the table says otherwise."""
    return _EXPONENTS.get(currency, 2)


def money(minor_units: int, currency: str = CURRENCY) -> dict[str, str]:
    """A ``currency_amount`` from minor units: the amount a decimal *string* with the currency's own decimals."""
    places = exponent(currency)
    sign = "-" if minor_units < 0 else ""
    whole, part = divmod(abs(minor_units), 10**places)
    return {"amount": f"{sign}{whole}" + (f".{part:0{places}d}" if places else ""), "currency": currency}


def minor(amount: Mapping[str, Any]) -> int:
    """Minor units of a ``currency_amount`` the sandbox wrote itself (see :func:`parse_amount` for requests)."""
    return int(Decimal(str(amount["amount"])) * 10 ** exponent(str(amount.get("currency") or CURRENCY)))


def parse_amount(value: Any, currency: str) -> int | str:
    """Minor units of a requested ``currency_amount`` in ``currency``, or why it is not one (words)."""
    if not isinstance(value, Mapping) or "amount" not in value:
        return "must be a currency amount {amount, currency}"
    if str(value.get("currency") or "") != currency:
        return f"must be in the order's currency {currency}, got {value.get('currency')!r}"
    raw = value["amount"]
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return f"amount must be a decimal string, got {raw!r}"
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return f"amount must be a decimal string, got {raw!r}"
    scaled = number * 10 ** exponent(currency)
    if not number.is_finite() or scaled != scaled.to_integral_value():
        return f"amount {raw!r} has more decimals than {currency} allows ({exponent(currency)})"
    return int(scaled)


def convert(usd_cents: int, currency: str) -> int:
    """A catalogue price (US cents) in minor units of ``currency``, at a fixed rough rate."""
    rate = Decimal(_PER_USD.get(currency, "1"))
    return int((Decimal(usd_cents) / 100 * rate * 10 ** exponent(currency)).to_integral_value())


@cache
def carrier_codes() -> frozenset[str]:
    """Meta's carrier codes (uppercase, ``OTHER`` among them) from the snapshot the bot ships in ``bot/data``."""
    text = files("bot").joinpath("data/meta-carrier-codes.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t")[0].strip() for line in text.splitlines() if line and not line.startswith("#")]
    return frozenset(rows[1:])  # the first row is the header


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


def new_item(
    rng: random.Random, mint: IdMint, overrides: Mapping[str, Any] | None = None, currency: str = CURRENCY
) -> dict[str, Any]:
    """One order line; ``overrides`` (e.g. a product name full of special characters) win over the catalogue."""
    name, retailer_id, price = rng.choice(_CATALOG)
    item: dict[str, Any] = {
        "id": mint(),
        "retailer_id": retailer_id,
        "product_id": str(rng.randrange(10**15, 10**16)),
        "quantity": rng.choice((1, 1, 1, 2, 3)),
        "price_per_unit": money(convert(price, currency), currency),
        "product_name": name,
    }
    item.update(overrides or {})
    price = item["price_per_unit"]
    item["price_per_unit"] = {**price, "currency": price.get("currency") or currency}
    if item["price_per_unit"]["currency"] != currency:
        raise ValueError(f"item prices must be in the order's currency {currency}: {item['price_per_unit']}")
    line = minor(item["price_per_unit"]) * int(item["quantity"])
    item["tax_details"] = {
        "estimated_tax": money(int(line * _TAX_RATE), currency),
        "captured_tax": {"total_tax": money(0, currency)},
    }
    return item


def new_order(
    rng: random.Random, mint: IdMint, *, created: int, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A CREATED order with buyer, address, items and payment details; ``overrides`` replace or merge fields.

    Dict-valued overrides (``buyer_details``, ``shipping_address``, ...) are merged into the generated value, so a
    test can set just a buyer name. ``items`` may be a count or a list of partial items; ``currency`` (ISO 4217,
    default USD) is the currency of every amount of the order.
    """
    overrides = dict(overrides or {})
    currency = str(overrides.pop("currency", None) or CURRENCY)
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValueError(f"currency must be an ISO 4217 code such as USD or JPY, got {currency!r}")
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
        items = [new_item(rng, mint, currency=currency) for _ in range(items_spec)]
    else:
        items = [new_item(rng, mint, spec, currency) for spec in items_spec]
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
            "price": money(convert(ship_cents, currency), currency),
            "calculated_tax": money(int(convert(ship_cents, currency) * _TAX_RATE), currency),
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
    order["estimated_payment_details"] = _payment(order, overrides.get("estimated_payment_details"), currency)
    return order


def _payment(order: Mapping[str, Any], override: Mapping[str, Any] | None, currency: str) -> dict[str, Any]:
    items_total = sum(minor(i["price_per_unit"]) * int(i["quantity"]) for i in order["items"])
    shipping = minor(order["selected_shipping_option"]["price"])
    tax = sum(minor(i["tax_details"]["estimated_tax"]) for i in order["items"])
    tax += minor(order["selected_shipping_option"]["calculated_tax"])
    payment = {
        "subtotal": {"items": money(items_total, currency), "shipping": money(shipping, currency)},
        "tax": money(tax, currency),
        "total_amount": money(items_total + shipping + tax, currency),
        "tax_remitted": True,
    }
    return {**payment, **(override or {})}


def reference(number: int) -> str:
    """A merchant order reference in the style of a shop's OMS (``SHOP-1042``)."""
    return f"SHOP-{number}"
