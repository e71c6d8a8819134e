"""The poller's jobs, each run on one channel's lane: post a card or a digest and complete its claim, redraw it
when its orders changed, and finish what a crash left.

**Exactly once.** An announcement was claimed (its ``notifications`` row) before its job was queued; the job
posts it marked with message metadata naming the order (or the digest) and completes the row with the message
ts. A job that finds the claim unfinished after a crash first looks for the message in the channel's recent
history, and completes the row if the channel has it, else posts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.actions.ledger import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS, Ledger, card_key
from bot.actions.status import (
    ACKNOWLEDGED_STATES,
    CARD_NOTIFICATION,
    AckStatus,
    card_place,
    list_place,
    notification_place,
    status_of,
)
from bot.notify.ports import Change, ChannelWriter
from bot.notify.routing import snapshot
from bot.storage.ports import Storage
from bot.storage.rows import AuditRow, Card, DigestRow, NotificationRow


class Announcer:
    """What a job does on its channel's writer, and what it records. Thread-safe (the store serialises writes)."""

    def __init__(self, store: Storage, ledger: Ledger) -> None:
        self._store = store
        self._ledger = ledger

    def post_card(self, out: ChannelWriter, order_id: str, channel: str) -> None:
        """Post the card, then complete the claim (and make acknowledgements update it)."""
        order = self.order(order_id)
        ts = out.post_card(channel, order, self.status(order), self.card_key(order_id, channel))
        self._complete(order_id, channel, ts, order)

    def _complete(self, order_id: str, channel: str, ts: str, order: Mapping[str, Any]) -> None:
        with self._store.transaction():
            self._store.complete_notification(order_id, channel, ts)
            self._store.set_notified_state(order_id, channel, snapshot(order))
            self._store.remember_card(order_id, channel=channel, ts=ts, response_url=None, kind=CARD_NOTIFICATION)

    def post_digest(self, out: ChannelWriter, digest_id: str) -> None:
        digest = self._store.get_digest(digest_id)
        if digest is None:
            raise KeyError(digest_id)
        orders = [self.order(order_id) for order_id in digest.order_ids]
        self._complete_digest(digest_id, out.post_digest(digest.channel, digest_id, orders), orders)

    def _complete_digest(self, digest_id: str, ts: str, orders: Sequence[Mapping[str, Any]]) -> None:
        self._store.complete_digest(digest_id, ts, {str(order["id"]): snapshot(order) for order in orders})

    def order(self, order_id: str) -> dict[str, Any]:
        """The order as last indexed (PII already stripped): what was listed, so the card needs no Graph call."""
        indexed = self._store.get_order(order_id)
        return indexed.data if indexed is not None else {"id": order_id}

    def card_key(self, order_id: str, channel: str) -> str:
        """The key of the order's notification card in ``channel``: the same for every redraw until a write of
        the order finishes (:meth:`Ledger.card_token`)."""
        return card_key(self._ledger.card_token(order_id), notification_place(channel))

    def posted_card_key(self, card: Card) -> str:
        """The key of another remembered card of the order (a shared one): the same for every redraw until a
        write of the order finishes."""
        return card_key(self._ledger.card_token(card.order_id), card_place(card))

    def list_key(self, order_id: str, user_id: str) -> str:
        """The key of the order's line in ``user_id``'s lists (``/order pending``, App Home): like a card's, the
        same for every re-render and page until a write of the order finishes, so a double press across a
        re-render is one intent."""
        return card_key(self._ledger.card_token(order_id), list_place(user_id))

    def status(self, order: Mapping[str, Any]) -> AckStatus | None:
        """The acknowledgement a card shows: the ledger's entry for the order; an order acknowledged in bulk (one
        ledger entry for the whole batch) shows who did it from the audit."""
        order_id = str(order["id"])
        entry = self._ledger.current(order_id)
        status = status_of(entry, order_id) if entry is not None else None
        if status is None and (order.get("order_status") or {}).get("state") in ACKNOWLEDGED_STATES:
            row = self._acknowledgement(order_id)
            if row is not None:
                status = AckStatus("succeeded", row.user_id, row.at, order.get("merchant_order_id"))
        return status

    def _acknowledgement(self, order_id: str) -> AuditRow | None:
        """The audit's successful acknowledgement of the order through orderdesk (one or in bulk), if any."""
        for row in self._store.audit_for_order(order_id, limit=50):
            if row.action in (ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS) and row.outcome == "succeeded":
                return row
        return None

    def _change(self, row: NotificationRow, order: Mapping[str, Any]) -> Change:
        """What changed since the card last showed the order, naming who acknowledged it through orderdesk."""
        before = json.loads(row.state_summary) if row.state_summary else None
        acknowledged = self._acknowledgement(row.order_id)
        return Change(row.order_id, before, order, acknowledged.user_id if acknowledged else None)

    def refresh(self, out: ChannelWriter, row: NotificationRow, ts: str, order: Mapping[str, Any]) -> None:
        """Redraw the order's card and say in its thread what changed."""
        change = self._change(row, order)
        out.update_card(row.channel, ts, order, self.status(order), self.card_key(row.order_id, row.channel))
        out.reply_change(row.channel, ts, change)
        self._store.set_notified_state(row.order_id, row.channel, snapshot(order))

    def refresh_digest(
        self, out: ChannelWriter, digest: DigestRow, changes: list[tuple[NotificationRow, dict[str, Any]]]
    ) -> None:
        """Redraw a digest from its orders as indexed now, and say in one threaded reply what changed."""
        if digest.ts is None:  # found by its ts, so it has one; a digest still being posted is drawn current
            return
        orders = [self.order(order_id) for order_id in digest.order_ids]
        out.update_digest(digest.channel, digest.ts, digest.id, orders)
        place = {order_id: n for n, order_id in enumerate(digest.order_ids)}  # lines in the digest's order
        ordered = sorted(changes, key=lambda change: place.get(change[0].order_id, len(place)))
        out.reply_changes(digest.channel, digest.ts, [self._change(row, order) for row, order in ordered])
        with self._store.transaction():
            for row, order in changes:
                self._store.set_notified_state(row.order_id, row.channel, snapshot(order))

    def recover_cards(self, out: ChannelWriter, channel: str, rows: list[NotificationRow]) -> None:
        found = out.posted_cards(channel, min(row.claimed_at for row in rows))
        for row in rows:
            ts = found.get(row.order_id)
            if ts is not None:
                self._complete(row.order_id, channel, ts, self.order(row.order_id))
            else:
                self.post_card(out, row.order_id, channel)

    def recover_digest(self, out: ChannelWriter, digest: DigestRow, since: float) -> None:
        ts = out.posted_digests(digest.channel, since).get(digest.id)
        if ts is None:
            self.post_digest(out, digest.id)
        else:
            self._complete_digest(digest.id, ts, [self.order(order_id) for order_id in digest.order_ids])
