"""Reading a Graph order tolerantly: every field may be missing or oddly typed, and nothing here raises.

Meta returns only ``id``, ``order_status``, ``created`` and ``last_updated`` unless asked, and shares no buyer
details while an order is in ``FB_PROCESSING``, so every builder reads orders through these accessors. Text they
return is escaped and clipped (:func:`text`): it is ready for mrkdwn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.slack.views.kit import MAX_URL, clip, escape

# What a button may carry as an order id: Meta's ids are digits.
ORDER_ID = re.compile(r"[0-9]{1,64}")


def get(data: object, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None as soon as a step is missing or not an object."""
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def edge(order: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The entries of an edge (``{"data": [...]}`` as Graph sends it, or a bare list), objects only."""
    value = order.get(name)
    if isinstance(value, Mapping):
        value = value.get("data")
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def text(value: object, limit: int = 200) -> str | None:
    """Escaped, clipped text of a scalar from Meta; None when missing or empty."""
    if value is None or value == "" or isinstance(value, Mapping | list):
        return None
    return clip(escape(value), limit)


def order_id(order: Mapping[str, Any]) -> str:
    """The order's id as text, empty when Meta sent none."""
    return str(order.get("id") or "")


def actionable_id(order: Mapping[str, Any]) -> str | None:
    """The order id if buttons can carry it (digits, as Meta's ids are); None for anything else."""
    found = order_id(order)
    return found if ORDER_ID.fullmatch(found) else None


def state(order: Mapping[str, Any]) -> str | None:
    """Meta's name for the order's state (``CREATED``...), None when missing."""
    state = get(order, "order_status", "state")
    return state if isinstance(state, str) else None


def items(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The order's line items, as far as Graph sent them."""
    return edge(order, "items")


def ship_to(order: Mapping[str, Any]) -> str | None:
    """City and country only: enough to plan shipping, not enough to find the buyer's door."""
    parts = [text(get(order, "shipping_address", name), 100) for name in ("city", "country")]
    return ", ".join(p for p in parts if p) or None


def ship_by(order: Mapping[str, Any]) -> str | None:
    """Meta's fulfilment deadline: a calendar date (``Y-m-d``), shown as is, not shifted into a time zone."""
    return text(order.get("ship_by_date"), 40)


def commerce_manager_link(commerce_manager_url: str, order_id: str) -> str | None:
    """The order's page in Commerce Manager, or None if the id would not make a usable URL."""
    url = f"{commerce_manager_url.rstrip('/')}/orders/{quote(order_id, safe='')}"
    return url if order_id and len(url) <= MAX_URL else None
