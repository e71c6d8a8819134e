"""Named values that outlive a process: the poller's watermark, its last poll and its last error."""

from __future__ import annotations

from bot.storage.postgres.db import PostgresDatabase


class PostgresState(PostgresDatabase):
    """The ``state`` table (the :class:`bot.storage.ports.KeyValue` port)."""

    def get_state(self, name: str) -> str | None:
        row = self._select_one("SELECT value FROM state WHERE name = %s", (name,))
        return row["value"] if row else None

    def set_state(self, name: str, value: str) -> None:
        self._write(
            """
            INSERT INTO state (name, value, updated_at) VALUES (%s, %s, %s)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """,
            (name, value, self._clock()),
        )
