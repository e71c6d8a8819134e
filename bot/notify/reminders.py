"""Reminders that escalate, in the thread of the order's announcement, each exactly once per order and stage.

Two tracks of two stages each:

* acknowledgement, while the order is still ``CREATED``: ``remind`` at ``ORDERDESK_REMIND_AFTER`` after the
  announcement, ``escalate`` (mentioning ``ORDERDESK_ONCALL_GROUP``) at ``ORDERDESK_ESCALATE_AFTER`` after it;
* shipment, while nothing is shipped: ``ship_soon`` 24 h before the ``ship_by_date`` ends in
  ``ORDERDESK_TIMEZONE``, ``ship_overdue`` (mentioning the group) when it has ended.

An order that moves on (acknowledged, shipped, cancelled, completed) leaves the open announcements and gets no
more. A snoozed order gets none before its snooze ends; a stage that fell due during the snooze comes after it.
When a track's later stage is already due (the bot was down), only that one is posted and the earlier one is
recorded as passed over. Orders announced in one digest share one reply per stage in the digest's thread.

**Exactly once.** Each (order, stage) is claimed in the database before its reply is queued, as announcements
are; the reply carries message metadata naming its orders and stage and completes the claims with its ts. A claim
left unfinished by a crash is finished on the next run: completed if the thread has the reply, else posted then
(or passed over when its order moved on meanwhile). One runner per database (the ``reminders`` run lock), and
every reply goes through the channel's paced lane.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

from bot.config import Settings
from bot.domain.deadlines import deadline, deadlines, end_of_day, parse_ship_by
from bot.domain.order import edge_records, order_state
from bot.notify.ports import ChannelWriter, NotifyError, Outbox, Reminder
from bot.storage.ports import RunLockBusy, Storage
from bot.storage.rows import NotificationRow, ReminderRow

log = logging.getLogger(__name__)

REMIND, ESCALATE, SHIP_SOON, SHIP_OVERDUE = "remind", "escalate", "ship_soon", "ship_overdue"
TRACKS = ((REMIND, ESCALATE), (SHIP_SOON, SHIP_OVERDUE))
ESCALATIONS = frozenset({ESCALATE, SHIP_OVERDUE})
PASSED_OVER = "-"  # the ts recorded for a stage that was not posted (a later one was, or its order moved on)
OPEN_STATES = ("CREATED", "IN_PROGRESS")
PER_REPLY = 50  # orders listed in one reply (its Snooze buttons carry their ids)


class Reminders:
    """The reminder worker's passes (see the module's words)."""

    def __init__(
        self, settings: Settings, store: Storage, outbox: Outbox, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._store = store
        self._outbox = outbox
        self._clock = clock

    def stage_times(self, order: Mapping[str, Any], announced_at: float) -> dict[str, float]:
        """When each stage the order still has falls due (unix seconds); none for an order that moved on."""
        times: dict[str, float] = {}
        state = order_state(order)
        if state == "CREATED":
            times[REMIND] = announced_at + self._settings.remind_after_seconds
            times[ESCALATE] = announced_at + self._settings.escalate_after_seconds
        ship_by = parse_ship_by(order.get("ship_by_date"))
        if state in OPEN_STATES and ship_by is not None and not bool(edge_records(order.get("shipments"))):
            ends = end_of_day(ship_by, self._settings.zone)
            times[SHIP_SOON], times[SHIP_OVERDUE] = ends - 86_400, ends
        return times

    def run_in_service(self) -> int:
        try:
            with self._store.run_lock("reminders", wait=False):
                return self.run()
        except RunLockBusy:
            return 0

    def run(self) -> int:
        """One pass: finish what a crash left, then claim and post what fell due; the number of replies posted."""
        posted = self._recover()
        now = self._clock()
        batches: dict[tuple[str, str, str], list[tuple[str, float]]] = defaultdict(list)
        for row in self._store.open_announcements(OPEN_STATES):
            for stage in self._due(row, now):
                assert row.ts is not None
                batches[(row.channel, row.ts, stage)].append((row.order_id, row.posted_at or row.claimed_at))
        jobs: list[tuple[Future[object], list[str], str]] = []
        for (channel, thread_ts, stage), orders in batches.items():
            for start in range(0, len(orders), PER_REPLY):
                chunk = orders[start : start + PER_REPLY]
                reminder = self._reminder(stage, [order_id for order_id, _ in chunk], min(a for _, a in chunk), now)
                job = partial(self._post, channel=channel, thread_ts=thread_ts, reminder=reminder)
                jobs.append((self._outbox.submit(channel, job, self._on_error), [o for o, _ in chunk], stage))
        for future, _, _ in jobs:
            if future.exception() is None:
                posted += 1
        for (channel, thread_ts, stage), orders in batches.items():
            if stage in ESCALATIONS:
                self._direct(channel, thread_ts, stage, [order_id for order_id, _ in orders], now)
        return posted

    def _direct(self, channel: str, thread_ts: str, stage: str, order_ids: list[str], now: float) -> None:
        """A DM copy of an escalation for each user who asked for one on App Home: at most once per order, stage
        and user (the thread's reply is the record; a copy that fails is not sent again)."""
        for user in self._store.home_users_since(0):
            if not user.dm_escalations:
                continue
            copy = f"{stage}>{user.user_id}"
            claimed = [
                o for o in order_ids if self._store.claim_reminder(o, copy, channel=channel, thread_ts=thread_ts)
            ]
            if not claimed:
                continue
            reminder = self._reminder(stage, claimed, now, now)
            job = partial(self._post_direct, user_id=user.user_id, channel=channel, reminder=reminder, copy=copy)
            self._outbox.submit(f"dm:{user.user_id}", job, self._on_error).exception()

    def _post_direct(self, out: ChannelWriter, user_id: str, channel: str, reminder: Reminder, copy: str) -> None:
        try:
            ts = out.post_direct(user_id, reminder, channel)
        except NotifyError:
            ts = PASSED_OVER
        for order_id, _ in reminder.orders:
            self._store.complete_reminder(order_id, copy, ts)

    def _due(self, row: NotificationRow, now: float) -> list[str]:
        """The stages of the announced order to post now, claimed; earlier stages of a track passed over."""
        snooze = self._store.snoozed(row.order_id)
        if snooze is not None and snooze.until > now:
            return []
        indexed = self._store.get_order(row.order_id)
        if indexed is None or row.ts is None:
            return []
        times = self.stage_times(indexed.data, row.posted_at or row.claimed_at)
        claimed = {r.stage for r in self._store.reminders_for(row.order_id) if ">" not in r.stage}
        due: list[str] = []
        for track in TRACKS:
            fallen = [stage for stage in track if stage in times and times[stage] <= now and stage not in claimed]
            if not fallen:
                continue
            for earlier in fallen[:-1]:
                if self._store.claim_reminder(row.order_id, earlier, channel=row.channel, thread_ts=row.ts):
                    self._store.complete_reminder(row.order_id, earlier, PASSED_OVER)
            if self._store.claim_reminder(row.order_id, fallen[-1], channel=row.channel, thread_ts=row.ts):
                due.append(fallen[-1])
        return due

    def _reminder(self, stage: str, order_ids: Sequence[str], announced_at: float, now: float) -> Reminder:
        kind = "ship_by" if stage in (SHIP_SOON, SHIP_OVERDUE) else None
        orders = []
        for order_id in order_ids:
            indexed = self._store.get_order(order_id)
            clock = None
            if indexed is not None:  # a shipping reminder shows the ship-by clock, an ack one the nearest deadline
                clocks = deadlines(indexed.data, now, self._settings.zone)
                clock = next((c for c in clocks if c.kind == kind), None) or deadline(
                    indexed.data, now, self._settings.zone
                )
            orders.append((order_id, clock))
        group = self._settings.oncall_group if stage in ESCALATIONS else None
        return Reminder(stage, tuple(orders), group, announced_at)

    def _post(self, out: ChannelWriter, channel: str, thread_ts: str, reminder: Reminder) -> None:
        ts = out.post_reminder(channel, thread_ts, reminder)
        with self._store.transaction():
            for order_id, _ in reminder.orders:
                self._store.complete_reminder(order_id, reminder.stage, ts)

    def _on_error(self, message: str) -> None:
        log.warning("a reminder could not be posted yet: %s", message)

    def _recover(self) -> int:
        """Claims a crash left unfinished: complete those the thread has, post (or pass over) the others."""
        unfinished = self._store.unfinished_reminders()
        if not unfinished:
            return 0
        threads: dict[tuple[str, str], list[ReminderRow]] = defaultdict(list)
        for row in unfinished:
            if ">" in row.stage:  # a DM copy a crash interrupted: at most once, so it is not sent again
                self._store.complete_reminder(row.order_id, row.stage, PASSED_OVER)
                continue
            threads[(row.channel, row.thread_ts)].append(row)
        jobs = [
            self._outbox.submit(channel, partial(self._recover_thread, rows=rows), self._on_error)
            for (channel, _), rows in threads.items()
        ]
        # Only the replies posted now count: a claim completed from the thread's history posted nothing.
        results = [job.result() for job in jobs if job.exception() is None]
        return sum(result for result in results if isinstance(result, int))

    def _recover_thread(self, out: ChannelWriter, rows: list[ReminderRow]) -> int:
        """Finish one thread's unfinished claims; the number of replies posted."""
        channel, thread_ts = rows[0].channel, rows[0].thread_ts
        found = out.posted_reminders(channel, thread_ts)
        now = self._clock()
        stages: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            ts = found.get((row.order_id, row.stage))
            indexed = self._store.get_order(row.order_id)
            still = indexed is not None and row.stage in self.stage_times(indexed.data, row.claimed_at)
            if ts is not None or not still:
                self._store.complete_reminder(row.order_id, row.stage, ts or PASSED_OVER)
            else:
                stages[row.stage].append(row.order_id)
        for stage, order_ids in stages.items():
            self._post(out, channel, thread_ts, self._reminder(stage, order_ids, rows[0].claimed_at, now))
        return len(stages)
