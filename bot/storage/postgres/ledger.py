"""The idempotency ledger's rows, the order locks its live claims hold, and who waits for a claim's outcome.

``bot.actions.ledger`` gives these rows their meaning; nothing else should call these methods. Every claim is one
``INSERT … ON CONFLICT DO NOTHING`` that the server decides: the second of two racing inserts waits for the first
to commit or roll back, then inserts or changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.order import reference_key
from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import Row

LEDGER_COLUMNS = (
    "key, operation, order_id, params, fingerprint, state, retryable, user_id, team_id, channel_id, message_ts, "
    "reference, created_at, updated_at, lease_expires_at, attempts, response, error, next_attempt_at, gave_up"
)
"""A ledger row as callers see it (the sqlite backend's columns; ``seq``, the insertion order, stays inside)."""

_INSERT = """
INSERT INTO ledger (key, operation, order_id, params, fingerprint, state, retryable, user_id, team_id, channel_id,
    message_ts, reference, created_at, updated_at, lease_expires_at, attempts, response, error, next_attempt_at,
    gave_up)
VALUES (%(key)s, %(operation)s, %(order_id)s, %(params)s, %(fingerprint)s, %(state)s, %(retryable)s, %(user_id)s,
    %(team_id)s, %(channel_id)s, %(message_ts)s, %(reference)s, %(created_at)s, %(updated_at)s,
    %(lease_expires_at)s, %(attempts)s, %(response)s, %(error)s, %(next_attempt_at)s, %(gave_up)s)
ON CONFLICT DO NOTHING
"""


def _insert_values(row: Mapping[str, Any]) -> dict[str, Any]:
    values = {"next_attempt_at": None, "gave_up": 0, "response": None, "error": None, **row}
    for flag in ("retryable", "attempts", "gave_up"):
        values[flag] = int(values[flag])
    return values


class PostgresLedger(PostgresDatabase):
    """The ``ledger``, ``ack_order_locks`` and ``ack_waiters`` tables (the :class:`bot.storage.ports.LedgerRows`
    port)."""

    def ledger_insert(self, row: Mapping[str, Any]) -> bool:
        return self._write(_INSERT, _insert_values(row)) == 1

    def ledger_get(self, key: str) -> Row | None:
        return self._select_one(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE key = %s", (key,))

    def ledger_take_over(self, key: str, *, now: float, lease_expires_at: float) -> Row | None:
        """One ``UPDATE … RETURNING``: of two racing callers the second re-reads the row the first changed, no
        longer matches, and gets None."""
        return self._select_one(
            f"""
            UPDATE ledger
            SET state = 'pending', retryable = 0, error = NULL, attempts = attempts + 1,
                lease_expires_at = %s, updated_at = %s, next_attempt_at = NULL, gave_up = 0
            WHERE key = %s AND ((state = 'pending' AND lease_expires_at < %s) OR (state = 'failed' AND retryable = 1))
            RETURNING {LEDGER_COLUMNS}
            """,
            (lease_expires_at, now, key, now),
        )

    def ledger_mark_succeeded(self, key: str, *, response: str, now: float) -> Row | None:
        return self._select_one(
            f"""
            UPDATE ledger SET state = 'succeeded', response = %s, error = NULL, retryable = 0, updated_at = %s
            WHERE key = %s AND state <> 'succeeded'
            RETURNING {LEDGER_COLUMNS}
            """,
            (response, now, key),
        )

    def ledger_mark_failed(
        self, key: str, *, error: str, retryable: bool, now: float, next_attempt_at: float | None, gave_up: bool
    ) -> Row | None:
        return self._select_one(
            f"""
            UPDATE ledger SET state = 'failed', error = %s, retryable = %s, updated_at = %s, next_attempt_at = %s,
                gave_up = %s
            WHERE key = %s AND state = 'pending'
            RETURNING {LEDGER_COLUMNS}
            """,
            (error, int(retryable), now, next_attempt_at, int(gave_up), key),
        )

    def ledger_for_order(self, order_id: str, operation: str) -> list[Row]:
        return self._select(
            f"""
            SELECT {LEDGER_COLUMNS} FROM ledger WHERE order_id = %s AND operation = %s
            ORDER BY created_at DESC, seq DESC
            """,
            (order_id, operation),
        )

    def ledger_holding(self, order_id: str) -> Row | None:
        columns = ", ".join(f"ledger.{name.strip()}" for name in LEDGER_COLUMNS.split(","))
        return self._select_one(
            f"SELECT {columns} FROM ack_order_locks JOIN ledger USING (key) WHERE ack_order_locks.order_id = %s",
            (order_id,),
        )

    def ledger_due(self, *, now: float) -> list[Row]:
        return self._select(
            f"""
            SELECT {LEDGER_COLUMNS} FROM ledger
            WHERE (state = 'pending' AND lease_expires_at < %s)
               OR (state = 'failed' AND retryable = 1 AND gave_up = 0 AND COALESCE(next_attempt_at, 0) <= %s)
            ORDER BY updated_at
            """,
            (now, now),
        )

    def lock_order(self, order_id: str, key: str, reference: str | None) -> bool:
        """Insert the order's lock for ``key`` unless the order or the reference is locked; True iff ``key``
        holds the order now. One statement: the row this call inserted, else the holder already committed (a
        racing insert that this one waited for is not visible to it, and it did not insert: False either way)."""
        rows = self._select(
            """
            WITH inserted AS (
                INSERT INTO ack_order_locks (order_id, key, locked_at, reference_key) VALUES (%s, %s, %s, %s)
                ON CONFLICT DO NOTHING RETURNING key
            )
            SELECT key FROM inserted UNION ALL SELECT key FROM ack_order_locks WHERE order_id = %s
            """,
            (order_id, key, self._clock(), reference_key(reference) if reference else None, order_id),
        )
        return bool(rows) and rows[0]["key"] == key

    def lock_holder(self, order_id: str) -> str | None:
        row = self._select_one("SELECT key FROM ack_order_locks WHERE order_id = %s", (order_id,))
        return str(row["key"]) if row else None

    def reference_holder(self, reference: str) -> tuple[str, str] | None:
        row = self._select_one(
            "SELECT order_id, key FROM ack_order_locks WHERE reference_key = %s", (reference_key(reference),)
        )
        return (str(row["order_id"]), str(row["key"])) if row else None

    def unlock(self, key: str, order_ids: Iterable[str] | None = None) -> None:
        if order_ids is None:
            self._write("DELETE FROM ack_order_locks WHERE key = %s", (key,))
            return
        self._write("DELETE FROM ack_order_locks WHERE key = %s AND order_id = ANY(%s)", (key, list(order_ids)))

    def add_waiter(
        self, key: str, *, order_id: str, user_id: str, channel: str | None, response_url: str | None
    ) -> None:
        self._write(
            """
            INSERT INTO ack_waiters (key, order_id, user_id, channel, response_url, created_at)
            VALUES (%s, %s, %s, %s, %s, %s)
            """,
            (key, order_id, user_id, channel, response_url, self._clock()),
        )

    def take_waiters(self, key: str) -> list[Row]:
        """One ``DELETE … RETURNING``: each waiter goes to exactly one caller, in the order they came."""
        return self._select(
            """
            WITH taken AS (
                DELETE FROM ack_waiters WHERE key = %s RETURNING id, order_id, user_id, channel, response_url
            )
            SELECT order_id, user_id, channel, response_url FROM taken ORDER BY id
            """,
            (key,),
        )
