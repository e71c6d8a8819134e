"""``/order export``: a CSV of the orders orderdesk has seen in a window, and of who acknowledged them through it.

The rows come from orderdesk's own order index (what the poller, lookups and acknowledgements saw), not from Meta:
an export never costs Graph requests, and it covers only what orderdesk has seen. Rows are read from storage one
at a time and written to the file as they come, so memory stays flat however many orders the window holds.

No buyer name, email, phone or address reaches the file: every column is chosen here from fields that carry none
(the cached order has had them removed already; the columns are a whitelist besides).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TextIO

from bot.actions.entries import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS
from bot.domain import money
from bot.storage.ports import Audit, OrderIndex
from bot.storage.rows import IndexedOrder

EXPORT_ACTION = "export_orders"
DAY_SECONDS = 86_400
PROGRESS_EVERY = 1_000  # rows
COLUMNS = (
    "order_id",
    "merchant_reference",
    "channel",
    "state",
    "created",
    "updated",
    "total",
    "currency",
    "item_count",
    "ship_by",
    "shipped_amount",
    "cancelled_amount",
    "refunded_amount",
    "acknowledged_by",
    "acknowledged_at",
)
_ACKNOWLEDGEMENTS = frozenset({ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS})


class ExportStore(OrderIndex, Audit, Protocol):
    """What an export reads (the order index and the audit trail) and writes (its own audit row)."""


@dataclass(frozen=True)
class ExportRequest:
    """The window (the last ``since_seconds``, by last update) and the Meta states kept (empty: every state)."""

    since_seconds: int
    states: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Exported:
    rows: int


def write_export(
    out: TextIO,
    store: ExportStore,
    request: ExportRequest,
    *,
    now: float,
    state_words: Callable[[str], str],
    names: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Exported:
    """Write the header and one row per order of the window to ``out``; ``state_words`` names a Meta state and
    ``names`` a Slack user by id (the edge resolves them; without it, the ids are written). ``progress`` hears the
    count every :data:`PROGRESS_EVERY` rows, so a long export can say how far it got."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for order in store.orders_updated_since(now - request.since_seconds):
        if request.states and (order.state or "") not in request.states:
            continue
        writer.writerow(export_row(order, store, state_words, names))
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    return Exported(rows=count)


def record_export(
    store: ExportStore,
    request: ExportRequest,
    exported: Exported,
    *,
    user_id: str,
    team_id: str | None,
    failure: str | None = None,
) -> None:
    """The export's audit row: who, the window and the state filter, how many rows (never what the rows hold), and
    for an export that never reached the asker, outcome ``failed`` with ``failure``: a short code such as Slack's
    error name (``missing_scope``, ``upload_failed``), never text a person wrote."""
    states = ",".join(sorted(request.states)) or "all"
    detail = f"since={window_words(request.since_seconds)} states={states} rows={exported.rows}"
    store.add_audit(
        action=EXPORT_ACTION,
        order_id=None,
        user_id=user_id,
        team_id=team_id,
        outcome="succeeded" if failure is None else "failed",
        detail=detail if failure is None else f"{detail} error={failure}",
    )


def window_words(seconds: int) -> str:
    """``7d``, ``36h``, ``90m`` or ``45s``: the window as it was asked for, in its largest whole unit."""
    for unit, size in (("d", DAY_SECONDS), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def export_row(
    order: IndexedOrder,
    store: Audit,
    state_words: Callable[[str], str],
    names: Callable[[str], str] | None = None,
) -> list[str]:
    data = order.data
    payment = _mapping(data.get("estimated_payment_details"))
    total = _mapping(payment.get("total_amount"))
    items = _items(data)
    prices = {str(item.get("id")): _amount(_mapping(item.get("price_per_unit")).get("amount")) for item in items}
    currency = _currency(total, items)
    acknowledged = _acknowledgement(store, order.id)
    return [
        order.id,
        _cell(order.merchant_ref),
        _cell(order.channel),
        state_words(order.state) if order.state else "",
        order.created or "",
        order.last_updated or "",
        _plain(total.get("amount"), currency),
        _text(total.get("currency")),
        str(sum(_int(item.get("quantity")) for item in items)) if items else "",
        _text(data.get("ship_by_date")),
        _lines_amount(data.get("shipments"), prices, currency),
        _lines_amount(data.get("cancellations"), prices, currency),
        _refunded(data.get("refunds"), currency),
        _cell(names(acknowledged[0])) if names is not None and acknowledged[0] else acknowledged[0],
        acknowledged[1],
    ]


def _acknowledgement(store: Audit, order_id: str) -> tuple[str, str]:
    """Who acknowledged the order through orderdesk and when (UTC, ISO 8601), from its audit trail."""
    for row in store.audit_for_order(order_id):
        if row.action in _ACKNOWLEDGEMENTS and row.outcome == "succeeded":
            return row.user_id, datetime.fromtimestamp(row.at, UTC).isoformat(timespec="seconds")
    return "", ""


def _lines_amount(connection: object, prices: Mapping[str, Decimal | None], currency: str) -> str:
    """The value of a shipments or cancellations connection (its lines × unit prices); empty when it cannot be
    known from what is cached: the connection, a record's lines (a read that asked for the records without their
    items) or a line's unit price missing."""
    records = _records(connection)
    if records is None:
        return ""
    total = Decimal(0)
    for record in records:
        lines = _records(record.get("items"))
        if lines is None:
            return ""
        for line in lines:
            price = prices.get(str(line.get("id")))
            if price is None:
                return ""
            total += price * _int(line.get("quantity"))
    return money.plain_amount(total, currency)


def _refunded(connection: object, currency: str) -> str:
    records = _records(connection)
    if records is None:
        return ""
    total = Decimal(0)
    for record in records:
        amount = _amount(_mapping(record.get("refund_amount")).get("amount"))
        if amount is None:
            return ""
        total += amount
    return money.plain_amount(total, currency)


def _currency(total: Mapping[str, Any], items: list[Mapping[str, Any]]) -> str:
    """The order's currency (its total's, else its first item's): it says how many decimals the amounts get."""
    for value in [total.get("currency")] + [_mapping(item.get("price_per_unit")).get("currency") for item in items]:
        if isinstance(value, str) and value:
            return value.upper()
    return ""


def _plain(value: object, currency: str) -> str:
    """An amount in the currency's digits (``1500`` yen, ``12.50`` dollars); text Meta sent that is not a number
    stays as it was."""
    amount = money.parse_amount(value)
    return money.plain_amount(amount, currency) if amount is not None else _text(value)


def _records(connection: object) -> list[Mapping[str, Any]] | None:
    """A Graph connection's records (``{"data": [...]}`` or a bare list), or None when the order lacks it."""
    if isinstance(connection, Mapping):
        connection = connection.get("data")
    if not isinstance(connection, list):
        return None
    return [record for record in connection if isinstance(record, Mapping)]


def _items(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _records(data.get("items")) or []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _amount(value: object) -> Decimal | None:
    return money.parse_amount(value)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cell(value: str | None) -> str:
    """Text from Meta as a spreadsheet shows it, never as a formula it would run (``=HYPERLINK(...)``)."""
    if not value:
        return ""
    return f"'{value}" if value[0] in "=+-@\t\r" else value


def _text(value: object) -> str:
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
