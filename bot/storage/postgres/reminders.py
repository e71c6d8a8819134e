"""The on-call helpers' tables: the band each posted card shows, reminder claims and snoozes."""

from __future__ import annotations

from collections.abc import Iterable

from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import NotificationRow, ReminderRow, Snooze


class PostgresOnCall(PostgresDatabase):
    """The ``card_bands``, ``reminders`` and ``snoozes`` tables (the :class:`bot.storage.ports.OnCall` port)."""

    def open_announcements(self, states: Iterable[str]) -> list[NotificationRow]:
        wanted = sorted(set(states))
        rows = self._select(
            """
            SELECT n.order_id, n.channel, n.claimed_at, n.ts, n.posted_at, n.state_summary
            FROM notifications n JOIN orders o ON o.id = n.order_id
            WHERE n.ts IS NOT NULL AND o.state = ANY(%s)
            ORDER BY n.posted_at, n.order_id
            """,
            (wanted,),
        )
        return [NotificationRow(**row) for row in rows]

    def shown_band(self, order_id: str, channel: str) -> str | None:
        row = self._select_one("SELECT band FROM card_bands WHERE order_id = %s AND channel = %s", (order_id, channel))
        return row["band"] if row else None

    def set_shown_band(self, order_id: str, channel: str, band: str) -> None:
        self._write(
            """
            INSERT INTO card_bands (order_id, channel, band, updated_at) VALUES (%s, %s, %s, %s)
            ON CONFLICT (order_id, channel) DO UPDATE SET band = excluded.band, updated_at = excluded.updated_at
            """,
            (order_id, channel, band, self._clock()),
        )

    def claim_reminder(self, order_id: str, stage: str, *, channel: str, thread_ts: str) -> bool:
        return (
            self._write(
                """
                INSERT INTO reminders (order_id, stage, channel, thread_ts, claimed_at) VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (order_id, stage) DO NOTHING
                """,
                (order_id, stage, channel, thread_ts, self._clock()),
            )
            == 1
        )

    def complete_reminder(self, order_id: str, stage: str, ts: str) -> None:
        self._write("UPDATE reminders SET ts = %s WHERE order_id = %s AND stage = %s", (ts, order_id, stage))

    def reminders_for(self, order_id: str) -> list[ReminderRow]:
        rows = self._select(
            """
            SELECT order_id, stage, channel, thread_ts, claimed_at, ts FROM reminders
            WHERE order_id = %s ORDER BY claimed_at, stage
            """,
            (order_id,),
        )
        return [ReminderRow(**row) for row in rows]

    def unfinished_reminders(self) -> list[ReminderRow]:
        rows = self._select(
            """
            SELECT order_id, stage, channel, thread_ts, claimed_at, ts FROM reminders
            WHERE ts IS NULL ORDER BY claimed_at, order_id, stage
            """
        )
        return [ReminderRow(**row) for row in rows]

    def snooze(self, order_id: str, *, until: float, user_id: str) -> None:
        self._write(
            """
            INSERT INTO snoozes (order_id, until, user_id, at) VALUES (%s, %s, %s, %s)
            ON CONFLICT (order_id) DO UPDATE SET until = excluded.until, user_id = excluded.user_id, at = excluded.at
            """,
            (order_id, until, user_id, self._clock()),
        )

    def snoozed(self, order_id: str) -> Snooze | None:
        row = self._select_one("SELECT order_id, until, user_id, at FROM snoozes WHERE order_id = %s", (order_id,))
        return Snooze(**row) if row else None
