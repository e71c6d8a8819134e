"""Which orders were read from Meta for a link unfurl, and when: one claim row per order, renewed by whoever wins."""

from __future__ import annotations

from bot.storage.postgres.db import PostgresDatabase


class PostgresUnfurls(PostgresDatabase):
    """The ``unfurl_reads`` table (the :class:`bot.storage.ports.UnfurlReads` port)."""

    def claim_unfurl_read(self, order_id: str, *, within_seconds: float) -> bool:
        """One statement decides: the insert wins when no claim exists, the update only when the existing one is
        older than the window (a racing second caller re-checks the row the first wrote, and loses)."""
        now = self._clock()
        return (
            self._write(
                """
                INSERT INTO unfurl_reads AS u (order_id, read_at) VALUES (%s, %s)
                ON CONFLICT (order_id) DO UPDATE SET read_at = excluded.read_at
                WHERE u.read_at <= %s
                """,
                (order_id, now, now - within_seconds),
            )
            == 1
        )

    def release_unfurl_read(self, order_id: str) -> None:
        """Delete the claim: within its window only its winner could have written it, so this is the caller's."""
        self._write("DELETE FROM unfurl_reads WHERE order_id = %s", (order_id,))
