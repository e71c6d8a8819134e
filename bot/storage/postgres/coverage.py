"""Which spans of last-update time a scan of Meta has read with buyer fields (the buyer index's coverage)."""

from __future__ import annotations

from bot.storage.postgres.db import PostgresDatabase

COVERAGE_LOCK = "buyer_coverage"


class PostgresCoverage(PostgresDatabase):
    """The ``buyer_coverage`` table (the :class:`bot.storage.ports.BuyerCoverage` port). Spans are stored merged:
    none overlaps or touches another, so a window's coverage is a handful of rows."""

    def covered_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        rows = self._select(
            """
            SELECT covered_from, covered_to FROM buyer_coverage
            WHERE covered_from < %s AND covered_to > %s ORDER BY covered_from
            """,
            (end, start),
        )
        return [(max(float(row["covered_from"]), start), min(float(row["covered_to"]), end)) for row in rows]

    def add_covered_span(self, start: float, end: float) -> None:
        """Read the spans it overlaps or touches and replace them by their union. Two replicas merging at once
        would each write the union they read before the other committed, so the merge runs alone
        (:meth:`exclusive`)."""
        if end <= start:
            return
        with self.exclusive(COVERAGE_LOCK):
            touching = self._select_one(
                """
                SELECT MIN(covered_from) AS low, MAX(covered_to) AS high FROM buyer_coverage
                WHERE covered_from <= %s AND covered_to >= %s
                """,
                (end, start),
            )
            low = min(start, float(touching["low"])) if touching and touching["low"] is not None else start
            high = max(end, float(touching["high"])) if touching and touching["high"] is not None else end
            self._write("DELETE FROM buyer_coverage WHERE covered_from <= %s AND covered_to >= %s", (end, start))
            self._write("INSERT INTO buyer_coverage (covered_from, covered_to) VALUES (%s, %s)", (low, high))

    def forget_buyer_index(self) -> int:
        """Both tables in one transaction: coverage without its hashes would hide orders from every search."""
        with self.exclusive(COVERAGE_LOCK):
            counted = self._select_one("SELECT COUNT(DISTINCT order_id) AS n FROM buyer_hashes")
            self._write("DELETE FROM buyer_hashes")
            self._write("DELETE FROM buyer_coverage")
        return int(counted["n"]) if counted else 0
