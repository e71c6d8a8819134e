"""Requests for a second person's approval (four-eyes refunds): one row per intent, moved by conditional updates.

``bot.actions.approvals`` gives the rows their meaning; nothing else should call these methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import Row


class PostgresApprovals(PostgresDatabase):
    """The ``approvals`` table (the :class:`bot.storage.ports.Approvals` port)."""

    def approval_create(self, row: Mapping[str, Any]) -> bool:
        """``INSERT ... ON CONFLICT DO NOTHING`` on the id and on the key: True iff this call inserted the row."""
        return (
            self._write(
                """
                INSERT INTO approvals (id, operation, order_id, key, params, total, currency, requester_id,
                    requester_team, origin_channel, origin_ts, origin_response_url, state, created_at, expires_at)
                VALUES (%(id)s, %(operation)s, %(order_id)s, %(key)s, %(params)s, %(total)s, %(currency)s,
                    %(requester_id)s, %(requester_team)s, %(origin_channel)s, %(origin_ts)s,
                    %(origin_response_url)s, %(state)s, %(created_at)s, %(expires_at)s)
                ON CONFLICT DO NOTHING
                """,
                dict(row),
            )
            == 1
        )

    def approval_get(self, approval_id: str) -> Row | None:
        return self._select_one("SELECT * FROM approvals WHERE id = %s", (approval_id,))

    def approval_for_key(self, key: str) -> Row | None:
        return self._select_one("SELECT * FROM approvals WHERE key = %s", (key,))

    def approval_set_message(self, approval_id: str, *, channel: str, ts: str) -> None:
        self._write("UPDATE approvals SET channel = %s, ts = %s WHERE id = %s", (channel, ts, approval_id))

    def approval_move(
        self,
        approval_id: str,
        *,
        from_state: str,
        to_state: str,
        now: float,
        user_id: str | None = None,
        detail: str | None = None,
        unexpired: bool = False,
    ) -> Row | None:
        """One ``UPDATE ... WHERE state = from_state RETURNING``: of any number of concurrent callers, one moves it.

        Who decided is kept across later moves (``approved`` → ``sent`` keeps the approver)."""
        return self._select_one(
            """
            UPDATE approvals
            SET state = %s, decided_by = COALESCE(%s, decided_by), detail = COALESCE(%s, detail),
                decided_at = CASE WHEN %s IN ('approved', 'declined', 'expired') THEN %s ELSE decided_at END,
                updated_at = %s
            WHERE id = %s AND state = %s AND (%s = 0 OR expires_at > %s)
            RETURNING *
            """,
            (to_state, user_id, detail, to_state, now, now, approval_id, from_state, int(unexpired), now),
        )

    def approvals_due(self, *, now: float) -> list[Row]:
        return self._select(
            "SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= %s ORDER BY expires_at, id", (now,)
        )

    def approvals_stalled(self, *, decided_before: float) -> list[Row]:
        return self._select(
            "SELECT * FROM approvals WHERE state = 'approved' AND decided_at < %s ORDER BY decided_at, id",
            (decided_before,),
        )

    def approvals_for_order(self, order_id: str) -> list[Row]:
        return self._select(
            "SELECT * FROM approvals WHERE order_id = %s ORDER BY created_at DESC, id DESC", (order_id,)
        )
