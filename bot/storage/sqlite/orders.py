"""The orders index (what orderdesk last saw of each order, without buyer PII) and the lookup scan's memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from bot.domain.order import reference_key, strip_pii
from bot.storage.lines import keep_lines, lacks_lines
from bot.storage.rows import IndexedOrder, Row
from bot.storage.sqlite.buyers import SqliteBuyers


def _unix_time(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _order_values(order: Mapping[str, Any], seen_at: float) -> tuple[Any, ...]:
    reference = order.get("merchant_order_id") or None
    status = order.get("order_status")
    return (
        str(order["id"]),
        reference,
        reference_key(reference) if reference else None,
        status.get("state") if isinstance(status, Mapping) else None,
        order.get("channel"),
        order.get("created"),
        order.get("last_updated"),
        _unix_time(order.get("last_updated")),
        json.dumps(strip_pii(order), separators=(",", ":")),
        seen_at,
    )


# A partial read (the lookup scan asks only for id and merchant_order_id) fills gaps and never erases what a
# fuller read stored; a read older than the stored one (a slow poll racing a lookup) changes nothing.
_UPSERT_ORDER = """
INSERT INTO orders (id, merchant_ref, reference_key, state, channel, created, last_updated, updated_ts, data,
                    seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    merchant_ref = COALESCE(excluded.merchant_ref, orders.merchant_ref),
    reference_key = COALESCE(excluded.reference_key, orders.reference_key),
    state = COALESCE(excluded.state, orders.state),
    channel = COALESCE(excluded.channel, orders.channel),
    created = COALESCE(excluded.created, orders.created),
    last_updated = COALESCE(excluded.last_updated, orders.last_updated),
    updated_ts = COALESCE(excluded.updated_ts, orders.updated_ts),
    data = json_patch(orders.data, excluded.data),
    seen_at = excluded.seen_at
WHERE excluded.updated_ts IS NULL OR orders.updated_ts IS NULL OR excluded.updated_ts >= orders.updated_ts
"""


def _indexed_order(row: Row) -> IndexedOrder:
    return IndexedOrder(**{**row, "data": json.loads(row["data"])})


class SqliteOrders(SqliteBuyers):
    """The ``orders`` and ``lookup_scans`` tables (the :class:`bot.storage.ports.OrderIndex` port)."""

    def upsert_order(self, order: Mapping[str, Any]) -> None:
        """Index a Graph order dict (any field selection that includes ``id``), without buyer PII; with a search
        key, its buyer's hashes in the same transaction."""
        with self._statement():
            self._upsert(order, self._clock())

    def upsert_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """Index many orders in one transaction (a poll page, a scan); the iterable is consumed lazily."""
        seen_at = self._clock()
        with self.transaction():
            for order in orders:
                self._upsert(order, seen_at)

    def _upsert(self, order: Mapping[str, Any], seen_at: float) -> None:
        # A read older than the stored one changes nothing, its buyer's hashes included. Records read without their
        # lines keep the cached ones (bot.storage.lines), read in this write transaction.
        if lacks_lines(order):
            row = self._select_one("SELECT data FROM orders WHERE id = ?", (str(order["id"]),))
            if row is not None:
                order = keep_lines(order, json.loads(row["data"]))
        if self._db().execute(_UPSERT_ORDER, _order_values(order, seen_at)).rowcount:
            self._index_buyer(order)

    def get_order(self, order_id: str) -> IndexedOrder | None:
        row = self._select_one(
            "SELECT id, merchant_ref, state, channel, created, last_updated, data, seen_at FROM orders WHERE id = ?",
            (order_id,),
        )
        return _indexed_order(row) if row else None

    def orders_in_state(self, state: str) -> list[IndexedOrder]:
        """Indexed orders last seen in ``state``, oldest first (the order an on-call works through them)."""
        rows = self._select(
            """
            SELECT id, merchant_ref, state, channel, created, last_updated, data, seen_at FROM orders
            WHERE state = ? ORDER BY created, id
            """,
            (state,),
        )
        return [_indexed_order(row) for row in rows]

    def orders_updated_since(self, since: float) -> Iterator[IndexedOrder]:
        """Indexed orders updated at or after ``since``, oldest update first, fetched from the cursor as iterated."""
        cursor = self._db().execute(
            """
            SELECT id, merchant_ref, state, channel, created, last_updated, data, seen_at FROM orders
            WHERE updated_ts >= ? ORDER BY updated_ts, id
            """,
            (since,),
        )
        names = [column[0] for column in cursor.description]
        for row in cursor:
            yield _indexed_order(dict(zip(names, row, strict=True)))

    def find_by_reference(self, reference: str) -> list[str]:
        """Order ids using a merchant reference: exact matches if any, else case-insensitive ones."""
        exact = self._select("SELECT id FROM orders WHERE merchant_ref = ? ORDER BY id", (reference,))
        if not exact:
            exact = self._select(
                "SELECT id FROM orders WHERE reference_key = ? ORDER BY id", (reference_key(reference),)
            )
        return [row["id"] for row in exact]

    def reference_owner(self, reference: str, *, other_than: str | None = None) -> str | None:
        """An order (other than ``other_than``) already using this reference, compared case-insensitively."""
        row = self._select_one(
            "SELECT id FROM orders WHERE reference_key = ? AND id IS NOT ? ORDER BY id LIMIT 1",
            (reference_key(reference), other_than),
        )
        return row["id"] if row else None

    def set_reference(self, order_id: str, reference: str) -> None:
        """Record the reference an order was acknowledged with (indexing the order if it was not yet)."""
        self._write(
            """
            INSERT INTO orders (id, merchant_ref, reference_key, data, seen_at)
            VALUES (?1, ?2, ?3, json_object('id', ?1, 'merchant_order_id', ?2), ?4)
            ON CONFLICT (id) DO UPDATE SET
                merchant_ref = excluded.merchant_ref,
                reference_key = excluded.reference_key,
                data = json_set(orders.data, '$.merchant_order_id', excluded.merchant_ref)
            """,
            (order_id, reference, reference_key(reference), self._clock()),
        )

    def set_order_state(self, order_id: str, state: str) -> None:
        """Record a state change orderdesk caused itself (an acknowledgement), before Meta's next read shows it."""
        self._write(
            """
            INSERT INTO orders (id, state, data, seen_at)
            VALUES (?1, ?2, json_object('id', ?1, 'order_status', json_object('state', ?2)), ?3)
            ON CONFLICT (id) DO UPDATE SET
                state = excluded.state,
                data = json_set(orders.data, '$.order_status', json_object('state', excluded.state))
            """,
            (order_id, state, self._clock()),
        )

    def record_scan(self, reference: str, found: bool) -> None:
        """Remember that the fallback scan looked for this reference, so a repeated miss does not rescan."""
        self._write(
            """
            INSERT INTO lookup_scans (reference_key, found, scanned_at) VALUES (?, ?, ?)
            ON CONFLICT (reference_key) DO UPDATE SET found = excluded.found, scanned_at = excluded.scanned_at
            """,
            (reference_key(reference), int(found), self._clock()),
        )

    def scanned_recently(self, reference: str, within_seconds: float) -> bool:
        row = self._select_one(
            "SELECT 1 AS hit FROM lookup_scans WHERE reference_key = ? AND scanned_at >= ?",
            (reference_key(reference), self._clock() - within_seconds),
        )
        return row is not None
