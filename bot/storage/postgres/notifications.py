"""Channel notifications of orders, the digests that announce several at once, and the cards the bot keeps
current."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from bot.storage.postgres.db import PostgresDatabase
from bot.storage.rows import Card, DigestRow, NotificationRow, Row

_NOTIFICATION = "order_id, channel, claimed_at, ts, posted_at, state_summary"


def _digest_row(row: Row) -> DigestRow:
    return DigestRow(row["id"], row["channel"], tuple(json.loads(row["order_ids"])), row["ts"])


class PostgresNotifications(PostgresDatabase):
    """The ``notifications`` and ``notifier_digests`` tables (the :class:`bot.storage.ports.Notifications` port)."""

    def claim_notification(self, order_id: str, channel: str) -> bool:
        return (
            self._write(
                "INSERT INTO notifications (order_id, channel, claimed_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (order_id, channel, self._clock()),
            )
            == 1
        )

    def complete_notification(self, order_id: str, channel: str, ts: str) -> None:
        self._write(
            "UPDATE notifications SET ts = %s, posted_at = %s WHERE order_id = %s AND channel = %s",
            (ts, self._clock(), order_id, channel),
        )

    def set_notified_state(self, order_id: str, channel: str, state_summary: str) -> None:
        self._write(
            "UPDATE notifications SET state_summary = %s WHERE order_id = %s AND channel = %s",
            (state_summary, order_id, channel),
        )

    def get_notification(self, order_id: str, channel: str) -> NotificationRow | None:
        row = self._select_one(
            f"SELECT {_NOTIFICATION} FROM notifications WHERE order_id = %s AND channel = %s", (order_id, channel)
        )
        return NotificationRow(**row) if row else None

    def unfinished_notifications(self) -> list[NotificationRow]:
        rows = self._select(
            f"SELECT {_NOTIFICATION} FROM notifications WHERE ts IS NULL ORDER BY claimed_at, order_id, channel"
        )
        return [NotificationRow(**row) for row in rows]

    def notifications_for_order(self, order_id: str) -> list[NotificationRow]:
        rows = self._select(
            f"SELECT {_NOTIFICATION} FROM notifications WHERE order_id = %s ORDER BY claimed_at, channel",
            (order_id,),
        )
        return [NotificationRow(**row) for row in rows]

    def claim_digest(self, digest_id: str, channel: str, order_ids: Iterable[str]) -> list[str]:
        with self.transaction():
            claimed = [order_id for order_id in order_ids if self.claim_notification(order_id, channel)]
            if claimed:
                self._write(
                    "INSERT INTO notifier_digests (id, channel, order_ids, created_at) VALUES (%s, %s, %s, %s)",
                    (digest_id, channel, json.dumps(claimed), self._clock()),
                )
        return claimed

    def complete_digest(self, digest_id: str, ts: str, states: Mapping[str, str]) -> None:
        with self.transaction():
            row = self._select_one("SELECT channel FROM notifier_digests WHERE id = %s", (digest_id,))
            if row is None:
                raise KeyError(digest_id)
            self._write("UPDATE notifier_digests SET ts = %s WHERE id = %s", (ts, digest_id))
            for order_id, summary in states.items():
                self.complete_notification(order_id, row["channel"], ts)
                self.set_notified_state(order_id, row["channel"], summary)

    def get_digest(self, digest_id: str) -> DigestRow | None:
        row = self._select_one("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE id = %s", (digest_id,))
        return _digest_row(row) if row else None

    def digest_at(self, channel: str, ts: str) -> DigestRow | None:
        row = self._select_one(
            "SELECT id, channel, order_ids, ts FROM notifier_digests WHERE channel = %s AND ts = %s", (channel, ts)
        )
        return _digest_row(row) if row else None

    def unfinished_digests(self) -> list[DigestRow]:
        rows = self._select("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE ts IS NULL ORDER BY seq")
        return [_digest_row(row) for row in rows]


class PostgresCards(PostgresDatabase):
    """The ``cards`` table (the :class:`bot.storage.ports.Cards` port)."""

    def remember_card(
        self, order_id: str, *, channel: str | None, ts: str | None, response_url: str | None, kind: str
    ) -> None:
        if not (channel and ts) and not response_url:
            raise ValueError("a card needs channel and ts, or a response_url")
        self._write(
            """
            INSERT INTO cards (order_id, kind, channel, ts, response_url, created_at)
            VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
            """,
            (order_id, kind, channel, ts, response_url, self._clock()),
        )

    def cards_for_order(self, order_id: str) -> list[Card]:
        rows = self._select(
            """
            SELECT id, order_id, kind, channel, ts, response_url, created_at FROM cards
            WHERE order_id = %s ORDER BY created_at, id
            """,
            (order_id,),
        )
        return [Card(**row) for row in rows]
