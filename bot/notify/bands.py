"""Posted cards whose deadline band changed are redrawn, and no others.

A channel card shows its deadline in a form that stays true until the urgency band changes (later → soon →
overdue, see :mod:`bot.domain.deadlines`). This job compares each open card's band now with the band it was last
drawn with (stored per card), and redraws through the channel's lane only the cards whose band moved: a queue of
hundreds of orders costs a ``chat.update`` per band change, within Slack's pace, never one per pass. A digest is
redrawn once for all its orders that moved. The band is recorded after Slack took the redraw, so a failure is
tried again on the next pass.

Cards posted in a channel by other paths ("Share in channel", and any remembered channel card that is neither a
notification nor an ephemeral lookup) draw the same stable clock, so they are walked too: every such card of an
open order, its band recorded per message (``<channel>/<ts>`` in place of the channel, as one order can be shared
several times in one channel), and redrawn as its kind draws it. Link unfurls are not remembered: they draw a
clock without a band instead (:mod:`handlers.unfurl`).

One runner per database (the ``card-bands`` run lock): two ``serve`` processes never redraw a card twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import tzinfo
from functools import partial

from bot.actions.ledger import Ledger
from bot.actions.status import CARD_LOOKUP, CARD_NOTIFICATION
from bot.domain.deadlines import deadline
from bot.notify.announce import Announcer
from bot.notify.ports import ChannelWriter, Outbox
from bot.storage.ports import RunLockBusy, Storage
from bot.storage.rows import Card, NotificationRow

log = logging.getLogger(__name__)

OPEN_STATES = ("FB_PROCESSING", "CREATED", "IN_PROGRESS")
NO_DEADLINE = "none"  # the band recorded for a card that shows no clock


class BandRefresher:
    """One pass redraws the open cards whose band changed since they were drawn; returns how many it queued."""

    def __init__(self, store: Storage, outbox: Outbox, zone: tzinfo, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._outbox = outbox
        self._zone = zone
        self._clock = clock
        self._announcer = Announcer(store, Ledger(store, clock=clock))

    def band_at(self, order_id: str, at: float) -> str:
        clock = deadline(self._announcer.order(order_id), at, self._zone)
        return clock.band if clock is not None else NO_DEADLINE

    def run_in_service(self) -> int:
        """The worker: skip this turn when another process is refreshing the same database."""
        try:
            with self._store.run_lock("card_bands", wait=False):
                return self.refresh()
        except RunLockBusy:
            return 0

    def refresh(self) -> int:
        now = self._clock()
        cards: list[tuple[NotificationRow, str]] = []
        digests: dict[str, list[tuple[NotificationRow, str]]] = defaultdict(list)
        for row in self._store.open_announcements(OPEN_STATES):
            band = self.band_at(row.order_id, now)
            shown = self._store.shown_band(row.order_id, row.channel)
            if shown is None:  # drawn when posted (the poller's redraws since then drew the band of their time)
                shown = self.band_at(row.order_id, row.posted_at or row.claimed_at)
                self._store.set_shown_band(row.order_id, row.channel, shown)
            if shown == band or row.ts is None:
                continue
            digest = self._store.digest_at(row.channel, row.ts)
            if digest is not None:
                digests[digest.id].append((row, band))
            else:
                cards.append((row, band))
        # (future, [(order id, where the band is recorded, band)]) per redraw queued
        jobs: list[tuple[Future[object], list[tuple[str, str, str]]]] = []
        for row, band in cards:
            future = self._outbox.submit(row.channel, partial(self._redraw_card, row=row), self._on_error)
            jobs.append((future, [(row.order_id, row.channel, band)]))
        for digest_id, rows in digests.items():
            channel = rows[0][0].channel
            future = self._outbox.submit(channel, partial(self._redraw_digest, digest_id=digest_id), self._on_error)
            jobs.append((future, [(row.order_id, row.channel, band) for row, band in rows]))
        for card, band in self._moved_channel_cards(now):
            assert card.channel is not None
            future = self._outbox.submit(card.channel, partial(self._redraw_posted, card=card), self._on_error)
            jobs.append((future, [(card.order_id, _place(card), band)]))
        for future, moved in jobs:
            if future.exception() is not None:
                continue  # the band stays as shown: the next pass tries again
            for order_id, place, band in moved:
                self._store.set_shown_band(order_id, place, band)
        return len(jobs)

    def _moved_channel_cards(self, now: float) -> list[tuple[Card, str]]:
        """Shared (and other remembered channel) cards of open orders whose band changed since they were drawn."""
        moved = []
        for state in OPEN_STATES:
            for indexed in self._store.orders_in_state(state):
                for card in self._store.cards_for_order(indexed.id):
                    if card.kind in (CARD_LOOKUP, CARD_NOTIFICATION) or not card.channel or not card.ts:
                        continue
                    band = self.band_at(card.order_id, now)
                    shown = self._store.shown_band(card.order_id, _place(card))
                    if shown is None:  # drawn when shared
                        shown = self.band_at(card.order_id, card.created_at)
                        self._store.set_shown_band(card.order_id, _place(card), shown)
                    if shown != band:
                        moved.append((card, band))
        return moved

    def _on_error(self, message: str) -> None:
        log.warning("could not redraw a card whose deadline band changed: %s", message)

    def _redraw_card(self, out: ChannelWriter, row: NotificationRow) -> None:
        assert row.ts is not None
        order = self._announcer.order(row.order_id)
        out.update_card(
            row.channel,
            row.ts,
            order,
            self._announcer.status(order),
            self._announcer.card_key(row.order_id, row.channel),
        )

    def _redraw_posted(self, out: ChannelWriter, card: Card) -> None:
        order = self._announcer.order(card.order_id)
        out.update_posted_card(card, order, self._announcer.status(order), self._announcer.posted_card_key(card))

    def _redraw_digest(self, out: ChannelWriter, digest_id: str) -> None:
        digest = self._store.get_digest(digest_id)
        if digest is None or digest.ts is None:
            return
        orders = [self._announcer.order(order_id) for order_id in digest.order_ids]
        out.update_digest(digest.channel, digest.ts, digest.id, orders)


def _place(card: Card) -> str:
    """Where a remembered channel card's band is recorded: per message, since an order may be shared often."""
    return f"{card.channel}/{card.ts}"
