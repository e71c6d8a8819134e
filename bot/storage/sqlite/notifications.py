"""Channel notifications of orders, the digests that announce several at once, and the cards the bot keeps
current."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from bot.storage.rows import Card, DigestRow, NotificationRow, Row
from bot.storage.sqlite.db import SqliteDatabase


def _digest_row(row: Row) -> DigestRow:
    return DigestRow(row["id"], row["channel"], tuple(json.loads(row["order_ids"])), row["ts"])


class SqliteNotifications(SqliteDatabase):
    """The ``notifications`` and ``notifier_digests`` tables (the :class:`bot.storage.ports.Notifications` port).

    ``bot.notify.poller`` gives digests their meaning.
    """

    def claim_notification(self, order_id: str, channel: str) -> bool:
        """Claim announcing an order in a channel: True for the one caller that should post it."""
        return (
            self._write(
                "INSERT OR IGNORE INTO notifications (order_id, channel, claimed_at) VALUES (?, ?, ?)",
                (order_id, channel, self._clock()),
            )
            == 1
        )

    def complete_notification(self, order_id: str, channel: str, ts: str) -> None:
        """Record the posted message's ts: the notification is done and its card can be updated later."""
        self._write(
            "UPDATE notifications SET ts = ?, posted_at = ? WHERE order_id = ? AND channel = ?",
            (ts, self._clock(), order_id, channel),
        )

    def set_notified_state(self, order_id: str, channel: str, state_summary: str) -> None:
        """What the card in this channel now shows, so the next poll can tell whether the order changed."""
        self._write(
            "UPDATE notifications SET state_summary = ? WHERE order_id = ? AND channel = ?",
            (state_summary, order_id, channel),
        )

    def get_notification(self, order_id: str, channel: str) -> NotificationRow | None:
        row = self._select_one(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE order_id = ? AND channel = ?
            """,
            (order_id, channel),
        )
        return NotificationRow(**row) if row else None

    def unfinished_notifications(self) -> list[NotificationRow]:
        """Claimed but never completed (a crash between claim and post): look in the channel before reposting."""
        rows = self._select(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE ts IS NULL ORDER BY claimed_at
            """
        )
        return [NotificationRow(**row) for row in rows]

    def notifications_for_order(self, order_id: str) -> list[NotificationRow]:
        rows = self._select(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE order_id = ? ORDER BY claimed_at
            """,
            (order_id,),
        )
        return [NotificationRow(**row) for row in rows]

    def claim_digest(self, digest_id: str, channel: str, order_ids: Iterable[str]) -> list[str]:
        """Claim the orders' notifications for one digest, in one transaction; the orders this call claimed."""
        with self.transaction():
            claimed = [order_id for order_id in order_ids if self.claim_notification(order_id, channel)]
            if claimed:
                self._write(
                    "INSERT INTO notifier_digests (id, channel, order_ids, created_at) VALUES (?, ?, ?, ?)",
                    (digest_id, channel, json.dumps(claimed), self._clock()),
                )
        return claimed

    def complete_digest(self, digest_id: str, ts: str, states: Mapping[str, str]) -> None:
        """The digest was posted at ``ts``: it and each order's notification (with its ``state_summary``) are done."""
        with self.transaction():
            row = self._select_one("SELECT channel FROM notifier_digests WHERE id = ?", (digest_id,))
            if row is None:
                raise KeyError(digest_id)
            self._write("UPDATE notifier_digests SET ts = ? WHERE id = ?", (ts, digest_id))
            for order_id, summary in states.items():
                self.complete_notification(order_id, row["channel"], ts)
                self.set_notified_state(order_id, row["channel"], summary)

    def get_digest(self, digest_id: str) -> DigestRow | None:
        row = self._select_one("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE id = ?", (digest_id,))
        return _digest_row(row) if row else None

    def digest_at(self, channel: str, ts: str) -> DigestRow | None:
        """The digest posted as message ``ts`` in ``channel``, if that message is one."""
        row = self._select_one(
            "SELECT id, channel, order_ids, ts FROM notifier_digests WHERE channel = ? AND ts = ?", (channel, ts)
        )
        return _digest_row(row) if row else None

    def unfinished_digests(self) -> list[DigestRow]:
        rows = self._select("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE ts IS NULL ORDER BY rowid")
        return [_digest_row(row) for row in rows]


class SqliteCards(SqliteDatabase):
    """The ``cards`` table (the :class:`bot.storage.ports.Cards` port)."""

    def remember_card(
        self, order_id: str, *, channel: str | None, ts: str | None, response_url: str | None, kind: str
    ) -> None:
        """Remember a message showing the order, so that an acknowledgement can update every open card.

        A channel message is addressed by ``channel`` + ``ts``; an ephemeral one only by its ``response_url``.
        Remembering the same message twice is harmless.
        """
        if not (channel and ts) and not response_url:
            raise ValueError("a card needs channel and ts, or a response_url")
        self._write(
            """
            INSERT OR IGNORE INTO cards (order_id, kind, channel, ts, response_url, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (order_id, kind, channel, ts, response_url, self._clock()),
        )

    def cards_for_order(self, order_id: str) -> list[Card]:
        rows = self._select(
            """
            SELECT id, order_id, kind, channel, ts, response_url, created_at FROM cards
            WHERE order_id = ? ORDER BY created_at, id
            """,
            (order_id,),
        )
        return [Card(**row) for row in rows]
