"""The buyer search index: keyed hashes of each order's buyer email, phone and name tokens, never the values.

Written by the orders index in the same statement as the order's row (see the sqlite backend's module of the
same name for why); without a search key nothing is hashed and nothing is found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.domain.buyer_search import order_hashes
from bot.storage.postgres.db import POOL_SIZE, PostgresDatabase


class PostgresBuyers(PostgresDatabase):
    """The ``buyer_hashes`` table (the :class:`bot.storage.ports.BuyerIndex` port)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        pool_size: int = POOL_SIZE,
        migrate_now: bool = True,
        search_key: str | None = None,
    ) -> None:
        self._search_key = search_key
        super().__init__(url, clock=clock, pool_size=pool_size, migrate_now=migrate_now)

    def _buyer_hashes(self, order: Mapping[str, Any]) -> set[tuple[str, str]]:
        """The ``(kind, hash)`` pairs the orders index writes with this read: none without a search key, or for a
        read without buyer fields (which keeps what a fuller read wrote)."""
        if not self._search_key:
            return set()
        return set(order_hashes(self._search_key, order))

    def buyers_matching(self, kind: str, hashes: Sequence[str], *, since: float, limit: int = 50) -> list[str]:
        """One grouped query: an order matches when it has every distinct hash asked for."""
        wanted = sorted(set(hashes))
        if not wanted:
            return []
        rows = self._select(
            """
            SELECT o.id AS id FROM orders o JOIN buyer_hashes b ON b.order_id = o.id
            WHERE b.kind = %s AND b.hash = ANY(%s) AND o.updated_ts >= %s
            GROUP BY o.id HAVING COUNT(DISTINCT b.hash) = %s
            ORDER BY MAX(o.updated_ts) DESC, o.id LIMIT %s
            """,
            (kind, wanted, since, len(wanted), limit),
        )
        return [str(row["id"]) for row in rows]
