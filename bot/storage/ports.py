"""The storage ports: one Protocol per aggregate, the contract every storage backend implements.

Callers type their storage parameter with the narrowest port that covers what they use, and the contract suite in
``tests/storage`` checks any backend against them. Each method says what it promises; how it keeps the promise
(which SQL, which locks) is the backend's business. Every "exactly once" decision is made by the database (a claim
is an insert that either wins or changes nothing), never in one process's memory, so several processes may share
one backend.

``bot.storage.sqlite.store.Store`` implements every port; a test helper there has mypy check it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from bot.storage.rows import (
    AuditRow,
    Card,
    DigestRow,
    HomeUser,
    IndexedOrder,
    NotificationRow,
    ReminderRow,
    Row,
    Snooze,
    SummaryRow,
)


class Transaction(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside the block, through any port of the same store, commit together or not at all; a nested
        block's failure that the caller catches undoes only the nested block's writes."""
        ...


class OrderIndex(Protocol):
    """What orderdesk last saw of each order (without buyer PII), and which references the lookup scan looked for."""

    def upsert_order(self, order: Mapping[str, Any]) -> None:
        """Index a Graph order (any field selection with ``id``): a partial read fills gaps and erases nothing; a
        read older (``last_updated``) than the stored one changes nothing. A read with buyer fields also replaces
        the order's entries in the :class:`BuyerIndex`, in the same transaction, when the store has a search key."""
        ...

    def upsert_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """:meth:`upsert_order` for many, in one transaction; the iterable is consumed lazily."""
        ...

    def get_order(self, order_id: str) -> IndexedOrder | None: ...

    def orders_in_state(self, state: str) -> list[IndexedOrder]:
        """Orders last seen in ``state``, oldest (``created``) first."""
        ...

    def orders_updated_since(self, since: float) -> Iterator[IndexedOrder]:
        """Orders whose last update (Meta's ``last_updated``) is at or after ``since`` (unix time), oldest update
        first, read as the caller iterates: an export of any size holds one order at a time."""
        ...

    def find_by_reference(self, reference: str) -> list[str]:
        """Order ids with this merchant reference: the exact matches if any, else the case-insensitive ones."""
        ...

    def reference_owner(self, reference: str, *, other_than: str | None = None) -> str | None:
        """An order other than ``other_than`` using this reference, compared case-insensitively."""
        ...

    def set_reference(self, order_id: str, reference: str) -> None:
        """The reference an order was acknowledged with (indexing the order if it was not yet)."""
        ...

    def set_order_state(self, order_id: str, state: str) -> None:
        """A state orderdesk caused itself, recorded before Meta's next read shows it."""
        ...

    def record_scan(self, reference: str, found: bool) -> None: ...

    def scanned_recently(self, reference: str, within_seconds: float) -> bool:
        """True when :meth:`record_scan` saw this reference (any case) within the last ``within_seconds``."""
        ...


class LedgerRows(Protocol):
    """The idempotency ledger's rows, the order locks live claims hold, and who waits for a claim's outcome.

    ``bot.actions.ledger`` gives these their meaning. Rows are the stored columns by name.
    """

    def ledger_insert(self, row: Mapping[str, Any]) -> bool:
        """Insert the claim unless its key exists, and commit: True iff this call inserted it."""
        ...

    def ledger_get(self, key: str) -> Row | None: ...

    def ledger_take_over(self, key: str, *, now: float, lease_expires_at: float) -> Row | None:
        """Re-open a pending row whose lease expired before ``now``, or a retryable failure: the row iff this
        caller won it."""
        ...

    def ledger_mark_succeeded(self, key: str, *, response: str, now: float) -> Row | None:
        """Pending or failed → succeeded; None when already succeeded or unknown."""
        ...

    def ledger_mark_failed(
        self, key: str, *, error: str, retryable: bool, now: float, next_attempt_at: float | None, gave_up: bool
    ) -> Row | None:
        """Pending → failed; None when the row is not pending."""
        ...

    def ledger_for_order(self, order_id: str, operation: str) -> list[Row]:
        """The order's rows of this operation, newest first."""
        ...

    def ledger_holding(self, order_id: str) -> Row | None:
        """The row whose claim holds the order's lock, if any."""
        ...

    def ledger_due(self, *, now: float) -> list[Row]:
        """Pending rows whose lease expired before ``now`` and retryable failures due by ``now``, oldest first."""
        ...

    def lock_order(self, order_id: str, key: str, reference: str | None) -> bool:
        """Lock the order for ``key``, reserving ``reference`` (any case) with it; True iff ``key`` holds it now."""
        ...

    def lock_holder(self, order_id: str) -> str | None: ...

    def reference_holder(self, reference: str) -> tuple[str, str] | None:
        """``(order id, key)`` of the lock reserving this reference (any case), if any."""
        ...

    def unlock(self, key: str, order_ids: Iterable[str] | None = None) -> None:
        """Free the orders ``key`` holds (all, or those named); other keys' locks stay."""
        ...

    def add_waiter(
        self, key: str, *, order_id: str, user_id: str, channel: str | None, response_url: str | None
    ) -> None: ...

    def take_waiters(self, key: str) -> list[Row]:
        """Remove and return ``key``'s waiters (order_id, user_id, channel, response_url): each goes to one caller."""
        ...


class Notifications(Protocol):
    """Each order announced once per channel, and digests announcing several new orders in one message."""

    def claim_notification(self, order_id: str, channel: str) -> bool:
        """True for the one caller that should announce the order in the channel."""
        ...

    def complete_notification(self, order_id: str, channel: str, ts: str) -> None: ...

    def set_notified_state(self, order_id: str, channel: str, state_summary: str) -> None: ...

    def get_notification(self, order_id: str, channel: str) -> NotificationRow | None: ...

    def unfinished_notifications(self) -> list[NotificationRow]:
        """Claimed but never completed, oldest claim first."""
        ...

    def notifications_for_order(self, order_id: str) -> list[NotificationRow]: ...

    def claim_digest(self, digest_id: str, channel: str, order_ids: Iterable[str]) -> list[str]:
        """Claim the orders' notifications for one digest, in one transaction: the orders this call claimed."""
        ...

    def complete_digest(self, digest_id: str, ts: str, states: Mapping[str, str]) -> None:
        """The digest was posted at ``ts``: complete it and each order's notification with its summary; raises
        ``KeyError`` for an unknown digest."""
        ...

    def get_digest(self, digest_id: str) -> DigestRow | None: ...

    def digest_at(self, channel: str, ts: str) -> DigestRow | None: ...

    def unfinished_digests(self) -> list[DigestRow]:
        """Digests not yet posted, in the order they were claimed."""
        ...


class Cards(Protocol):
    """The messages showing an order that the bot keeps current."""

    def remember_card(
        self, order_id: str, *, channel: str | None, ts: str | None, response_url: str | None, kind: str
    ) -> None:
        """Remember a message by channel + ts, or by response_url (``ValueError`` without either); twice is once."""
        ...

    def cards_for_order(self, order_id: str) -> list[Card]:
        """The order's cards, oldest first."""
        ...


class Audit(Protocol):
    """Who did what to which order; never buyer data."""

    def add_audit(
        self,
        *,
        action: str,
        order_id: str | None,
        user_id: str,
        team_id: str | None = None,
        key: str | None = None,
        outcome: str,
        detail: str | None = None,
        at: float | None = None,
    ) -> None: ...

    def audit_for_order(self, order_id: str, *, limit: int = 100) -> list[AuditRow]:
        """The order's audit trail, newest first."""
        ...


class KeyValue(Protocol):
    """Named values that outlive a process (the poller's watermark, last poll, last error)."""

    def get_state(self, name: str) -> str | None: ...

    def set_state(self, name: str, value: str) -> None: ...


class RunLockBusy(Exception):
    """The run lock ``name`` is held by another runner (another process, or another thread) on ``scope``, the
    database the lock belongs to."""

    def __init__(self, name: str, scope: str) -> None:
        self.name = name
        self.scope = scope
        super().__init__(f"the {name} lock on {scope} is held by another runner")


class RunLock(Protocol):
    """Single-runner jobs: one holder of a named lock at a time per database, across processes. A holder that dies
    loses the lock."""

    def run_lock(self, name: str, *, wait: bool = True) -> AbstractContextManager[None]:
        """Hold the lock ``name`` for the block: wait for it, or with ``wait=False`` raise :class:`RunLockBusy` at
        once when another runner holds it."""
        ...


class UnfurlReads(Protocol):
    """When an order was last read from Meta to unfurl a link (Slack sends several events for one posted link)."""

    def claim_unfurl_read(self, order_id: str, *, within_seconds: float) -> bool:
        """True for the one caller that should read the order now: no claim for it within the last
        ``within_seconds``. The winner's claim starts a new window; a loser changes nothing."""
        ...

    def release_unfurl_read(self, order_id: str) -> None:
        """Give back the winner's claim after its read failed (Meta did not answer, or rate limited), so the next
        event for the order may read it instead of unfurling nothing for the rest of the window."""
        ...


class BuyerIndex(Protocol):
    """Keyed hashes of each order's buyer email, phone and name tokens (``bot.domain.buyer_search``), written by
    :meth:`OrderIndex.upsert_order`; never the values."""

    def buyers_matching(self, kind: str, hashes: Sequence[str], *, since: float, limit: int = 50) -> list[str]:
        """Ids of orders updated at or after ``since`` whose buyer has every one of ``hashes`` of this kind (an
        email, a phone, or all of a name's tokens), most recently updated first, at most ``limit``."""
        ...


class BuyerCoverage(Protocol):
    """Which spans of last-update time a scan of Meta has read with buyer fields: every order whose last update
    (unix seconds) fell in a covered span when it was read is in the :class:`BuyerIndex`, so a search reads only
    the rest of its window from Meta. Reads without buyer fields (the poller's) cover nothing."""

    def covered_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """The covered spans overlapping ``[start, end)``, clipped to it, oldest first; spans that overlap or touch
        come back as one."""
        ...

    def add_covered_span(self, start: float, end: float) -> None:
        """Remember ``[start, end)`` as covered, merged with every span it overlaps or touches; an empty or
        reversed span changes nothing."""
        ...

    def forget_buyer_index(self) -> int:
        """Drop every buyer hash and every covered span, in one transaction (after the search key changed, the
        hashes match nothing): how many orders had hashes."""
        ...


class OnCall(Protocol):
    """The on-call helpers' state: the urgency band each posted card shows, one claim per order and reminder
    stage, and each order's latest snooze."""

    def open_announcements(self, states: Iterable[str]) -> list[NotificationRow]:
        """Posted notifications (``ts`` set) whose order was last seen in one of ``states``, oldest post first."""
        ...

    def shown_band(self, order_id: str, channel: str) -> str | None:
        """The urgency band the order's card in the channel was last drawn with; None if never recorded."""
        ...

    def set_shown_band(self, order_id: str, channel: str, band: str) -> None: ...

    def claim_reminder(self, order_id: str, stage: str, *, channel: str, thread_ts: str) -> bool:
        """True for the one caller that should post this stage's reminder for the order, ever."""
        ...

    def complete_reminder(self, order_id: str, stage: str, ts: str) -> None:
        """The claimed reminder was posted as the reply ``ts``."""
        ...

    def reminders_for(self, order_id: str) -> list[ReminderRow]:
        """The order's claimed reminders, oldest claim first."""
        ...

    def unfinished_reminders(self) -> list[ReminderRow]:
        """Reminders claimed and not known to be posted (a crash between claim and post), oldest first."""
        ...

    def snooze(self, order_id: str, *, until: float, user_id: str) -> None:
        """No reminders for the order before ``until``; replaces an earlier snooze (the latest click wins)."""
        ...

    def snoozed(self, order_id: str) -> Snooze | None: ...


class Summaries(Protocol):
    """The daily summary: one claim per local day, whoever runs it."""

    def claim_summary(self, day: str, channel: str) -> bool:
        """True for the one caller that should post the summary of ``day`` (a local ``YYYY-MM-DD``)."""
        ...

    def complete_summary(self, day: str, ts: str) -> None: ...

    def get_summary(self, day: str) -> SummaryRow | None: ...

    def unfinished_summaries(self) -> list[SummaryRow]:
        """Claimed and not known to be posted (a crash between claim and post), oldest day first."""
        ...


class HomeUsers(Protocol):
    """Who opened App Home and when, their preferences, and when their Home was last published."""

    def home_opened(self, user_id: str) -> None: ...

    def claim_home_publish(self, user_id: str, *, every_seconds: float) -> bool:
        """True for the one caller that should publish the user's Home now: never published, or not within the
        last ``every_seconds``; False for unknown users."""
        ...

    def home_users_since(self, since: float) -> list[HomeUser]:
        """Users who opened Home at or after ``since``."""
        ...

    def home_user(self, user_id: str) -> HomeUser | None: ...

    def set_home_preferences(self, user_id: str, *, dm_escalations: bool, daily_summary: bool) -> None: ...

    def actions_by_user(self, user_id: str, *, limit: int = 10) -> list[AuditRow]:
        """The user's own audit rows (what they did, or were refused), newest first."""
        ...


class Approvals(Protocol):
    """Requests for a second person's approval of a write (four-eyes refunds): who asked, for which intent (the
    idempotency key), what it will do, where the request was posted, and how it ended.

    A request moves ``pending`` → ``approved`` (an approver won) → ``sent`` (its write was claimed in the ledger),
    or ``pending`` → ``declined`` / ``expired``; an approved one that cannot be sent any more is ``declined`` too.
    Every move is one conditional update that exactly one caller wins. A waiting request holds no lock.
    """

    def approval_create(self, row: Mapping[str, Any]) -> bool:
        """Insert a request (the columns by name) unless one exists for its ``key``: True iff this call inserted it."""
        ...

    def approval_get(self, approval_id: str) -> Row | None: ...

    def approval_for_key(self, key: str) -> Row | None:
        """The request made for this idempotency key, if any."""
        ...

    def approval_set_message(self, approval_id: str, *, channel: str, ts: str) -> None:
        """Where the request was posted, so it can be edited when it ends."""
        ...

    def approval_move(
        self,
        approval_id: str,
        *,
        from_state: str,
        to_state: str,
        now: float,
        user_id: str | None = None,
        detail: str | None = None,
        unexpired: bool = False,
    ) -> Row | None:
        """``from_state`` → ``to_state`` in one conditional update, recording who (``user_id``), when and why; with
        ``unexpired`` only while ``expires_at`` is after ``now``. The row iff this caller moved it, else None."""
        ...

    def approvals_due(self, *, now: float) -> list[Row]:
        """Pending requests whose ``expires_at`` is at or before ``now``, oldest first."""
        ...

    def approvals_stalled(self, *, decided_before: float) -> list[Row]:
        """Approved requests not yet sent whose approval is older than ``decided_before`` (their process died)."""
        ...

    def approvals_for_order(self, order_id: str) -> list[Row]:
        """The order's requests, newest first."""
        ...


class Storage(
    Transaction,
    OrderIndex,
    LedgerRows,
    Notifications,
    Cards,
    Audit,
    KeyValue,
    RunLock,
    UnfurlReads,
    BuyerIndex,
    BuyerCoverage,
    OnCall,
    Summaries,
    HomeUsers,
    Approvals,
    Protocol,
):
    """Every port at once: what a backend's store offers."""


class Backend(Storage, Protocol):
    """A store as the process that opened it holds it (sqlite's ``Store``, ``PostgresStore``): every port, plus
    what ``/healthz`` and shutting down need."""

    def health_problem(self) -> str | None:
        """Why the database cannot serve the bot, in words, or None when it can."""
        ...

    def schema_version(self) -> int:
        """How many of the backend's migrations the database has applied."""
        ...

    def migrations_current(self) -> bool: ...

    def close(self) -> None: ...
