"""The on-call queue: orders awaiting acknowledgement or shipment, most urgent first, read from the order index.

Pure of Slack: ``/order pending``, App Home and the reminders draw what this answers. The order is by the deadline
clock's due time (an overdue one is due earliest), then by order id, so a page boundary is a stable key: the next
page starts strictly after the last line shown, whatever was added or acted on in between.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from bot.domain.deadlines import Clock, deadline
from bot.storage.ports import OrderIndex

WAITING_STATES = ("CREATED", "IN_PROGRESS")


@dataclass(frozen=True)
class Waiting:
    """An order on the queue, with its deadline clock (None when it has none to show)."""

    order: Mapping[str, Any]
    clock: Clock | None

    @property
    def order_id(self) -> str:
        return str(self.order.get("id") or "")

    @property
    def key(self) -> tuple[float, str]:
        """Where the order sorts: its due time (orders without a clock last), then its id."""
        return (self.clock.due if self.clock else math.inf, self.order_id)


def _shipped(order: Mapping[str, Any]) -> bool:
    shipments = order.get("shipments")
    if isinstance(shipments, Mapping):
        shipments = shipments.get("data")
    return isinstance(shipments, list) and len(shipments) > 0


def waiting_orders(index: OrderIndex, now: float, zone: tzinfo) -> list[Waiting]:
    """Every order awaiting acknowledgement (CREATED) or shipment (IN_PROGRESS, nothing shipped), most urgent
    first."""
    found = [
        Waiting(indexed.data, deadline(indexed.data, now, zone))
        for state in WAITING_STATES
        for indexed in index.orders_in_state(state)
        if not _shipped(indexed.data)
    ]
    return sorted(found, key=lambda waiting: waiting.key)


def cursor_text(key: tuple[float, str]) -> str:
    """A page boundary as a button value: ``<due>:<order id>`` (``-`` for no due time)."""
    due, order_id = key
    return f"{'-' if math.isinf(due) else repr(due)}:{order_id}"


def parse_cursor(value: str) -> tuple[float, str]:
    """The key :func:`cursor_text` wrote; ``ValueError`` for anything else."""
    due, sep, order_id = value.partition(":")
    if not sep or not order_id.isdigit() or len(value) > 200:
        raise ValueError("not a page cursor")
    number = math.inf if due == "-" else float(due)
    if math.isnan(number):
        raise ValueError("not a page cursor")
    return number, order_id


def page(waiting: list[Waiting], *, after: tuple[float, str] | None, size: int) -> tuple[list[Waiting], bool]:
    """The ``size`` orders after the boundary ``after`` (from the start when None), and whether more follow."""
    rest = [entry for entry in waiting if after is None or entry.key > after]
    return rest[:size], len(rest) > size
