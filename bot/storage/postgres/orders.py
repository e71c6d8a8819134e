"""The orders index (what orderdesk last saw of each order, without buyer PII) and the lookup scan's memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from psycopg.types.json import Jsonb

from bot.domain.order import reference_key, strip_pii
from bot.storage.lines import keep_lines, lacks_lines
from bot.storage.postgres.buyers import PostgresBuyers
from bot.storage.rows import IndexedOrder, Row

_COLUMNS = "id, merchant_ref, state, channel, created, last_updated, data, seen_at"
_BATCH = 500  # orders per pipeline in upsert_orders: their cached lines are read in one statement first


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
        Jsonb(strip_pii(order)),
        seen_at,
    )


# As in the sqlite backend: a partial read fills gaps and erases nothing (a JSON merge patch of the cached order);
# a read older than the stored one changes nothing, its buyer's hashes included. The order's row and its buyer
# hashes are written by one statement (one round trip per order): when the upsert wrote the row and the read had
# buyer fields, the hashes not in this read go and the new ones come.
_UPSERT_ORDER = """
WITH upserted AS (
    INSERT INTO orders AS o (id, merchant_ref, reference_key, state, channel, created, last_updated, updated_ts,
                             data, seen_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET
        merchant_ref = COALESCE(excluded.merchant_ref, o.merchant_ref),
        reference_key = COALESCE(excluded.reference_key, o.reference_key),
        state = COALESCE(excluded.state, o.state),
        channel = COALESCE(excluded.channel, o.channel),
        created = COALESCE(excluded.created, o.created),
        last_updated = COALESCE(excluded.last_updated, o.last_updated),
        updated_ts = COALESCE(excluded.updated_ts, o.updated_ts),
        data = orderdesk_merge_patch(o.data, excluded.data),
        seen_at = excluded.seen_at
    WHERE excluded.updated_ts IS NULL OR o.updated_ts IS NULL OR excluded.updated_ts >= o.updated_ts
    RETURNING id
),
hashes (kind, hash) AS (SELECT * FROM unnest(%s::text[], %s::text[])),
gone AS (
    DELETE FROM buyer_hashes b USING upserted
    WHERE b.order_id = upserted.id AND EXISTS (SELECT 1 FROM hashes)
      AND (b.kind, b.hash) NOT IN (SELECT kind, hash FROM hashes)
)
INSERT INTO buyer_hashes (order_id, kind, hash)
SELECT upserted.id, hashes.kind, hashes.hash FROM upserted, hashes
ON CONFLICT DO NOTHING
"""


def _indexed_order(row: Row) -> IndexedOrder:
    return IndexedOrder(**row)


class PostgresOrders(PostgresBuyers):
    """The ``orders`` and ``lookup_scans`` tables (the :class:`bot.storage.ports.OrderIndex` port)."""

    def upsert_order(self, order: Mapping[str, Any]) -> None:
        if not lacks_lines(order):
            self._write(_UPSERT_ORDER, self._upsert_values(order, self._clock()))
            return
        with self.transaction():
            (filled,) = self._with_cached_lines([order])
            self._write(_UPSERT_ORDER, self._upsert_values(filled, self._clock()))

    def upsert_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """Many orders in one transaction, sent in a pipeline (``executemany``), :data:`_BATCH` at a time: the
        iterable is consumed lazily, a batch at a time."""
        seen_at = self._clock()
        with self.transaction():
            pending = iter(orders)
            while batch := list(islice(pending, _BATCH)):
                filled = self._with_cached_lines(batch)
                with self._connection() as conn:
                    conn.cursor().executemany(_UPSERT_ORDER, (self._upsert_values(o, seen_at) for o in filled))

    def _with_cached_lines(self, orders: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The orders, those read without their records' lines given the cached ones (:mod:`bot.storage.lines`);
        the cached rows are locked until the caller's transaction ends, so no write slips between."""
        wanting = [str(order["id"]) for order in orders if lacks_lines(order)]
        if not wanting:
            return list(orders)
        rows = self._select("SELECT id, data FROM orders WHERE id = ANY(%s) FOR UPDATE", (wanting,))
        cached = {row["id"]: row["data"] for row in rows}
        return [
            keep_lines(order, cached[str(order["id"])]) if str(order["id"]) in cached else order for order in orders
        ]

    def _upsert_values(self, order: Mapping[str, Any], seen_at: float) -> tuple[Any, ...]:
        hashes = sorted(self._buyer_hashes(order))
        return (*_order_values(order, seen_at), [kind for kind, _ in hashes], [digest for _, digest in hashes])

    def get_order(self, order_id: str) -> IndexedOrder | None:
        row = self._select_one(f"SELECT {_COLUMNS} FROM orders WHERE id = %s", (order_id,))
        return _indexed_order(row) if row else None

    def orders_in_state(self, state: str) -> list[IndexedOrder]:
        rows = self._select(f"SELECT {_COLUMNS} FROM orders WHERE state = %s ORDER BY created, id", (state,))
        return [_indexed_order(row) for row in rows]

    def orders_updated_since(self, since: float) -> Iterator[IndexedOrder]:
        rows = self._stream(f"SELECT {_COLUMNS} FROM orders WHERE updated_ts >= %s ORDER BY updated_ts, id", (since,))
        return (_indexed_order(row) for row in rows)

    def find_by_reference(self, reference: str) -> list[str]:
        exact = self._select("SELECT id FROM orders WHERE merchant_ref = %s ORDER BY id", (reference,))
        if not exact:
            exact = self._select(
                "SELECT id FROM orders WHERE reference_key = %s ORDER BY id", (reference_key(reference),)
            )
        return [row["id"] for row in exact]

    def reference_owner(self, reference: str, *, other_than: str | None = None) -> str | None:
        row = self._select_one(
            "SELECT id FROM orders WHERE reference_key = %s AND id IS DISTINCT FROM %s ORDER BY id LIMIT 1",
            (reference_key(reference), other_than),
        )
        return row["id"] if row else None

    def set_reference(self, order_id: str, reference: str) -> None:
        self._write(
            """
            INSERT INTO orders AS o (id, merchant_ref, reference_key, data, seen_at)
            VALUES (%(id)s, %(ref)s, %(key)s,
                    jsonb_build_object('id', %(id)s::text, 'merchant_order_id', %(ref)s::text), %(now)s)
            ON CONFLICT (id) DO UPDATE SET
                merchant_ref = excluded.merchant_ref,
                reference_key = excluded.reference_key,
                data = o.data || jsonb_build_object('merchant_order_id', excluded.merchant_ref)
            """,
            {"id": order_id, "ref": reference, "key": reference_key(reference), "now": self._clock()},
        )

    def set_order_state(self, order_id: str, state: str) -> None:
        self._write(
            """
            INSERT INTO orders AS o (id, state, data, seen_at)
            VALUES (%(id)s, %(state)s, jsonb_build_object(
                        'id', %(id)s::text, 'order_status', jsonb_build_object('state', %(state)s::text)
                    ), %(now)s)
            ON CONFLICT (id) DO UPDATE SET
                state = excluded.state,
                data = o.data || jsonb_build_object('order_status', jsonb_build_object('state', excluded.state))
            """,
            {"id": order_id, "state": state, "now": self._clock()},
        )

    def record_scan(self, reference: str, found: bool) -> None:
        self._write(
            """
            INSERT INTO lookup_scans (reference_key, found, scanned_at) VALUES (%s, %s, %s)
            ON CONFLICT (reference_key) DO UPDATE SET found = excluded.found, scanned_at = excluded.scanned_at
            """,
            (reference_key(reference), int(found), self._clock()),
        )

    def scanned_recently(self, reference: str, within_seconds: float) -> bool:
        row = self._select_one(
            "SELECT 1 AS hit FROM lookup_scans WHERE reference_key = %s AND scanned_at >= %s",
            (reference_key(reference), self._clock() - within_seconds),
        )
        return row is not None
