"""The daily summary's claims and App Home's users: when each opened it, when it was last published, and their
preferences."""

from __future__ import annotations

from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import AuditRow, HomeUser, SummaryRow


class PostgresHome(PostgresDatabase):
    """The ``daily_summaries`` and ``home_users`` tables (the :class:`bot.storage.ports.Summaries` and
    :class:`bot.storage.ports.HomeUsers` ports)."""

    def claim_summary(self, day: str, channel: str) -> bool:
        return (
            self._write(
                """
                INSERT INTO daily_summaries (day, channel, claimed_at) VALUES (%s, %s, %s)
                ON CONFLICT (day) DO NOTHING
                """,
                (day, channel, self._clock()),
            )
            == 1
        )

    def complete_summary(self, day: str, ts: str) -> None:
        self._write("UPDATE daily_summaries SET ts = %s WHERE day = %s", (ts, day))

    def get_summary(self, day: str) -> SummaryRow | None:
        row = self._select_one("SELECT day, channel, claimed_at, ts FROM daily_summaries WHERE day = %s", (day,))
        return SummaryRow(**row) if row else None

    def unfinished_summaries(self) -> list[SummaryRow]:
        rows = self._select("SELECT day, channel, claimed_at, ts FROM daily_summaries WHERE ts IS NULL ORDER BY day")
        return [SummaryRow(**row) for row in rows]

    def home_opened(self, user_id: str) -> None:
        self._write(
            """
            INSERT INTO home_users (user_id, opened_at) VALUES (%s, %s)
            ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at
            """,
            (user_id, self._clock()),
        )

    def claim_home_publish(self, user_id: str, *, every_seconds: float) -> bool:
        now = self._clock()
        return (
            self._write(
                """
                UPDATE home_users SET published_at = %s
                WHERE user_id = %s AND (published_at IS NULL OR published_at <= %s)
                """,
                (now, user_id, now - every_seconds),
            )
            == 1
        )

    def home_users_since(self, since: float) -> list[HomeUser]:
        rows = self._select(
            """
            SELECT user_id, opened_at, published_at, dm_escalations, daily_summary FROM home_users
            WHERE opened_at >= %s ORDER BY user_id
            """,
            (since,),
        )
        return [_home_user(row) for row in rows]

    def home_user(self, user_id: str) -> HomeUser | None:
        row = self._select_one(
            "SELECT user_id, opened_at, published_at, dm_escalations, daily_summary FROM home_users WHERE user_id = %s",
            (user_id,),
        )
        return _home_user(row) if row else None

    def set_home_preferences(self, user_id: str, *, dm_escalations: bool, daily_summary: bool) -> None:
        self._write(
            """
            INSERT INTO home_users (user_id, opened_at, dm_escalations, daily_summary) VALUES (%s, %s, %s, %s)
            ON CONFLICT (user_id) DO UPDATE
            SET dm_escalations = excluded.dm_escalations, daily_summary = excluded.daily_summary
            """,
            (user_id, self._clock(), int(dm_escalations), int(daily_summary)),
        )

    def actions_by_user(self, user_id: str, *, limit: int = 10) -> list[AuditRow]:
        rows = self._select(
            """
            SELECT id, at, action, order_id, user_id, team_id, key, outcome, detail FROM audit
            WHERE user_id = %s ORDER BY at DESC, id DESC LIMIT %s
            """,
            (user_id, limit),
        )
        return [AuditRow(**row) for row in rows]


def _home_user(row: dict[str, object]) -> HomeUser:
    return HomeUser(
        user_id=str(row["user_id"]),
        opened_at=float(row["opened_at"]),  # type: ignore[arg-type]
        published_at=None if row["published_at"] is None else float(row["published_at"]),  # type: ignore[arg-type]
        dm_escalations=bool(row["dm_escalations"]),
        daily_summary=bool(row["daily_summary"]),
    )
