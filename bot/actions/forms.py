"""What the card actions' forms share: reading typed values, quantities per item, carriers, and refusals.

Every check here runs against the :class:`bot.actions.order_actions.Snapshot` the modal was filled from and nothing
else, so a form is answered within Slack's 3 seconds without a call to Meta. Errors are keyed by field name; the
modal puts each under its own input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.actions.order_actions import Snapshot
from bot.domain.carriers import OTHER, carrier, carrier_name

QUANTITY_PREFIX = "qty_"  # field name of an item's quantity: qty_<item id>
TRACKING_MAX = 100
TEXT_MAX = 500
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_]{1,100}")

# Why Meta refuses a write, by the state the order turned out to be in (read after the refusal).
_REFUSED_IN_STATE = {
    "FB_PROCESSING": "The order is still in Meta's processing hold.",
    "CREATED": "The order has not been acknowledged yet.",
    "COMPLETED": "Every item of the order is already shipped or cancelled.",
}


def text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def quantity_field(item_id: str) -> str:
    return f"{QUANTITY_PREFIX}{item_id}"


def quantities(snap: Snapshot, values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, int]:
    """Units chosen per item (0..open), with an inline error for each quantity that is not one."""
    chosen: dict[str, int] = {}
    for line in snap.lines:
        if line.open <= 0:
            continue
        name = quantity_field(line.item_id)
        raw = text(values, name)
        if raw == "":
            chosen[line.item_id] = 0
            continue
        if not raw.isdigit():
            errors[name] = "Enter a whole number of units."
            continue
        count = int(raw)
        if count > line.open:
            errors[name] = f"At most {line.open}: that is how many are left."
            continue
        chosen[line.item_id] = count
    return chosen


def carrier_code(values: Mapping[str, Any], errors: dict[str, str], name: str = "carrier") -> str | None:
    """Meta's carrier code in uppercase (what writes send), from the picker; ``OTHER`` for any carrier."""
    raw = text(values, name)
    if not raw:
        errors[name] = "Choose a carrier (Other if it is not listed)."
        return None
    known = carrier(raw)
    if known is None and raw.upper() != OTHER:
        errors[name] = "Choose a carrier from the list (Other if it is not listed)."
        return None
    return known.code.upper() if known else OTHER


def tracking_number(
    snap: Snapshot, values: Mapping[str, Any], errors: dict[str, str], name: str = "tracking_number"
) -> str | None:
    """A tracking number not yet on the order (Meta takes one number per shipment, each once per order)."""
    raw = text(values, name)
    if not raw:
        errors[name] = "Enter the tracking number."
        return None
    if len(raw) > TRACKING_MAX or any(ch.isspace() for ch in raw):
        errors[name] = f"One tracking number, without spaces, at most {TRACKING_MAX} characters."
        return None
    if raw.casefold() in {t.casefold() for t in snap.tracking_numbers}:
        errors[name] = "That tracking number is already on this order; each shipment needs its own number."
        return None
    return raw


def units_words(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def carrier_words(code: str) -> str:
    return "another carrier" if code.upper() == OTHER else carrier_name(code)


def refused_in_state(order: Mapping[str, Any]) -> str | None:
    status = order.get("order_status")
    state = status.get("state") if isinstance(status, Mapping) else None
    return _REFUSED_IN_STATE.get(str(state))
