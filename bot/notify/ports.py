"""What the poller needs from the chat it announces into, as ports: paced per-channel queues of writes.

The poller decides (what to announce, refresh or recover); an :class:`Outbox` (the Slack publisher) carries it
out one channel at a time, giving each job a :class:`ChannelWriter` whose calls are paced and retried. A call that
keeps failing raises :class:`NotifyError` to the job, whose work then stays unfinished for the next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from bot.actions.status import AckStatus
from bot.domain.deadlines import Clock
from bot.storage.rows import Card


class NotifyError(Exception):
    """A chat call that kept failing; what it was for stays unfinished and is tried again later."""


@dataclass(frozen=True)
class Change:
    """An order as a card last showed it (``before``, shaped like an order) and as it is now, and who
    acknowledged it through orderdesk, if anyone: what a threaded reply says changed."""

    order_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]
    acknowledged_by: str | None


@dataclass(frozen=True)
class Reminder:
    """One threaded reminder (:mod:`bot.notify.reminders`): its stage, the orders still waiting (each with its
    deadline clock), the user group an escalation mentions, and when the orders were announced."""

    stage: str
    orders: tuple[tuple[str, Clock | None], ...]
    group: str | None
    announced_at: float


@dataclass(frozen=True)
class Summary:
    """The daily summary (:mod:`bot.notify.summary`) of the local ``day``, over ``[start, end)`` (unix seconds):
    orders new in it, and those whose last change in it left them acknowledged, shipped, cancelled or refunded;
    and the orders overdue now (the most urgent first, at most a screenful, with ``overdue_count`` in all)."""

    day: str
    start: float
    end: float
    new: int
    acknowledged: int
    shipped: int
    cancelled: int
    refunded: int
    overdue: tuple[tuple[str, Clock], ...]
    overdue_count: int


class ChannelWriter(Protocol):
    """One channel's writes and reads, each paced and retried. Posts return the message's timestamp."""

    def post_card(self, channel: str, order: Mapping[str, Any], status: AckStatus | None, key: str) -> str:
        """Post an order's card, marked (message metadata) as that order's, so recovery can find it."""
        ...

    def update_card(
        self, channel: str, ts: str, order: Mapping[str, Any], status: AckStatus | None, key: str
    ) -> None: ...

    def update_posted_card(self, card: Card, order: Mapping[str, Any], status: AckStatus | None, key: str) -> None:
        """Redraw a remembered channel card (``channel`` and ``ts`` set) as its kind draws it (a shared card as
        shared, crediting its sharer)."""
        ...

    def post_digest(self, channel: str, digest_id: str, orders: Sequence[Mapping[str, Any]]) -> str:
        """Post one message for a burst of new orders, marked as that digest's."""
        ...

    def update_digest(self, channel: str, ts: str, digest_id: str, orders: Sequence[Mapping[str, Any]]) -> None: ...

    def reply_change(self, channel: str, ts: str, change: Change) -> None:
        """Say in the card's thread what changed; nothing when nothing worth saying did."""
        ...

    def reply_changes(self, channel: str, ts: str, changes: Sequence[Change]) -> None:
        """Say in a digest's thread, in one reply, what changed, one line per order; nothing when nothing did."""
        ...

    def posted_cards(self, channel: str, since: float) -> dict[str, str]:
        """Our cards in the channel posted since ``since``: order id → ts."""
        ...

    def posted_digests(self, channel: str, since: float) -> dict[str, str]:
        """Our digests in the channel posted since ``since``: digest id → ts."""
        ...

    def post_reminder(self, channel: str, thread_ts: str, reminder: Reminder) -> str:
        """Reply in the thread with a reminder (and its Snooze buttons), marked with its orders and stage."""
        ...

    def posted_reminders(self, channel: str, thread_ts: str) -> dict[tuple[str, str], str]:
        """Our reminders in the thread: (order id, stage) → the reply's ts."""
        ...

    def post_direct(self, user_id: str, reminder: Reminder, channel: str) -> str:
        """Send ``user_id`` a copy of an escalation posted in ``channel``, in their DM with the app."""
        ...

    def post_summary(self, channel: str, summary: Summary) -> str:
        """Post the daily summary, marked with its day."""
        ...

    def post_summary_direct(self, user_id: str, summary: Summary) -> str:
        """Send ``user_id`` a copy of the daily summary in their DM with the app."""
        ...

    def posted_summaries(self, channel: str, since: float) -> dict[str, str]:
        """Our daily summaries in the channel posted since ``since``: day → ts."""
        ...


Job = Callable[[ChannelWriter], object]
OnError = Callable[[str], None]


class Outbox(Protocol):
    """Paced queues of jobs, one per channel; each failed call is reported to ``on_error``."""

    def submit(self, channel: str, job: Job, on_error: OnError) -> Future[object]: ...

    def __len__(self) -> int:
        """Jobs queued and not yet done."""
        ...
