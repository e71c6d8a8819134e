"""The audit trail: who did what to which order, with the idempotency key and the outcome; never buyer data."""

from __future__ import annotations

from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import AuditRow


class PostgresAudit(PostgresDatabase):
    """The ``audit`` table (the :class:`bot.storage.ports.Audit` port)."""

    def add_audit(
        self,
        *,
        action: str,
        order_id: str | None,
        user_id: str,
        team_id: str | None = None,
        key: str | None = None,
        outcome: str,
        detail: str | None = None,
        at: float | None = None,
    ) -> None:
        self._write(
            """
            INSERT INTO audit (at, action, order_id, user_id, team_id, key, outcome, detail)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (self._clock() if at is None else at, action, order_id, user_id, team_id, key, outcome, detail),
        )

    def audit_for_order(self, order_id: str, *, limit: int = 100) -> list[AuditRow]:
        rows = self._select(
            """
            SELECT id, at, action, order_id, user_id, team_id, key, outcome, detail FROM audit
            WHERE order_id = %s ORDER BY at DESC, id DESC LIMIT %s
            """,
            (order_id, limit),
        )
        return [AuditRow(**row) for row in rows]
