"""The values the storage ports hand to callers, the same whichever backend produced them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
"""A ledger row or an acknowledgement waiter as stored: column name → value (``bot.actions.ledger`` reads them)."""


@dataclass(frozen=True)
class IndexedOrder:
    """An order as orderdesk last saw it: enough to find it by reference and to draw a cached card."""

    id: str
    merchant_ref: str | None
    state: str | None
    channel: str | None
    created: str | None
    last_updated: str | None
    data: dict[str, Any]
    seen_at: float


@dataclass(frozen=True)
class NotificationRow:
    """One announcement of an order in a channel; ``ts is None`` means claimed but not (known to be) posted."""

    order_id: str
    channel: str
    claimed_at: float
    ts: str | None
    posted_at: float | None
    state_summary: str | None


@dataclass(frozen=True)
class Card:
    """A message showing an order that the bot can update: by channel + ts, or (ephemeral) by response_url."""

    id: int
    order_id: str
    kind: str
    channel: str | None
    ts: str | None
    response_url: str | None
    created_at: float


@dataclass(frozen=True)
class DigestRow:
    """A digest message: the new orders it announced together; ``ts is None`` until posted."""

    id: str
    channel: str
    order_ids: tuple[str, ...]
    ts: str | None


@dataclass(frozen=True)
class AuditRow:
    """Who did what to which order, with the idempotency key and the outcome; never buyer data."""

    id: int
    at: float
    action: str
    order_id: str | None
    user_id: str
    team_id: str | None
    key: str | None
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class ReminderRow:
    """One reminder stage of an order: claimed at ``claimed_at`` under the message ``thread_ts``; ``ts`` is the
    reply once posted (None: claimed, not known to be posted)."""

    order_id: str
    stage: str
    channel: str
    thread_ts: str
    claimed_at: float
    ts: str | None


@dataclass(frozen=True)
class Snooze:
    """An order's latest snooze: no reminder for it before ``until``, set by ``user_id`` at ``at``."""

    order_id: str
    until: float
    user_id: str
    at: float


@dataclass(frozen=True)
class SummaryRow:
    """The daily summary for one local day: claimed at ``claimed_at``; ``ts`` once posted."""

    day: str
    channel: str
    claimed_at: float
    ts: str | None


@dataclass(frozen=True)
class HomeUser:
    """Someone who opened App Home: when, when their Home was last published, and their preferences."""

    user_id: str
    opened_at: float
    published_at: float | None
    dm_escalations: bool
    daily_summary: bool
