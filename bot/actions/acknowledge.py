"""Acknowledging orders, the first two operations of the actions engine: one order from its card, and a batch.

One order is acknowledged once, whatever Slack and the process do:

* The idempotency key arrives with the request (minted when the card was drawn), so every press of one card, its
  modal and its Retry are one intent at Meta. Two *cards* of one order carry two keys, so the ledger's claim
  locks the order too (and reserves the merchant reference), in one write: see :mod:`bot.actions.ledger`.
* Only the claimant calls Meta, with the stored key and the stored parameters; everyone else gets an answer
  ("@X is acknowledging this order", "already acknowledged by @X") and no call. Whoever asked while the claim
  was in flight waits on it in the database and is told its outcome when it is recorded.
* The outcome is recorded before anyone hears of it; then every card the bot knows of is redrawn
  (:class:`bot.actions.runner.Runner`). The sweeper (:mod:`bot.actions.sweeper`) finishes claims whose process
  died and re-sends transient failures; it reads the order first and counts ``IN_PROGRESS`` with our reference
  as done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.actions import sweeper
from bot.actions.answers import (
    BatchResults,
    History,
    HistoryUsage,
    KeyConflict,
    NotAllowed,
    NothingToRetry,
    NotShown,
    ReferenceTaken,
    UnknownOrder,
)
from bot.actions.ledger import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS, Ledger, LedgerEntry, RetryPolicy, new_key
from bot.actions.operation import Actor, Request
from bot.actions.permissions import Groups, Permissions
from bot.actions.runner import CrashPoints, Publisher, Runner
from bot.actions.status import ACKNOWLEDGEABLE_STATES, ACKNOWLEDGED_STATES, MERCHANT_REF_MAX, MERCHANT_REF_PATTERN
from bot.config import Settings
from bot.domain import problems
from bot.domain.order import order_state
from bot.graph.client import MAX_BATCH_ACK, GraphClient
from bot.storage.ports import Storage

_ORDER_CHECK_FIELDS = "id,order_status,merchant_order_id"


class AcknowledgeOrder:
    """Acknowledge one order, with the merchant reference it carries; confirmed by reading the order back."""

    name = ACKNOWLEDGE_ORDER
    offered_in = ACKNOWLEDGEABLE_STATES

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        return graph.acknowledge_order(entry.order_id, entry.key, **entry.params)

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return graph.get_order(entry.order_id, _ORDER_CHECK_FIELDS)

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        return order_state(order) in ACKNOWLEDGED_STATES and order.get("merchant_order_id") == entry.reference

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": order.get("id"), "state": order_state(order), "recovered": True}

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return problems.refused_words(order)

    def record_success(
        self, store: Storage, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        return ledger.succeed(entry.key, response)

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        return [entry.order_id]


class AcknowledgeOrders:
    """Acknowledge up to :data:`MAX_BATCH_ACK` orders in one call; Meta answers per order. A batch cannot be
    confirmed by reading (which of its orders did Meta take?), so it is re-sent with its key instead."""

    name = ACKNOWLEDGE_ORDERS
    offered_in = ACKNOWLEDGEABLE_STATES

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        return {"orders": graph.acknowledge_orders(entry.key, entry.params["orders"])}

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        return None

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        return False

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("a batch is never confirmed by reading an order back")

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        return None

    def record_success(
        self, store: Storage, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        with store.transaction():  # the batch row, its per-order audit and the freed orders: all or nothing
            recorded = ledger.succeed(entry.key, response)
            for result in response["orders"]:
                error = result.get("error")
                store.add_audit(
                    action=ACKNOWLEDGE_ORDERS,
                    order_id=str(result.get("id")),
                    user_id=entry.user_id,
                    team_id=entry.team_id,
                    key=entry.key,
                    outcome="failed" if error else "succeeded",
                    detail=json.dumps(error) if error else None,
                )
        return recorded

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        results = (entry.response or {}).get("orders", [])
        return [str(result["id"]) for result in results if "error" not in result]


ACKNOWLEDGE_ONE = AcknowledgeOrder()
ACKNOWLEDGE_BATCH = AcknowledgeOrders()


class AcknowledgementService:
    """Acknowledge buttons, the reference modal, Retry, the sweeper, ``ack-pending`` and ``history``.

    Knows no chat: requests come in as :class:`Request` / :class:`Actor`, answers go out as domain values
    (returned, or told through the ``publisher``). Thread-safe: the ledger and the store serialise writes.
    """

    def __init__(
        self,
        settings: Settings,
        graph: GraphClient,
        store: Storage,
        *,
        publisher: Publisher,
        groups: Groups | None = None,
        crash_points: CrashPoints | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._store = store
        self._ledger = Ledger(store, lease_seconds=settings.ack_lease_seconds, retry=retry, clock=clock)
        self._permissions = Permissions(settings.ack_allowed, store, groups)
        self._runner = Runner(
            graph, store, self._ledger, publisher, [ACKNOWLEDGE_ONE, ACKNOWLEDGE_BATCH], crash_points=crash_points
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """How transient failures are re-sent before a person is asked to decide."""
        return self._ledger.retry

    def acknowledge(self, request: Request, reference: str | None = None) -> None:
        """An Acknowledge press (``reference`` None: the configured template, if any) or a modal submission."""
        if self._refused(request):
            return
        if reference is None and self._settings.merchant_ref_template:
            reference = self._settings.merchant_ref_template.format(order_id=request.order_id)
        indexed = self._store.get_order(request.order_id)
        claim = self._ledger.claim(
            key=request.key,
            operation=ACKNOWLEDGE_ORDER,
            order_id=request.order_id,
            params={"merchant_order_reference": reference} if reference else {},
            user_id=request.user_id,
            team_id=request.user_team_id,
            channel_id=request.channel_id,
            message_ts=request.message_ts,
            reference=reference,
        )
        runner = self._runner
        if claim.conflict:
            runner.tell(request, KeyConflict(request.order_id))
        elif claim.blocked == "reference":
            runner.tell(request, ReferenceTaken(reference or "", claim.entry.order_id))
        elif claim.blocked == "order":
            runner.answer_status(request, claim.entry)
        elif not claim.won:
            # The same intent again: re-drive it if it failed transiently or its owner died, else say where it is.
            entry = self._ledger.take_over(request.key)
            if entry is not None:
                runner.drive(entry, request)
            else:
                runner.answer_status(request, self._ledger.holding(request.order_id) or claim.entry)
        elif indexed is not None and indexed.state in ACKNOWLEDGED_STATES and indexed.merchant_ref != reference:
            # Acknowledged outside orderdesk (the index saw it): no call can succeed, so none is made.
            words = f"It was already acknowledged outside orderdesk (reference {indexed.merchant_ref or 'none'})."
            runner.finish(runner.fail_for_good(claim.entry, {"message": words}), request)
        else:
            runner.remember(request)
            runner.drive(claim.entry, request)

    def retry(self, request: Request) -> None:
        """A Retry press: the same key and the same stored parameters, never a rebuilt request."""
        if self._refused(request):
            return
        entry = self._ledger.take_over(request.key)
        if entry is not None:
            self._runner.drive(entry, request)
            return
        earlier = self._ledger.holding(request.order_id) or self._ledger.get(request.key)
        if earlier is None:
            self._runner.tell(request, NothingToRetry(request.order_id))
        else:
            self._runner.answer_status(request, earlier)

    def reference_error(self, order_id: str, reference: str) -> str | None:
        """Why the modal cannot accept ``reference`` (shown inline under the input), or None if it can."""
        if not reference:
            return "Enter your shop's order number."
        if len(reference) > MERCHANT_REF_MAX:
            return f"At most {MERCHANT_REF_MAX} characters."
        if not MERCHANT_REF_PATTERN.match(reference):
            return "Use letters, digits and . _ / # - only, starting with a letter or digit."
        owner = self._store.reference_owner(reference, other_than=order_id)
        if owner is not None:
            return f"Already used for order {owner}."
        return None

    def history(self, query: str) -> History | HistoryUsage | UnknownOrder:
        """The audit trail of an order given by id or merchant reference (newest first)."""
        if not query:
            return HistoryUsage()
        order_ids = [query] if query.isdigit() else self._store.find_by_reference(query)
        if not order_ids:
            return UnknownOrder(query)
        return History(order_ids[0], self._store.audit_for_order(order_ids[0]))

    def pending_count(self) -> int:
        """How many orders await acknowledgement at Meta now (what ``/order ack-pending`` asks about)."""
        return sum(1 for _ in self._graph.iter_orders(state=["CREATED"], fields="id"))

    def ack_pending(self, actor: Actor) -> BatchResults | NotAllowed:
        """Acknowledge every ``CREATED`` order at Meta, at most 100 a call, one ledger key per call."""
        refusal = self._permissions.refusal(actor, order_id=None, key=None, action=ACKNOWLEDGE_ORDERS)
        if refusal is not None:
            return refusal
        order_ids = [str(o["id"]) for o in self._graph.iter_orders(state=["CREATED"], fields="id")]
        return self._ack_batches(order_ids, actor)

    def acknowledge_orders(self, order_ids: Sequence[str], actor: Actor) -> BatchResults | NotAllowed:
        """Acknowledge the given orders (a digest's "Acknowledge all"), in batches like :meth:`ack_pending`.

        Orders another key already owns are skipped, so a double-click or a second agent never acknowledges twice.
        """
        refusal = self._permissions.refusal(actor, order_id=None, key=None, action=ACKNOWLEDGE_ORDERS)
        if refusal is not None:
            return refusal
        return self._ack_batches(list(dict.fromkeys(order_ids)), actor)

    def sweep(self) -> int:
        """Finish claims whose owner died and re-send transient failures that are due (:func:`sweeper.sweep`)."""
        return sweeper.sweep(self._runner)

    def _ack_batches(self, order_ids: Sequence[str], actor: Actor) -> BatchResults:
        results: list[dict[str, Any]] = []
        for start in range(0, len(order_ids), MAX_BATCH_ACK):
            results += self._ack_batch(order_ids[start : start + MAX_BATCH_ACK], actor)
        return BatchResults(results, user_id=actor.user_id)

    def _ack_batch(self, order_ids: Sequence[str], actor: Actor) -> list[dict[str, Any]]:
        """One ``acknowledge_orders`` call for the orders no other claim holds; per-order results, skipped included.

        An order another claim already acknowledged is reported as done (``already``), not as a failure.
        """
        template = self._settings.merchant_ref_template
        orders = [
            {"id": order_id, **({"merchant_order_reference": template.format(order_id=order_id)} if template else {})}
            for order_id in order_ids
        ]
        claim, holders = self._ledger.claim_batch(
            key=new_key(),
            operation=ACKNOWLEDGE_ORDERS,
            page_id=self._graph.page_id,
            orders=orders,
            user_id=actor.user_id,
            team_id=actor.user_team_id,
        )
        mine = set(claim.entry.order_ids) if claim else set()
        skipped = [
            _held_result(order_id, holder)
            for order_id, holder in zip([o for o in order_ids if o not in mine], holders, strict=True)
        ]
        if claim is None:
            return skipped
        self._runner.drive(claim.entry, None)
        entry = self._ledger.get(claim.entry.key)
        if entry is None or entry.state != "succeeded" or entry.response is None:
            words = (entry.error or {}).get("message") if entry else None
            retrying = entry is not None and entry.state == "failed" and entry.retryable and not entry.gave_up
            later = "; orderdesk sends it again by itself" if retrying else ""
            failed = {"error_message": f"not sent: {words or 'Meta did not answer'}{later}"}
            return [{"id": order_id, "error": failed} for order_id in claim.entry.order_ids] + skipped
        return [
            {**r, "merchant_order_reference": entry.reference_for(str(r.get("id")))} for r in entry.response["orders"]
        ] + skipped

    def _refused(self, request: Request) -> bool:
        refusal: NotAllowed | NotShown | None = self._permissions.refusal(
            request.actor, order_id=request.order_id, key=request.key, action=ACKNOWLEDGE_ORDER
        )
        if refusal is None and not self._shown(request.order_id):
            # Every card the bot draws comes from an order it read (indexed) or a card it keeps; a value naming any
            # other order did not come from orderdesk, and nothing built from it may reach Meta.
            self._store.add_audit(
                action=ACKNOWLEDGE_ORDER,
                order_id=request.order_id,
                user_id=request.user_id,
                team_id=request.user_team_id,
                key=request.key,
                outcome="refused: button not from orderdesk",
            )
            refusal = NotShown(request.order_id)
        if refusal is not None:
            self._runner.tell(request, refusal)
        return refusal is not None

    def _shown(self, order_id: str) -> bool:
        return self._store.get_order(order_id) is not None or bool(self._store.cards_for_order(order_id))


def _held_result(order_id: str, holder: LedgerEntry | None) -> dict[str, Any]:
    """A batch's per-order result for an order another claim holds (or held a moment ago)."""
    if holder is not None and holder.state == "succeeded":
        return {"id": order_id, "already": {"by": holder.user_id, "reference": holder.reference_for(order_id)}}
    words = "being acknowledged in orderdesk right now"
    if holder is not None and holder.state == "failed":
        words = "Meta did not answer an earlier acknowledgement; orderdesk is sending it again"
    return {"id": order_id, "error": {"error_message": words}}
