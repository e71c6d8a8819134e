"""The idempotency ledger's rows, the order locks its live claims hold, and who waits for a claim's outcome.

``bot.actions.ledger`` gives these rows their meaning; nothing else should call these methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.order import reference_key
from bot.storage.rows import Row
from bot.storage.sqlite.db import SqliteDatabase


class SqliteLedger(SqliteDatabase):
    """The ``ledger``, ``ack_order_locks`` and ``ack_waiters`` tables (the :class:`bot.storage.ports.LedgerRows`
    port)."""

    def ledger_insert(self, row: Mapping[str, Any]) -> bool:
        """``INSERT OR IGNORE`` a claim and commit: True iff this call inserted it (rowcount 1)."""
        return (
            self._write(
                """
                INSERT OR IGNORE INTO ledger (key, operation, order_id, params, fingerprint, state, retryable,
                    user_id, team_id, channel_id, message_ts, reference, created_at, updated_at,
                    lease_expires_at, attempts, response, error)
                VALUES (:key, :operation, :order_id, :params, :fingerprint, :state, :retryable, :user_id,
                    :team_id, :channel_id, :message_ts, :reference, :created_at, :updated_at, :lease_expires_at,
                    :attempts, :response, :error)
                """,
                dict(row),
            )
            == 1
        )

    def ledger_get(self, key: str) -> Row | None:
        return self._select_one("SELECT * FROM ledger WHERE key = ?", (key,))

    def ledger_take_over(self, key: str, *, now: float, lease_expires_at: float) -> Row | None:
        """Atomically re-open an abandoned (lease expired) or retryable row; the row iff this caller won."""
        return self._returning(
            """
            UPDATE ledger
            SET state = 'pending', retryable = 0, error = NULL, attempts = attempts + 1,
                lease_expires_at = ?, updated_at = ?, next_attempt_at = NULL, gave_up = 0
            WHERE key = ? AND ((state = 'pending' AND lease_expires_at < ?) OR (state = 'failed' AND retryable = 1))
            RETURNING *
            """,
            (lease_expires_at, now, key, now),
        )

    def ledger_mark_succeeded(self, key: str, *, response: str, now: float) -> Row | None:
        """Pending or failed → succeeded (Meta's word wins); None when already succeeded or unknown."""
        return self._returning(
            """
            UPDATE ledger SET state = 'succeeded', response = ?, error = NULL, retryable = 0, updated_at = ?
            WHERE key = ? AND state <> 'succeeded'
            RETURNING *
            """,
            (response, now, key),
        )

    def ledger_mark_failed(
        self, key: str, *, error: str, retryable: bool, now: float, next_attempt_at: float | None, gave_up: bool
    ) -> Row | None:
        """Pending → failed; None when the row is not pending (a late failure never undoes a success)."""
        return self._returning(
            """
            UPDATE ledger SET state = 'failed', error = ?, retryable = ?, updated_at = ?, next_attempt_at = ?,
                gave_up = ?
            WHERE key = ? AND state = 'pending'
            RETURNING *
            """,
            (error, int(retryable), now, next_attempt_at, int(gave_up), key),
        )

    def ledger_for_order(self, order_id: str, operation: str) -> list[Row]:
        return self._select(
            "SELECT * FROM ledger WHERE order_id = ? AND operation = ? ORDER BY created_at DESC, rowid DESC",
            (order_id, operation),
        )

    def ledger_holding(self, order_id: str) -> Row | None:
        """The entry whose claim holds the order's lock: pending, retrying or succeeded."""
        return self._select_one(
            "SELECT ledger.* FROM ack_order_locks JOIN ledger USING (key) WHERE ack_order_locks.order_id = ?",
            (order_id,),
        )

    def ledger_due(self, *, now: float) -> list[Row]:
        """The sweeper's work: pending rows whose owner's lease ran out, and transient failures due a retry."""
        return self._select(
            """
            SELECT * FROM ledger
            WHERE (state = 'pending' AND lease_expires_at < ?)
               OR (state = 'failed' AND retryable = 1 AND gave_up = 0 AND COALESCE(next_attempt_at, 0) <= ?)
            ORDER BY updated_at
            """,
            (now, now),
        )

    # Order locks: each is held by one live ledger claim, and written and removed with it.

    def lock_order(self, order_id: str, key: str, reference: str | None) -> bool:
        """``INSERT OR IGNORE`` the order's lock for ``key``, reserving ``reference`` with it; True iff ``key`` holds
        the order now. False when another key holds the order or another order's lock holds the reference."""
        with self._statement():
            self._db().execute(
                """
                INSERT OR IGNORE INTO ack_order_locks (order_id, key, locked_at, reference_key) VALUES (?, ?, ?, ?)
                """,
                (order_id, key, self._clock(), reference_key(reference) if reference else None),
            )
            return self.lock_holder(order_id) == key

    def lock_holder(self, order_id: str) -> str | None:
        """The key whose claim holds the order, if any."""
        row = self._select_one("SELECT key FROM ack_order_locks WHERE order_id = ?", (order_id,))
        return str(row["key"]) if row else None

    def reference_holder(self, reference: str) -> tuple[str, str] | None:
        """``(order id, key)`` of the lock reserving a merchant reference (any case), if any."""
        row = self._select_one(
            "SELECT order_id, key FROM ack_order_locks WHERE reference_key = ?", (reference_key(reference),)
        )
        return (str(row["order_id"]), str(row["key"])) if row else None

    def unlock(self, key: str, order_ids: Iterable[str] | None = None) -> None:
        """Free the orders ``key`` holds (all of them, or those named); locks held by other keys stay."""
        if order_ids is None:
            self._write("DELETE FROM ack_order_locks WHERE key = ?", (key,))
            return
        with self._statement():
            for order_id in order_ids:
                self._write("DELETE FROM ack_order_locks WHERE key = ? AND order_id = ?", (key, order_id))

    def add_waiter(
        self, key: str, *, order_id: str, user_id: str, channel: str | None, response_url: str | None
    ) -> None:
        """Someone clicked while ``key``'s claim was in flight: tell them its outcome when it is recorded."""
        self._write(
            """
            INSERT INTO ack_waiters (key, order_id, user_id, channel, response_url, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (key, order_id, user_id, channel, response_url, self._clock()),
        )

    def take_waiters(self, key: str) -> list[Row]:
        """Remove and return the waiters of ``key``: each is told by exactly one caller."""
        with self._statement():
            return self._select(
                "DELETE FROM ack_waiters WHERE key = ? RETURNING order_id, user_id, channel, response_url", (key,)
            )
