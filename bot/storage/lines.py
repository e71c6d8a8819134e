"""Keeping the lines of an order's shipments, cancellations and refunds when a later read asks for the records
without them.

The poller reads ``shipments{id,tracking_info}`` and ``cancellations{id,cancel_reason}``, without ``items``, and a
merge patch of the cached order replaces arrays whole: the lines a lookup had cached would be lost, and what they
are worth with them. A record's lines never change once Meta has it (a shipment, a cancellation or a refund is
not edited; a new one is a new record), so a record read without ``items`` keeps those cached for the same id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LINE_CONNECTIONS = ("shipments", "cancellations", "refunds")


def _records(connection: object) -> list[Any] | None:
    if isinstance(connection, Mapping):
        connection = connection.get("data")
    return connection if isinstance(connection, list) else None


def lacks_lines(order: Mapping[str, Any]) -> bool:
    """Whether a record of the order's shipments, cancellations or refunds was read without its ``items``."""
    for name in LINE_CONNECTIONS:
        for record in _records(order.get(name)) or []:
            if isinstance(record, Mapping) and "items" not in record:
                return True
    return False


def keep_lines(order: Mapping[str, Any], cached: Mapping[str, Any]) -> Mapping[str, Any]:
    """``order`` with each record read without ``items`` given those of the cached record with the same id."""
    merged: dict[str, Any] = dict(order)
    for name in LINE_CONNECTIONS:
        records, known = _records(order.get(name)), _records(cached.get(name))
        if records is None or not known:
            continue
        lines = {
            str(record.get("id")): record["items"]
            for record in known
            if isinstance(record, Mapping) and "items" in record and record.get("id") is not None
        }
        filled = [
            {**record, "items": lines[str(record.get("id"))]}
            if isinstance(record, Mapping) and "items" not in record and str(record.get("id")) in lines
            else record
            for record in records
        ]
        connection = order.get(name)
        merged[name] = {**connection, "data": filled} if isinstance(connection, Mapping) else filled
    return merged
