"""Where an order is announced, and what of it a card follows: pure functions of the order and the settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.config import Route, Settings


def snapshot(order: Mapping[str, Any]) -> str:
    """The parts of an order whose change a card must follow, as canonical JSON (``state_summary``).

    Shaped like an order, so the order's next version can be compared with it to say what changed.
    """
    kept = {name: order.get(name) for name in ("order_status", "merchant_order_id")}
    for edge in ("shipments", "cancellations", "refunds"):
        value = order.get(edge)
        kept[edge] = value.get("data") if isinstance(value, Mapping) else value
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def _total(order: Mapping[str, Any]) -> Decimal | None:
    amount = (order.get("estimated_payment_details") or {}).get("total_amount") or {}
    try:
        return Decimal(str(amount.get("amount")))
    except (InvalidOperation, AttributeError):
        return None


def _matches(route: Route, order: Mapping[str, Any]) -> bool:
    if route.sales_channel is not None and str(order.get("channel") or "").lower() != route.sales_channel:
        return False
    if route.min_total is not None:
        total = _total(order)
        return total is not None and total >= Decimal(str(route.min_total))
    return True


def channel_for(settings: Settings, order: Mapping[str, Any]) -> str | None:
    """The first route the order matches (``ORDERDESK_ROUTES``, in the order written), else the notify channel."""
    return next((route.channel for route in settings.routes if _matches(route, order)), settings.notify_channel)


def last_updated(order: Mapping[str, Any]) -> float | None:
    """The order's ``last_updated`` in unix seconds; None when Meta's value cannot be read."""
    try:
        return datetime.fromisoformat(str(order.get("last_updated"))).timestamp()
    except ValueError:
        return None
