"""Acknowledging orders: who may, the idempotency ledger around each Graph call, and every card kept current.

One order is acknowledged once, whatever Slack and the process do:

* The idempotency key arrives in the click (minted when the card was rendered), so every click of one card, its
  modal and its Retry are one intent at Meta. Two *cards* of one order carry two keys, so the ledger's claim
  locks the order too (and reserves the merchant reference), in one write: see :mod:`bot.actions.ledger`.
* Only the claimant calls Meta, with the stored key and the stored parameters; everyone else gets an answer
  ("@X is acknowledging this order", "already acknowledged by @X") and no call. Whoever clicked while the claim
  was in flight waits on it in the database and is told its outcome when it is recorded.
* The outcome is recorded before Slack hears of it; then every card the bot knows of is re-rendered.
* :meth:`AcknowledgementService.sweep` (at start-up and periodically in ``orderdesk serve``) finishes claims whose
  process died and re-sends transient failures on the ledger's retry policy; it reads the order first and counts
  ``IN_PROGRESS`` with our reference as done.

Slack answers go to the click's ``response_url`` (ephemeral, never replacing the card) so that button clicks and
modal submissions, which carry the click in ``private_metadata``, answer the same way.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot import logs
from bot.actions.ledger import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS, Ledger, LedgerEntry, RetryPolicy, new_key
from bot.config import Settings
from bot.graph.client import MAX_BATCH_ACK, ORDER_CARD_FIELDS, GraphClient, GraphError, OrderStateError
from bot.slack.access import Members
from bot.slack.errors import BadRequest
from bot.slack.views.blocks import (
    MERCHANT_REF_MAX,
    MERCHANT_REF_PATTERN,
    AckStatus,
    ack_conflict_blocks,
    ack_not_allowed_blocks,
    ack_reference_modal,
    ack_status_blocks,
    ack_value,
    batch_result_blocks,
    history_blocks,
    message_blocks,
    notification_card,
    notification_text,
    order_card,
    parse_ack_value,
)
from bot.slack.views.kit import Block, escape
from bot.storage.sqlite.store import Card, Store

log = logging.getLogger(__name__)

# Card kinds, as stored by ``Store.remember_card``: what the card was rendered with decides how it is re-rendered.
CARD_LOOKUP = "lookup"  # the asking agent's ephemeral card (buyer name, contact button)
CARD_NOTIFICATION = "notification"  # the PII-free card in the on-call channel
CARD_SHARED = "shared:"  # + the sharer's user id: the channel version of a lookup card

ACKNOWLEDGED_STATES = frozenset({"IN_PROGRESS", "COMPLETED"})
_ORDER_CHECK_FIELDS = "id,order_status,merchant_order_id"

# Why Meta refuses an acknowledgement, by the state the order turned out to be in (read after the refusal).
_REFUSED_IN_STATE = {
    "FB_PROCESSING": "The order is still in Meta's processing hold; it cannot be acknowledged yet.",
    "COMPLETED": "The order is already completed.",
}


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")

NOT_OUR_BUTTON = (
    "orderdesk could not read that button, so nothing was done. Look the order up again with "
    "/order and its number, and use the buttons on the new card."
)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Click:
    """One press of an Acknowledge / Retry button: the intent (order, key), who pressed it, and where.

    ``user_team_id`` is the clicker's own workspace and ``workspace_id`` the one the app is installed in: they
    differ for a Slack Connect guest. ``response_url`` answers the clicker and replaces an ephemeral card.
    """

    order_id: str
    key: str
    user_id: str
    user_team_id: str | None
    workspace_id: str | None
    channel_id: str | None
    message_ts: str | None
    ephemeral: bool
    response_url: str | None

    @classmethod
    def from_action(cls, body: Mapping[str, Any], workspace_id: str | None) -> Click:
        """From a ``block_actions`` payload; :class:`BadRequest` if the button value is not one the bot rendered
        or the payload lacks what every click carries."""
        try:
            action = body["actions"][0]
            order_id, key = parse_ack_value(action.get("value") or "")
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
            raise BadRequest(NOT_OUR_BUTTON) from error
        container = body.get("container")
        container = container if isinstance(container, Mapping) else {}
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, Mapping) else None
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            # Never act for "None" or str(42): who pressed the button is part of the audit trail and the permission.
            raise BadRequest("That click did not say who made it, so nothing was done.")
        team_id = user.get("team_id") if isinstance(user, Mapping) else None
        channel = body.get("channel")
        response_url = body.get("response_url")
        return cls(
            order_id=order_id,
            key=key,
            user_id=user_id,
            user_team_id=team_id if isinstance(team_id, str) else None,
            workspace_id=workspace_id,
            channel_id=_text_or_none(container.get("channel_id"))
            or (_text_or_none(channel.get("id")) if isinstance(channel, Mapping) else None),
            message_ts=_text_or_none(container.get("message_ts")),
            ephemeral=bool(container.get("is_ephemeral")),
            response_url=_text_or_none(response_url),
        )

    def to_metadata(self) -> str:
        """The modal's ``private_metadata``: the whole click, so the submission answers and updates like it."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_metadata(cls, text: object, *, user_id: object, user_team_id: object) -> Click:
        """The click a modal was opened from, submitted by ``user_id`` (who may differ from the opener only if
        Slack misbehaves: the submitter is the one checked); :class:`BadRequest` for anything the bot did not
        write there itself."""
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise BadRequest("That form did not say who sent it, so nothing was done.")
        try:
            data = json.loads(text) if isinstance(text, str) else None
            if not isinstance(data, dict):
                raise TypeError("metadata is not an object")
            ack_value(data["order_id"], data["key"])  # same strict check as a button value
            return cls(
                **{**data, "user_id": user_id, "user_team_id": user_team_id if isinstance(user_team_id, str) else None}
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(NOT_OUR_BUTTON) from error


@dataclass(frozen=True)
class Actor:
    """Someone asking for an acknowledgement outside a card (``/order ack-pending``)."""

    user_id: str
    user_team_id: str | None
    workspace_id: str | None


class CrashPoints:
    """Test-only: stop dead at a named point of an acknowledgement, so a crash test can SIGKILL the process there.

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


def status_of(entry: LedgerEntry, order_id: str | None = None) -> AckStatus:
    """How a card of ``order_id`` (default: the entry's own order) shows a ledger entry, batches included."""
    reference = entry.reference_for(order_id) if order_id is not None else entry.reference
    if entry.state == "succeeded":
        return AckStatus("succeeded", entry.user_id, entry.updated_at, reference, key=entry.key)
    if entry.state == "pending":
        return AckStatus("pending", entry.user_id, entry.updated_at, key=entry.key)
    message = (entry.error or {}).get("message")
    if entry.gave_up:
        return AckStatus("given_up", entry.user_id, entry.updated_at, message=message, key=entry.key)
    return AckStatus(
        "retryable" if entry.retryable else "failed",
        entry.user_id,
        entry.updated_at,
        message=message,
        key=entry.key,
        next_try=entry.next_attempt_at,
    )


def _error_record(exc: GraphError, message: str | None = None) -> dict[str, Any]:
    """What the ledger keeps of a failure: the Graph numbers for support, and words for the card."""
    words = message or exc.user_message or exc.message
    return {"type": type(exc).__name__, "code": exc.code, "subcode": exc.subcode, "message": words}


class AcknowledgementService:
    """Acknowledge buttons, the reference modal, Retry, the crash sweeper, ``ack-pending`` and ``history``.

    Thread-safe: the ledger and the store serialise writes, and the user-group cache has its own lock. Slack is
    reached through the ``client`` each call is given (Bolt's per-request client, or the app's for the sweeper).
    """

    def __init__(
        self,
        settings: Settings,
        graph: GraphClient,
        store: Store,
        *,
        crash_points: CrashPoints | None = None,
        members: Members | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._store = store
        self._ledger = Ledger(store, lease_seconds=settings.ack_lease_seconds, retry=retry, clock=clock)
        self._crash_points = crash_points or CrashPoints()
        self._members = members or Members(clock=clock)
        self._clock = clock

    @property
    def retry_policy(self) -> RetryPolicy:
        """How transient failures are re-sent before a person is asked to decide."""
        return self._ledger.retry

    # --- entry points (listeners) ---------------------------------------------------------------------------

    def acknowledge(self, click: Click, client: WebClient, reference: str | None = None) -> None:
        """An Acknowledge click (``reference`` None: the configured template, if any) or a modal submission."""
        if self._refused(click, client):
            return
        if reference is None and self._settings.merchant_ref_template:
            reference = self._settings.merchant_ref_template.format(order_id=click.order_id)
        indexed = self._store.get_order(click.order_id)
        claim = self._ledger.claim(
            key=click.key,
            operation=ACKNOWLEDGE_ORDER,
            order_id=click.order_id,
            params={"merchant_order_reference": reference} if reference else {},
            user_id=click.user_id,
            team_id=click.user_team_id,
            channel_id=click.channel_id,
            message_ts=click.message_ts,
            reference=reference,
        )
        if claim.conflict:
            self._tell(click, ack_conflict_blocks(click.order_id), client)
        elif claim.blocked == "reference":
            self._tell(click, _reference_taken(reference or "", claim.entry), client)
        elif claim.blocked == "order":
            self._answer_status(click, claim.entry, client)
        elif not claim.won:
            # The same intent again: re-drive it if it failed transiently or its owner died, else say where it is.
            entry = self._ledger.take_over(click.key)
            if entry is not None:
                self._drive(entry, client, click)
            else:
                self._answer_status(click, self._ledger.holding(click.order_id) or claim.entry, client)
        elif indexed is not None and indexed.state in ACKNOWLEDGED_STATES and indexed.merchant_ref != reference:
            # Acknowledged outside orderdesk (the index saw it): no call can succeed, so none is made.
            words = f"It was already acknowledged outside orderdesk (reference {indexed.merchant_ref or 'none'})."
            self._finish(self._ledger.fail(claim.entry.key, {"message": words}, retryable=False), client, click)
        else:
            self._remember(click)
            self._drive(claim.entry, client, click)

    def retry(self, click: Click, client: WebClient) -> None:
        """A Retry click: the same key and the same stored parameters, never a rebuilt request."""
        if self._refused(click, client):
            return
        entry = self._ledger.take_over(click.key)
        if entry is not None:
            self._drive(entry, client, click)
            return
        earlier = self._ledger.holding(click.order_id) or self._ledger.get(click.key)
        if earlier is None:
            self._tell(click, message_blocks("There is nothing to retry for this card."), client)
        else:
            self._answer_status(click, earlier, client)

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

    def history(self, query: str) -> list[Block]:
        """The audit trail of an order given by id or merchant reference (newest first)."""
        if not query:
            return message_blocks("Usage: `/order history &lt;order id or reference&gt;`")
        order_ids = [query] if query.isdigit() else self._store.find_by_reference(query)
        if not order_ids:
            return message_blocks(f"No order known with id or reference `{escape(query)}`.")
        return history_blocks(order_ids[0], self._store.audit_for_order(order_ids[0]))

    def pending_count(self) -> int:
        """How many orders await acknowledgement at Meta now (what ``/order ack-pending`` asks about)."""
        return sum(1 for _ in self._graph.iter_orders(state=["CREATED"], fields="id"))

    def ack_pending(self, actor: Actor, client: WebClient) -> list[Block]:
        """Acknowledge every ``CREATED`` order at Meta, at most 100 a call, one ledger key per call."""
        refusal = self._refusal(actor, client, order_id=None, key=None, action=ACKNOWLEDGE_ORDERS)
        if refusal is not None:
            return refusal
        order_ids = [str(o["id"]) for o in self._graph.iter_orders(state=["CREATED"], fields="id")]
        return self._ack_batches(order_ids, actor, client)

    def acknowledge_orders(self, order_ids: Sequence[str], actor: Actor, client: WebClient) -> list[Block]:
        """Acknowledge the given orders (a digest's "Acknowledge all"), in batches like :meth:`ack_pending`.

        Orders another key already owns are skipped, so a double-click or a second agent never acknowledges twice.
        """
        refusal = self._refusal(actor, client, order_id=None, key=None, action=ACKNOWLEDGE_ORDERS)
        if refusal is not None:
            return refusal
        return self._ack_batches(list(dict.fromkeys(order_ids)), actor, client)

    def _ack_batches(self, order_ids: Sequence[str], actor: Actor, client: WebClient) -> list[Block]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(order_ids), MAX_BATCH_ACK):
            results += self._ack_batch(order_ids[start : start + MAX_BATCH_ACK], actor, client)
        return batch_result_blocks(results, user_id=actor.user_id)

    def sweep(self, client: WebClient) -> int:
        """Finish claims whose owner died (lease expired) and re-send transient failures that are due; how many
        this call took over.

        Reads the order first: already acknowledged with our reference means Meta committed and the answer was
        lost, so it is recorded without a call; otherwise the stored request is sent again with the stored key.
        Each failure counts towards the retry policy, after which the claim is given up and its cards say so.
        """
        finished = 0
        for due in self._ledger.due():
            entry = self._ledger.take_over(due.key)
            if entry is None:
                continue  # another process or thread got it first
            finished += 1
            log.warning(
                "sweeper: re-driving %s %s (key %s, attempt %d)",
                entry.operation,
                entry.order_id,
                entry.key,
                entry.attempts,
            )
            if entry.operation == ACKNOWLEDGE_ORDER:
                try:
                    order = self._graph.get_order(entry.order_id, _ORDER_CHECK_FIELDS)
                except GraphError as exc:
                    self._finish(self._ledger.fail(entry.key, _error_record(exc), retryable=True), client, None)
                    continue
                if self._ours(entry, order):
                    self._finish(self._ledger.succeed(entry.key, _recovered(order)), client, None)
                    continue
            self._drive(entry, client, None)
        return finished

    # --- who may acknowledge ----------------------------------------------------------------------------------

    def _refused(self, click: Click, client: WebClient) -> bool:
        actor = Actor(click.user_id, click.user_team_id, click.workspace_id)
        refusal = self._refusal(actor, client, order_id=click.order_id, key=click.key, action=ACKNOWLEDGE_ORDER)
        if refusal is None and not self._shown(click.order_id):
            # Every card the bot draws comes from an order it read (indexed) or a card it keeps; a value naming any
            # other order did not come from orderdesk, and nothing built from it may reach Meta.
            self._store.add_audit(
                action=ACKNOWLEDGE_ORDER,
                order_id=click.order_id,
                user_id=click.user_id,
                team_id=click.user_team_id,
                key=click.key,
                outcome="refused: button not from orderdesk",
            )
            refusal = message_blocks(
                "orderdesk did not show this button for this order, so nothing was sent to Meta. "
                f"Look the order up again with `/order {click.order_id}` and use the buttons on that card."
            )
        if refusal is not None:
            self._tell(click, refusal, client)
        return refusal is not None

    def _shown(self, order_id: str) -> bool:
        return self._store.get_order(order_id) is not None or bool(self._store.cards_for_order(order_id))

    def _refusal(
        self, actor: Actor, client: WebClient, *, order_id: str | None, key: str | None, action: str
    ) -> list[Block] | None:
        """The answer for someone who may not acknowledge (with an audit row), or None if they may."""
        foreign = bool(actor.user_team_id and actor.workspace_id and actor.user_team_id != actor.workspace_id)
        allowed = self._settings.ack_allowed
        if not foreign and (not allowed or actor.user_id in self._allowed_users(client)):
            return None
        self._store.add_audit(
            action=action,
            order_id=order_id,
            user_id=actor.user_id,
            team_id=actor.user_team_id,
            key=key,
            outcome="refused",
            detail="user from another workspace" if foreign else "not in ORDERDESK_ACK_ALLOWED",
        )
        names = self._members.group_names(client) if any(o.startswith("S") for o in allowed) else {}
        return ack_not_allowed_blocks(allowed, other_workspace=foreign, group_names=names)

    def _allowed_users(self, client: WebClient) -> frozenset[str]:
        users = {entry for entry in self._settings.ack_allowed if not entry.startswith("S")}
        for group in (entry for entry in self._settings.ack_allowed if entry.startswith("S")):
            users |= self._members.group_members(group, client)
        return frozenset(users)

    # --- claim → call → record → show -------------------------------------------------------------------------

    def _drive(self, entry: LedgerEntry, client: WebClient, click: Click | None) -> None:
        """Send the stored request with the stored key, record what Meta said, then update the cards."""
        with logs.bound(order_id=entry.order_id, idempotency_key=entry.key):
            log.info("acknowledge: sending %s (attempt %d)", entry.operation, entry.attempts)
            self._crash_points("before_call")
            try:
                response = self._send(entry)
            except GraphError as exc:
                self._crash_points("after_call")
                recorded = self._record_failure(entry, exc)
            else:
                self._crash_points("after_call")
                recorded = self._record_success(entry, response)
            log.info("acknowledge: %s%s", recorded.state, " (retryable)" if recorded.retryable else "")
            self._finish(recorded, client, click)

    def _send(self, entry: LedgerEntry) -> dict[str, Any]:
        if entry.operation == ACKNOWLEDGE_ORDERS:
            return {"orders": self._graph.acknowledge_orders(entry.key, entry.params["orders"])}
        return self._graph.acknowledge_order(entry.order_id, entry.key, **entry.params)

    def _record_success(self, entry: LedgerEntry, response: Mapping[str, Any]) -> LedgerEntry:
        if entry.operation != ACKNOWLEDGE_ORDERS:
            return self._ledger.succeed(entry.key, response)
        with self._store.transaction():  # the batch row, its per-order audit and the freed orders: all or nothing
            recorded = self._ledger.succeed(entry.key, response)
            for result in response["orders"]:
                error = result.get("error")
                self._store.add_audit(
                    action=ACKNOWLEDGE_ORDERS,
                    order_id=str(result.get("id")),
                    user_id=entry.user_id,
                    team_id=entry.team_id,
                    key=entry.key,
                    outcome="failed" if error else "succeeded",
                    detail=json.dumps(error) if error else None,
                )
        return recorded

    def _record_failure(self, entry: LedgerEntry, exc: GraphError) -> LedgerEntry:
        """Transient: retryable with the same key. Refused by state: read the order, since 2361009 with the order
        acknowledged with our reference means an earlier send of this intent (or another card's) got through."""
        if exc.is_transient:
            return self._ledger.fail(entry.key, _error_record(exc), retryable=True)
        message = None
        if isinstance(exc, OrderStateError) and entry.operation == ACKNOWLEDGE_ORDER:
            try:
                order = self._graph.get_order(entry.order_id, _ORDER_CHECK_FIELDS)
            except GraphError:
                order = {}
            if self._ours(entry, order):
                return self._ledger.succeed(entry.key, _recovered(order))
            message = self._refused_words(order)
        return self._fail_for_good(entry, _error_record(exc, message))

    def _fail_for_good(self, entry: LedgerEntry, error: Mapping[str, Any]) -> LedgerEntry:
        """Record a permanent failure: the ledger frees the order(s) for a corrected request with a new key."""
        return self._ledger.fail(entry.key, error, retryable=False)

    def _ours(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        state = (order.get("order_status") or {}).get("state")
        return state in ACKNOWLEDGED_STATES and order.get("merchant_order_id") == entry.reference

    @staticmethod
    def _refused_words(order: Mapping[str, Any]) -> str | None:
        state = (order.get("order_status") or {}).get("state")
        if state == "IN_PROGRESS":
            reference = order.get("merchant_order_id") or "none"
            return f"It was already acknowledged outside orderdesk (reference {reference})."
        return _REFUSED_IN_STATE.get(str(state))

    def _ack_batch(self, order_ids: Sequence[str], actor: Actor, client: WebClient) -> list[dict[str, Any]]:
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
        self._drive(claim.entry, client, None)
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

    # --- answers and cards ------------------------------------------------------------------------------------

    def _answer_status(self, click: Click, entry: LedgerEntry, client: WebClient) -> None:
        """Answer a click from the claim that has the order: its outcome, or, while it is in flight, that it is
        under way, and its outcome later (the clicker waits on it in the database, so a crash loses no answer)."""
        status = status_of(entry, click.order_id)
        if status.state != "pending":
            self._tell(click, ack_status_blocks(click.order_id, status), client)
            return
        self._ledger.add_waiter(
            entry.key,
            order_id=click.order_id,
            user_id=click.user_id,
            channel=click.channel_id,
            response_url=click.response_url,
        )
        self._tell(click, ack_status_blocks(click.order_id, status) + message_blocks(WAITING), client)
        settled = self._ledger.get(entry.key)
        if settled is not None and settled.state != "pending":  # it ended before the waiter was written
            self._tell_waiters(settled, client)

    def _tell_waiters(self, entry: LedgerEntry, client: WebClient) -> None:
        """Tell everyone who clicked while ``entry`` was in flight how it ended (each once)."""
        for waiter in self._ledger.take_waiters(entry.key):
            click = Click(
                order_id=str(waiter["order_id"]),
                key=entry.key,
                user_id=str(waiter["user_id"]),
                user_team_id=None,
                workspace_id=None,
                channel_id=waiter["channel"],
                message_ts=None,
                ephemeral=True,
                response_url=waiter["response_url"],
            )
            self._tell(click, ack_status_blocks(click.order_id, status_of(entry, click.order_id)), client)

    def _finish(self, entry: LedgerEntry, client: WebClient, click: Click | None) -> None:
        """Show the recorded outcome on every card of the order(s) and to whoever waited for it; a clicker whose
        card cannot show it is told."""
        if entry.state != "pending":
            self._tell_waiters(entry, client)
        if entry.operation == ACKNOWLEDGE_ORDERS:
            for result in (entry.response or {}).get("orders", []):
                if "error" not in result:
                    order_id = str(result["id"])
                    self._update_cards(order_id, status_of(entry, order_id), None, client, None)
            return
        status = status_of(entry)
        # A permanent failure leaves the order to a fresh, corrected request; Retry carries the claim's own key.
        key = new_key() if status.state == "failed" else None
        updated = self._update_cards(entry.order_id, status, key, client, click)
        if click is not None and not updated:
            self._tell(click, ack_status_blocks(entry.order_id, status), client)

    def _update_cards(
        self, order_id: str, status: AckStatus, key: str | None, client: WebClient, click: Click | None
    ) -> bool:
        """Re-render every known card of the order; True if the clicked card was among them."""
        cards = self._store.cards_for_order(order_id)
        if not cards:
            return False
        order = self._card_order(order_id)
        clicked = False
        for card in cards:
            blocks, text = self._render(card, order, status, key)
            try:
                if card.channel and card.ts:
                    client.chat_update(channel=card.channel, ts=card.ts, blocks=blocks, text=text)
                elif card.response_url:
                    WebhookClient(card.response_url).send(blocks=blocks, text=text, replace_original=True)
            except (SlackClientError, OSError):
                log.exception("could not update card %s of order %s", card.id, order_id)
                continue
            if click is not None and _same_message(card, click):
                clicked = True
        return clicked

    def _card_order(self, order_id: str) -> dict[str, Any]:
        """The order to draw cards from: fresh from Meta, else as last indexed (cards must update either way)."""
        try:
            return self._graph.get_order(order_id, ORDER_CARD_FIELDS)
        except GraphError:
            log.warning("could not read order %s for its cards; drawing them from the index", order_id)
            indexed = self._store.get_order(order_id)
            return indexed.data if indexed else {"id": order_id}

    def _render(
        self, card: Card, order: Mapping[str, Any], status: AckStatus, key: str | None
    ) -> tuple[list[Block], str]:
        url = self._settings.commerce_manager_url
        text = notification_text(order)
        if card.kind == CARD_LOOKUP:
            return order_card(order, commerce_manager_url=url, ack_key=key, ack_status=status), text
        if card.kind.startswith(CARD_SHARED):
            shared_by = card.kind.removeprefix(CARD_SHARED)
            return order_card(
                order, commerce_manager_url=url, ack_key=key, ack_status=status, shared_by=shared_by
            ), text
        # Notifications, and any channel card of a kind this module does not know: the PII-free card.
        return notification_card(order, ack_key=key, commerce_manager_url=url, ack_status=status), text

    def _remember(self, click: Click) -> None:
        """Make the clicked card one the bot knows, so the sweeper can update it after a crash."""
        if click.channel_id and click.message_ts and not click.ephemeral:
            known = any(c.ts == click.message_ts for c in self._store.cards_for_order(click.order_id))
            if not known:
                self._store.remember_card(
                    click.order_id,
                    channel=click.channel_id,
                    ts=click.message_ts,
                    response_url=None,
                    kind=CARD_NOTIFICATION,
                )
        elif click.response_url:
            self._store.remember_card(
                click.order_id, channel=None, ts=None, response_url=click.response_url, kind=CARD_LOOKUP
            )

    def _tell(self, click: Click, blocks: list[Block], client: WebClient) -> None:
        """An ephemeral answer to the clicker that leaves the card as it is."""
        text = "orderdesk: acknowledgement"
        try:
            if click.response_url:
                WebhookClient(click.response_url).send(
                    blocks=blocks, text=text, response_type="ephemeral", replace_original=False
                )
            elif click.channel_id:
                client.chat_postEphemeral(channel=click.channel_id, user=click.user_id, blocks=blocks, text=text)
        except (SlackApiError, SlackClientError, OSError):
            log.exception("could not answer %s about order %s", click.user_id, click.order_id)


WAITING = "You will get the outcome here when it finishes."


def _reference_taken(reference: str, holder: LedgerEntry) -> list[Block]:
    """The answer when another order's live claim has reserved the reference."""
    return message_blocks(
        f":no_entry: The reference `{escape(reference)}` is being used for order {escape(holder.order_id)}, "
        "so nothing was sent to Meta. Choose another reference and try again."
    )


def _held_result(order_id: str, holder: LedgerEntry | None) -> dict[str, Any]:
    """A batch's per-order result for an order another claim holds (or held a moment ago)."""
    if holder is not None and holder.state == "succeeded":
        return {"id": order_id, "already": {"by": holder.user_id, "reference": holder.reference_for(order_id)}}
    words = "being acknowledged in orderdesk right now"
    if holder is not None and holder.state == "failed":
        words = "Meta did not answer an earlier acknowledgement; orderdesk is sending it again"
    return {"id": order_id, "error": {"error_message": words}}


def _recovered(order: Mapping[str, Any]) -> dict[str, Any]:
    """The success recorded when Meta's answer was lost but the order shows our acknowledgement."""
    return {"id": order.get("id"), "state": (order.get("order_status") or {}).get("state"), "recovered": True}


def _same_message(card: Card, click: Click) -> bool:
    if click.ephemeral:
        return card.response_url == click.response_url
    return card.channel == click.channel_id and card.ts == click.message_ts


def ack_modal(click: Click, *, error: str | None = None, initial: str | None = None) -> dict[str, Any]:
    """The reference modal for a click, carrying the whole click (key included) in ``private_metadata``."""
    return {
        **ack_reference_modal(click.order_id, click.key, error=error, initial=initial),
        "private_metadata": click.to_metadata(),
    }
