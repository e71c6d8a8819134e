"""The daily summary: at ``ORDERDESK_SUMMARY_AT`` (local time in ``ORDERDESK_TIMEZONE``) one message in the notify
channel with the last day's new, acknowledged, shipped, cancelled and refunded orders and what is overdue now.

"The last day" runs from the previous day's summary time to today's, in local time: 23 or 25 hours across a
daylight-saving change, and the summary still comes at 09:00 on the wall clock. It is posted on a day with
nothing to report too, so a silent failure shows as a missing message. A bot that was down at the time posts it
when it starts, later that same local day.

**Exactly once per day**: the day is claimed in the database before the message is queued; the message carries
metadata naming its day, and a claim left unfinished by a crash is completed from the channel's history, or
posted then. One runner per database (the ``daily-summary`` run lock), through the channel's paced lane.

Users who turned "Daily summary in my DMs" on in App Home get a copy there, at most once per day each.

The counts come from orderdesk's index: an order counts under what its last change in the day left it (a day's
acknowledgement followed by a shipment the same day counts as shipped).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial

from bot.config import Settings
from bot.domain.deadlines import parse_created
from bot.domain.order import edge_records, order_state
from bot.notify.ports import ChannelWriter, NotifyError, Outbox, Summary
from bot.notify.queue import waiting_orders
from bot.storage.ports import RunLockBusy, Storage

log = logging.getLogger(__name__)

OVERDUE_SHOWN = 15


class DailySummary:
    """The summary worker (see the module's words)."""

    def __init__(
        self, settings: Settings, store: Storage, outbox: Outbox, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._store = store
        self._outbox = outbox
        self._clock = clock

    def fire_time(self, day: date) -> float:
        """When the summary of the local ``day`` is due: ``ORDERDESK_SUMMARY_AT`` on that day there."""
        hours, minutes = (int(part) for part in (self._settings.summary_at or "00:00").split(":"))
        return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=self._settings.zone).timestamp()

    def run_in_service(self) -> bool:
        try:
            with self._store.run_lock("daily_summary", wait=False):
                return self.run()
        except RunLockBusy:
            return False

    def run(self) -> bool:
        """Post today's summary if it is due and nobody has: True when this call posted it."""
        channel = self._settings.notify_channel
        if not self._settings.summary_at or not channel:
            return False
        self._recover(channel)
        now = self._clock()
        today = datetime.fromtimestamp(now, self._settings.zone).date()
        if now < self.fire_time(today) or not self._store.claim_summary(today.isoformat(), channel):
            return False
        summary = self.compose(today, now)
        future = self._outbox.submit(channel, partial(self._post, channel=channel, summary=summary), self._on_error)
        return future.exception() is None

    def compose(self, day: date, now: float) -> Summary:
        start, end = self.fire_time(day - timedelta(days=1)), self.fire_time(day)
        counts = {"new": 0, "acknowledged": 0, "shipped": 0, "cancelled": 0, "refunded": 0}
        for indexed in self._store.orders_updated_since(start):
            order = indexed.data
            created = parse_created(order.get("created"))
            if created is not None and start <= created < end:
                counts["new"] += 1
            updated = parse_created(order.get("last_updated"))
            if updated is None or not start <= updated < end:
                continue
            if bool(edge_records(order.get("refunds"))):
                counts["refunded"] += 1
            elif bool(edge_records(order.get("cancellations"))):
                counts["cancelled"] += 1
            elif bool(edge_records(order.get("shipments"))):
                counts["shipped"] += 1
            elif order_state(order) == "IN_PROGRESS":
                counts["acknowledged"] += 1
        overdue = [
            (entry.order_id, entry.clock)
            for entry in waiting_orders(self._store, now, self._settings.zone)
            if entry.clock is not None and entry.clock.band == "overdue"
        ]
        return Summary(
            day.isoformat(), start, end, **counts, overdue=tuple(overdue[:OVERDUE_SHOWN]), overdue_count=len(overdue)
        )

    def _post(self, out: ChannelWriter, channel: str, summary: Summary) -> None:
        self._store.complete_summary(summary.day, out.post_summary(channel, summary))
        for user in self._store.home_users_since(0):
            copy = f"{summary.day}>{user.user_id}"  # at most once per day and user
            if user.daily_summary and self._store.claim_summary(copy, user.user_id):
                try:
                    ts = out.post_summary_direct(user.user_id, summary)
                except NotifyError:
                    ts = "-"
                self._store.complete_summary(copy, ts)

    def _on_error(self, message: str) -> None:
        log.warning("the daily summary could not be posted yet: %s", message)

    def _recover(self, channel: str) -> None:
        for row in self._store.unfinished_summaries():
            if ">" in row.day:  # a DM copy a crash interrupted: at most once, so it is not sent again
                self._store.complete_summary(row.day, "-")
                continue
            job = partial(self._recover_one, day=row.day, channel=row.channel, since=row.claimed_at)
            self._outbox.submit(row.channel or channel, job, self._on_error).exception()

    def _recover_one(self, out: ChannelWriter, day: str, channel: str, since: float) -> None:
        ts = out.posted_summaries(channel, since).get(day)
        if ts is not None:
            self._store.complete_summary(day, ts)
            return
        local = date.fromisoformat(day)
        self._post(out, channel, self.compose(local, max(self._clock(), self.fire_time(local))))
