"""What the storage tests share besides fixtures: a settable clock and a Graph-shaped order with buyer PII."""

from __future__ import annotations

from typing import Any

NAME = "Ada Lovelace-Byron"
EMAIL = "n8miblde3i@marketplace.facebook.com"
PHONE = "+1 555 0100 123"
STREET = "1 Infinite Loop"
POSTCODE = "95014"


class Clock:
    """A settable clock: time only moves when a test says so."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def full_order(order_id: str = "7001", **overrides: Any) -> dict[str, Any]:
    """A Graph order as the poller reads it, buyer email, phone, street and postal code included."""
    order: dict[str, Any] = {
        "id": order_id,
        "order_status": {"state": "CREATED"},
        "created": "2026-03-01T10:15:00+00:00",
        "last_updated": "2026-03-01T10:20:00+00:00",
        "channel": "instagram",
        "merchant_order_id": None,
        "buyer_details": {"name": NAME, "email": EMAIL, "email_remarketing_option": False, "phone_number": PHONE},
        "shipping_address": {
            "name": NAME,
            "street1": STREET,
            "street2": "Apt 4",
            "city": "Cupertino",
            "state": "CA",
            "postal_code": POSTCODE,
            "country": "US",
        },
        "items": {"data": [{"id": "1", "retailer_id": "SKU-1", "quantity": 2}]},
    }
    return {**order, **overrides}


# The key the contract suite's stores hash buyer search values with.
SEARCH_KEY = "contract-suite-search-key-0123456789"
