"""The buyer search index: keyed hashes of each order's buyer email, phone and name tokens, never the values.

The hashes are written by the orders index itself, in the statement's transaction, whenever a read carries buyer
fields: whoever indexes an order (the poller, a lookup) indexes its buyer, and an order's row and its hashes never
disagree. Without a search key nothing is hashed and nothing is found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import Any

from bot.domain.buyer_search import order_hashes
from bot.storage.sqlite.db import SqliteDatabase


class SqliteBuyers(SqliteDatabase):
    """The ``buyer_hashes`` table (the :class:`bot.storage.ports.BuyerIndex` port)."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 5000,
        search_key: str | None = None,
    ) -> None:
        self._search_key = search_key
        super().__init__(path, clock=clock, busy_timeout_ms=busy_timeout_ms)

    def _index_buyer(self, order: Mapping[str, Any]) -> None:
        """Replace the order's hashes by those of this read, inside the caller's transaction; a read without buyer
        fields (the lookup scan's) keeps what a fuller read wrote."""
        if not self._search_key:
            return
        hashes = order_hashes(self._search_key, order)
        if not hashes:
            return
        order_id = str(order["id"])
        db = self._db()
        db.execute("DELETE FROM buyer_hashes WHERE order_id = ?", (order_id,))
        db.conn.executemany(
            "INSERT INTO buyer_hashes (order_id, kind, hash) VALUES (?, ?, ?)",
            ((order_id, kind, digest) for kind, digest in sorted(hashes)),
        )

    def buyers_matching(self, kind: str, hashes: Sequence[str], *, since: float, limit: int = 50) -> list[str]:
        """One grouped query: an order matches when it has every distinct hash asked for."""
        wanted = sorted(set(hashes))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self._select(
            f"""
            SELECT o.id AS id FROM orders o JOIN buyer_hashes b ON b.order_id = o.id
            WHERE b.kind = ? AND b.hash IN ({marks}) AND o.updated_ts >= ?
            GROUP BY o.id HAVING COUNT(DISTINCT b.hash) = ?
            ORDER BY MAX(o.updated_ts) DESC, o.id LIMIT ?
            """,  # noqa: S608 - only placeholders are interpolated
            (kind, *wanted, since, len(wanted), limit),
        )
        return [str(row["id"]) for row in rows]

    def forget_buyer_index(self) -> int:
        """Both tables in one transaction: coverage without its hashes would hide orders from every search."""
        with self.transaction():
            db = self._db()
            indexed = db.execute("SELECT COUNT(DISTINCT order_id) FROM buyer_hashes").fetchone()[0]
            db.execute("DELETE FROM buyer_hashes")
            db.execute("DELETE FROM buyer_coverage")
        return int(indexed)
