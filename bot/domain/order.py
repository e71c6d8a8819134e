"""What orderdesk keeps of a Meta order, whichever backend stores it.

The order cache keeps what PII-free cards show (items, totals, city and country, dates); cards that show the buyer
fetch the order live. Merchant references are compared without regard to case, because merchants type them by hand
and Meta keeps what they typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Allow-lists, not deny-lists: a field Meta adds later stays out until someone decides it is safe. No names: a
# card that shows the buyer fetches the order live.
_BUYER_FIELDS = frozenset({"email_remarketing_option"})
_ADDRESS_FIELDS = frozenset({"city", "state", "country"})


def strip_pii(order: Mapping[str, Any]) -> dict[str, Any]:
    """The order without what a cached card does not need: the buyer's and the recipient's names, email and phone,
    street and postal code."""
    kept = dict(order)
    for name, allowed in (("buyer_details", _BUYER_FIELDS), ("shipping_address", _ADDRESS_FIELDS)):
        value = kept.get(name)
        if isinstance(value, Mapping):
            kept[name] = {k: v for k, v in value.items() if k in allowed}
    return kept


def reference_key(reference: str) -> str:
    """The form in which two merchant references are the same reference: ``SO-1`` and ``so-1`` are one."""
    return reference.casefold()


def order_state(order: Mapping[str, Any]) -> str | None:
    """Meta's state of a Graph order (``order_status.state``: ``CREATED``, ``IN_PROGRESS``, …), or None when the read
    did not include it or it is not text."""
    status = order.get("order_status")
    state = status.get("state") if isinstance(status, Mapping) else None
    return state if isinstance(state, str) else None


def edge_records(connection: object) -> list[Mapping[str, Any]]:
    """The records of a Graph edge as an order read carries it (``{"data": [...], "paging": …}``, or the bare
    list a cached order keeps); empty when the read did not include the edge."""
    if isinstance(connection, Mapping):
        connection = connection.get("data")
    if not isinstance(connection, Sequence) or isinstance(connection, str):
        return []
    return [record for record in connection if isinstance(record, Mapping)]
