"""Which spans of last-update time a scan of Meta has read with buyer fields (the buyer index's coverage)."""

from __future__ import annotations

from bot.storage.sqlite.db import SqliteDatabase


class SqliteCoverage(SqliteDatabase):
    """The ``buyer_coverage`` table (the :class:`bot.storage.ports.BuyerCoverage` port). Spans are stored merged:
    none overlaps or touches another, so a window's coverage is a handful of rows."""

    def covered_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        rows = self._select(
            """
            SELECT covered_from, covered_to FROM buyer_coverage
            WHERE covered_from < ? AND covered_to > ? ORDER BY covered_from
            """,
            (end, start),
        )
        return [(max(row["covered_from"], start), min(row["covered_to"], end)) for row in rows]

    def add_covered_span(self, start: float, end: float) -> None:
        """Read the spans it overlaps or touches and replace them by their union, in one write transaction: two
        processes adding spans at once queue on the write lock, so neither loses the other's."""
        if end <= start:
            return
        with self.transaction():
            db = self._db()
            touching = db.execute(
                """
                SELECT MIN(covered_from), MAX(covered_to) FROM buyer_coverage
                WHERE covered_from <= ? AND covered_to >= ?
                """,
                (end, start),
            ).fetchone()
            low = min(start, touching[0]) if touching[0] is not None else start
            high = max(end, touching[1]) if touching[1] is not None else end
            db.execute("DELETE FROM buyer_coverage WHERE covered_from <= ? AND covered_to >= ?", (end, start))
            db.execute("INSERT INTO buyer_coverage (covered_from, covered_to) VALUES (?, ?)", (low, high))
