"""The actions engine: every write to Meta goes claim → send → record → publish, the same for every operation.

* The claim is the lock (:mod:`bot.actions.ledger`): only the claimant sends, with the stored key and the stored
  parameters, so a re-send is byte-identical and Meta dedupes it.
* The outcome is recorded before anyone hears of it; then every card of the order is redrawn and whoever waited
  on the claim is told, through the :class:`Publisher` port (the Slack edge implements it).
* A refusal by state is confirmed by reading the order back: the intent done with our parameters means an earlier
  send got through, and it is recorded as a success.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot import logs
from bot.actions.answers import ActionOutcome, Answer, Outcome, Requester
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.operation import Operation, Request
from bot.actions.status import CARD_LOOKUP, CARD_NOTIFICATION, AckStatus, status_of
from bot.domain import problems
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient, GraphError, OrderStateError
from bot.storage.ports import Storage
from bot.storage.rows import Card

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Where the engine's news goes: every card of an order, and the people who asked."""

    def order_changed(
        self,
        order: Mapping[str, Any],
        cards: Sequence[Card],
        status: AckStatus | None,
        key: str | None,
        *,
        change: ActionOutcome | None = None,
    ) -> list[Card]:
        """Redraw ``cards`` of ``order`` with ``status``; the cards that were updated. ``key`` is the order's card
        token (:meth:`Ledger.card_token`): each card's buttons carry ``card_key(key, card_place(card))``.
        ``change``, a card action's outcome, also gets a line in each notification's thread."""
        ...

    def tell(self, requester: Requester, answer: Answer) -> None:
        """Answer one person, leaving every card as it is."""
        ...


class CrashPoints:
    """Test-only: stop dead at a named point of a write, so a crash test can SIGKILL the process there.

    Off unless ``orderdesk serve --crash-points DIR`` names a directory. When ``DIR/<point>`` exists, reaching
    the point creates ``DIR/<point>.reached`` and blocks forever. Points: ``before_call`` (claim committed, Meta
    not called) and ``after_call`` (Meta answered or failed, outcome not recorded).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    def __call__(self, point: str) -> None:
        if self._directory is None or not (self._directory / point).exists():
            return
        (self._directory / f"{point}.reached").touch()
        threading.Event().wait()


def requester_of(request: Request) -> Requester:
    return Requester(request.user_id, request.channel_id, request.response_url, request.order_id)


class Runner:
    """Drives claimed ledger entries of any registered operation, and tells people how they ended. Thread-safe:
    the ledger and the store serialise writes."""

    def __init__(
        self,
        graph: GraphClient,
        store: Storage,
        ledger: Ledger,
        publisher: Publisher,
        operations: Sequence[Operation],
        *,
        crash_points: CrashPoints | None = None,
        describe: Callable[[LedgerEntry], str] | None = None,
    ) -> None:
        """``describe`` (card actions): says what an entry does in words; the runner then answers with
        :class:`ActionOutcome`, keeps each card's acknowledgement status, and adds a thread line on success.
        Without it the runner answers for acknowledgements."""
        self.graph = graph
        self.store = store
        self.ledger = ledger
        self._publisher = publisher
        self._operations = {operation.name: operation for operation in operations}
        self._crash_points = crash_points or CrashPoints()
        self._describe = describe

    def knows(self, entry: LedgerEntry) -> bool:
        """Whether ``entry`` is one of this runner's operations."""
        return entry.operation in self._operations

    def operation(self, entry: LedgerEntry) -> Operation:
        return self._operations[entry.operation]

    def drive(self, entry: LedgerEntry, request: Request | None) -> LedgerEntry:
        """Send the stored request with the stored key, record what Meta said, then publish it."""
        operation = self.operation(entry)
        with logs.bound(order_id=entry.order_id, idempotency_key=entry.key):
            log.info("sending %s (attempt %d)", entry.operation, entry.attempts)
            self._crash_points("before_call")
            try:
                response = operation.send(self.graph, entry)
            except GraphError as exc:
                self._crash_points("after_call")
                recorded = self._record_failure(operation, entry, exc)
            else:
                self._crash_points("after_call")
                recorded = operation.record_success(self.store, self.ledger, entry, response)
            log.info("%s: %s%s", entry.operation, recorded.state, " (retryable)" if recorded.retryable else "")
            self.finish(recorded, request)
        return recorded

    def _record_failure(self, operation: Operation, entry: LedgerEntry, exc: GraphError) -> LedgerEntry:
        """Transient: retryable with the same key. Refused by state: read the order, since a refusal with the
        order showing this intent done means an earlier send of it (or another card's) got through."""
        if exc.is_transient or problems.action_of(exc) == "retry":  # e.g. 2361076: payment not captured yet
            return self.ledger.fail(entry.key, problems.for_ledger(exc), retryable=True)
        message = None
        if isinstance(exc, OrderStateError):
            try:
                order = operation.read_back(self.graph, entry)
            except GraphError:
                order = {}
            if order is not None:
                if operation.took_effect(entry, order):
                    return self.ledger.succeed(entry.key, operation.recovered(order))
                message = operation.refused_words(order)
        return self.fail_for_good(entry, problems.for_ledger(exc, message))

    def fail_for_good(self, entry: LedgerEntry, error: Mapping[str, Any]) -> LedgerEntry:
        """Record a permanent failure: the ledger frees the order(s) for a corrected request with a new key."""
        return self.ledger.fail(entry.key, error, retryable=False)

    def finish(self, entry: LedgerEntry, request: Request | None) -> None:
        """Show the recorded outcome on every card of the order(s) and to whoever waited for it; a requester
        whose card cannot show it is told."""
        if entry.state != "pending":
            self.tell_waiters(entry)
        if self._describe is not None:
            self._finish_action(entry)
            return
        for order_id in self.operation(entry).shown_on(entry):
            status = status_of(entry, order_id)
            # The card token changes with a success or a permanent failure (the next intent, or the corrected
            # request, gets new keys) and stays otherwise; Retry carries the claim's own key.
            mine = request if order_id == entry.order_id else None
            updated = self._update_cards(order_id, status, self.ledger.card_token(order_id), mine)
            if mine is not None and not updated:
                self.tell(mine, Outcome(order_id, status))

    def _finish_action(self, entry: LedgerEntry) -> None:
        """A card action's outcome: every card of the order redrawn (each keeps its acknowledgement status) with
        the order's card token (new keys after a success or a refusal for good, the same ones otherwise), and,
        once it succeeded or needs a person, one line in each notification's thread."""
        if entry.state == "pending":
            return
        order_id = entry.order_id
        cards = self.store.cards_for_order(order_id)
        if not cards:
            return
        outcome = self.outcome(entry, order_id)
        told = entry.state == "succeeded" or entry.gave_up
        change = outcome if told and isinstance(outcome, ActionOutcome) else None
        self._publisher.order_changed(
            self._card_order(order_id),
            cards,
            self.ack_status(order_id),
            self.ledger.card_token(order_id),
            change=change,
        )

    def ack_status(self, order_id: str) -> AckStatus | None:
        """The order's acknowledgement as its cards show it (a card action leaves that line as it is)."""
        current = self.ledger.current(order_id)
        return status_of(current, order_id) if current is not None else None

    def outcome(self, entry: LedgerEntry, order_id: str, *, waiting: bool = False) -> Answer:
        """How ``entry`` ends (or stands) for one of its orders, as an answer to whoever asked."""
        if self._describe is None:
            return Outcome(order_id, status_of(entry, order_id), waiting=waiting)
        status = status_of(entry, order_id)
        error = entry.error or {}
        return ActionOutcome(
            order_id=order_id,
            operation=entry.operation,
            state=status.state,
            user_id=entry.user_id,
            summary=self._describe(entry),
            key=entry.key,
            message=status.message,
            code=error.get("code") if isinstance(error.get("code"), int) else None,
            subcode=error.get("subcode") if isinstance(error.get("subcode"), int) else None,
            next_try=status.next_try,
            waiting=waiting,
            approver=self._approver(entry),
        )

    def _approver(self, entry: LedgerEntry) -> str | None:
        """Who approved the write, when it waited for a second person (four-eyes refunds)."""
        request = self.store.approval_for_key(entry.key)
        return str(request["decided_by"]) if request is not None and request["state"] == "sent" else None

    def tell(self, request: Request, answer: Answer) -> None:
        self._publisher.tell(requester_of(request), answer)

    def answer_status(self, request: Request, entry: LedgerEntry, *, requester: Requester | None = None) -> None:
        """Answer a request from the claim that has the order: its outcome, or, while it is in flight, that it is
        under way, and its outcome later (the requester waits on it in the database, so a crash loses no answer).
        ``requester`` overrides where the answer goes (a modal's view)."""
        to = requester or requester_of(request)
        if entry.state != "pending":
            self._publisher.tell(to, self.outcome(entry, request.order_id))
            return
        self.ledger.add_waiter(
            entry.key,
            order_id=request.order_id,
            user_id=request.user_id,
            channel=request.channel_id,
            response_url=request.response_url,
        )
        self._publisher.tell(to, self.outcome(entry, request.order_id, waiting=True))
        settled = self.ledger.get(entry.key)
        if settled is not None and settled.state != "pending":  # it ended before the waiter was written
            self.tell_waiters(settled)

    def tell_waiters(self, entry: LedgerEntry) -> None:
        """Tell everyone who asked while ``entry`` was in flight how it ended (each once)."""
        for waiter in self.ledger.take_waiters(entry.key):
            order_id = str(waiter["order_id"])
            requester = Requester(str(waiter["user_id"]), waiter["channel"], waiter["response_url"], order_id)
            self._publisher.tell(requester, self.outcome(entry, order_id))

    def _update_cards(self, order_id: str, status: AckStatus, key: str | None, request: Request | None) -> bool:
        """Redraw every known card of the order; True if the requester's card was among them."""
        cards = self.store.cards_for_order(order_id)
        if not cards:
            return False
        updated = self._publisher.order_changed(self._card_order(order_id), cards, status, key)
        return request is not None and any(_same_message(card, request) for card in updated)

    def _card_order(self, order_id: str) -> dict[str, Any]:
        """The order to draw cards from: fresh from Meta, else as last indexed (cards must update either way)."""
        try:
            return self.graph.get_order(order_id, ORDER_CARD_FIELDS)
        except GraphError:
            log.warning("could not read order %s for its cards; drawing them from the index", order_id)
            indexed = self.store.get_order(order_id)
            return indexed.data if indexed else {"id": order_id}

    def remember(self, request: Request) -> None:
        """Make the requester's card one the bot knows, so the sweeper can update it after a crash. A press on a
        list's line (:attr:`Request.listed`) names no card: the list stays as it is and the requester is told."""
        if request.listed:
            return
        if request.channel_id and request.message_ts and not request.ephemeral:
            known = any(c.ts == request.message_ts for c in self.store.cards_for_order(request.order_id))
            if not known:
                self.store.remember_card(
                    request.order_id,
                    channel=request.channel_id,
                    ts=request.message_ts,
                    response_url=None,
                    kind=CARD_NOTIFICATION,
                )
        elif request.response_url:
            self.store.remember_card(
                request.order_id, channel=None, ts=None, response_url=request.response_url, kind=CARD_LOOKUP
            )


def _same_message(card: Card, request: Request) -> bool:
    if request.ephemeral:
        return card.response_url == request.response_url
    return card.channel == request.channel_id and card.ts == request.message_ts
