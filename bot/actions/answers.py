"""What the actions engine answers the people who asked: domain values, drawn into messages by the Slack edge.

Every answer names facts (orders, references, statuses, results), never markup, so the same answer could be shown
by any surface. :func:`bot.slack.publisher.answer_blocks` draws them for Slack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.actions.status import AckStatus
from bot.storage.sqlite.store import AuditRow


@dataclass(frozen=True)
class Requester:
    """Whom to answer, and how: the request's ``response_url``, else an ephemeral message in ``channel_id``."""

    user_id: str
    channel_id: str | None
    response_url: str | None
    order_id: str | None = None
    view_id: str | None = None  # the modal the request came from, which shows the answer while it is open


@dataclass(frozen=True)
class Outcome:
    """Where an order's write stands (``waiting``: it is in flight and the requester is told the end later)."""

    order_id: str
    status: AckStatus
    waiting: bool = False


@dataclass(frozen=True)
class KeyConflict:
    """The card's idempotency key was already used for another order: nothing was sent."""

    order_id: str


@dataclass(frozen=True)
class ReferenceTaken:
    """Another order's live claim has reserved the merchant reference: nothing was sent."""

    reference: str
    holder_order_id: str


@dataclass(frozen=True)
class NothingToRetry:
    """A Retry whose key the ledger does not know."""

    order_id: str


@dataclass(frozen=True)
class NotShown:
    """A button naming an order orderdesk never showed: nothing built from it may reach Meta."""

    order_id: str


@dataclass(frozen=True)
class NotAllowed:
    """The requester may not write to Meta: not in the allowed list, or from another workspace."""

    allowed: tuple[str, ...]
    other_workspace: bool
    group_names: Mapping[str, str] = field(default_factory=dict)
    verb: str = "acknowledge"  # what was refused, as a verb: "acknowledge", "ship", "cancel", "refund"
    setting: str = "ORDERDESK_ACK_ALLOWED"  # the list that would allow it (named when nobody is on it)


@dataclass(frozen=True)
class ActionOutcome:
    """Where a card action's write stands (a shipment, a tracking update, a cancellation, a refund).

    ``summary`` says what it does in words ("Shipped 2 items with UPS 1Z…"); ``message``, ``code`` and
    ``subcode`` say why it failed; ``waiting``: it is in flight and the requester is told the end later.
    """

    order_id: str
    operation: str
    state: str  # "pending", "succeeded", "failed" (fix and try again), "retryable", "given_up"
    user_id: str
    summary: str
    key: str
    message: str | None = None
    code: int | None = None
    subcode: int | None = None
    next_try: float | None = None
    waiting: bool = False
    approver: str | None = None


@dataclass(frozen=True)
class ActionConflict:
    """The card's key was already used for a different write of this kind: nothing was sent to Meta."""

    order_id: str
    noun: str  # "shipment", "cancellation", ...


@dataclass(frozen=True)
class WriteBusy:
    """Another write to the order (another card's) is in flight or being retried: nothing was sent."""

    order_id: str
    operation: str
    user_id: str
    state: str


@dataclass(frozen=True)
class BatchResults:
    """Per-order results of a bulk acknowledgement (Meta's results, with ``already`` for orders done before)."""

    results: Sequence[Mapping[str, Any]]
    user_id: str


@dataclass(frozen=True)
class History:
    """An order's audit trail, newest first."""

    order_id: str
    rows: Sequence[AuditRow]


@dataclass(frozen=True)
class HistoryUsage:
    """``history`` without an order to show."""


@dataclass(frozen=True)
class UnknownOrder:
    """No order is known by the id or reference asked for."""

    query: str


Answer = (
    Outcome
    | KeyConflict
    | ReferenceTaken
    | NothingToRetry
    | NotShown
    | NotAllowed
    | BatchResults
    | History
    | HistoryUsage
    | UnknownOrder
    | ActionOutcome
    | ActionConflict
    | WriteBusy
)
