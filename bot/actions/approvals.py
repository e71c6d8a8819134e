"""Four-eyes refunds: a refund over ``ORDERDESK_REFUND_APPROVAL_OVER`` is not sent until a second person approves it.

The flow, decided in the database at every step (:class:`bot.storage.ports.Approvals`):

* **Ask.** The checked refund (its :class:`RefundPreview`) is stored as a ``pending`` request for the card's
  idempotency key, and posted (with the preview, Approve and Decline) to ``ORDERDESK_APPROVAL_CHANNEL``, or to the
  card's channel when none is set (never a DM or a Slack Connect channel). One request per key: asking again with
  the same refund is the same request; with another refund it is refused. A waiting request holds no lock, so the
  order stays free for every other action while it waits.
* **Approve.** Only someone allowed to refund who is not the requester may approve. ``pending`` → ``approved`` is
  one conditional update, so of any number of concurrent clicks exactly one wins. The winner reads the order again
  and checks the refund against it: an order that changed meanwhile (another refund, or less left than the
  request took) is declined in words. Otherwise the refund is claimed in the ledger with the request's key and the
  approved parameters (``approved`` → ``sent``) and sent by the runner: exactly once from here on, as every write.
* **Decline** (an approver, or the requester withdrawing) and **expiry** (``ORDERDESK_APPROVAL_TTL``, by the
  background worker) end a pending request; the requester is told and the request message edited.
* An approval whose process died before the ledger claim is resumed by the worker (the claim with the same key is
  idempotent), so nothing approved is lost.

The service knows no Slack: what is shown and told goes through the :class:`ApprovalBoard` port.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal, Protocol

from bot.actions.answers import NotAllowed, NotShown
from bot.actions.entries import REFUND_ORDER
from bot.actions.ledger import Ledger, LedgerEntry
from bot.actions.operation import Actor, Request
from bot.actions.order_actions import REFUND, OrderActionsService
from bot.actions.permissions import Permissions
from bot.actions.refund import REFUND_ORDER_FIELDS, refund_params
from bot.actions.runner import Runner
from bot.actions.status import AckStatus, status_of
from bot.domain import money
from bot.domain.remaining import RefundPreview, RefundProblems, check_refund, preview_from_json, remaining
from bot.graph.client import GraphClient, GraphError
from bot.storage.ports import Storage
from bot.storage.rows import Row

log = logging.getLogger(__name__)

ApprovalState = Literal["pending", "approved", "declined", "expired", "sent"]
APPROVAL = "refund_approval"  # the audit's name for every step of a request: asked, approved, declined, expired
WITHDRAWN = "withdrawn by the requester"
STALE = "The order changed since the request: Meta could not be read to check it for too long. Ask again."
STALLED_AFTER_SECONDS = 120.0  # an approval not sent after this long lost its process: the worker resumes it


@dataclass(frozen=True)
class Approval:
    """One request for a second person's approval of a refund, and how it ended."""

    id: str
    order_id: str
    key: str
    preview: RefundPreview
    requester_id: str
    requester_team: str | None
    origin_channel: str | None
    origin_ts: str | None
    origin_response_url: str | None
    state: ApprovalState
    channel: str | None
    ts: str | None
    decided_by: str | None
    decided_at: float | None
    detail: str | None
    created_at: float
    expires_at: float

    @property
    def total(self) -> str:
        """The refund's total before tax, in words (``USD 120.00``)."""
        return self.preview.money(self.preview.total)


def approval_from_row(row: Row) -> Approval:
    return Approval(
        id=str(row["id"]),
        order_id=str(row["order_id"]),
        key=str(row["key"]),
        preview=preview_from_json(json.loads(row["params"])),
        requester_id=str(row["requester_id"]),
        requester_team=row["requester_team"],
        origin_channel=row["origin_channel"],
        origin_ts=row["origin_ts"],
        origin_response_url=row["origin_response_url"],
        state=row["state"],
        channel=row["channel"],
        ts=row["ts"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        detail=row["detail"],
        created_at=float(row["created_at"]),
        expires_at=float(row["expires_at"]),
    )


# What the service tells people (the Slack edge draws each).


@dataclass(frozen=True)
class AwaitingApproval:
    """The refund was not sent: it waits for a second person in ``approval.channel``."""

    approval: Approval
    again: bool = False  # the same request asked again


@dataclass(frozen=True)
class ApprovalNotPossible:
    """A refund that needs approval cannot be asked for here (a DM, a Slack Connect channel, posting failed)."""

    order_id: str
    words: str


@dataclass(frozen=True)
class ApprovalConflict:
    """This card's key already asked approval for a different refund: nothing new was asked."""

    approval: Approval


@dataclass(frozen=True)
class OwnRequest:
    """Nobody approves their own refund."""

    approval: Approval


@dataclass(frozen=True)
class ApprovalClosed:
    """The request was already decided (approved, declined, expired or sent): this click changed nothing."""

    approval: Approval


@dataclass(frozen=True)
class ApprovalEnded:
    """The request ended without a refund (declined, withdrawn, expired, or the order changed): for the requester
    and, for a decision, the person who made it."""

    approval: Approval


@dataclass(frozen=True)
class RefundSent:
    """The approved refund went through the ledger; ``status`` is how its write stands."""

    approval: Approval
    status: AckStatus


@dataclass(frozen=True)
class ApprovalDelayed:
    """Approved, but Meta could not be read to re-check the order: orderdesk sends it when Meta answers again."""

    approval: Approval


@dataclass(frozen=True)
class ApprovalUnknown:
    approval_id: str


@dataclass(frozen=True)
class ApprovalBusy:
    """Another change of the order is in flight: the request stays pending, to approve again in a moment."""

    approval: Approval


ApprovalNews = (
    AwaitingApproval
    | ApprovalNotPossible
    | ApprovalConflict
    | OwnRequest
    | ApprovalClosed
    | ApprovalEnded
    | RefundSent
    | ApprovalDelayed
    | ApprovalUnknown
    | ApprovalBusy
    | NotAllowed
    | NotShown
)


@dataclass(frozen=True)
class Person:
    """Whom to tell: a user, on the modal ``view_id`` while it is open, else through a ``response_url``, else
    privately in ``channel``."""

    user_id: str
    channel: str | None = None
    response_url: str | None = None
    view_id: str | None = None


class ApprovalBoard(Protocol):
    """Where approval requests are shown and people are told about them (the Slack edge implements it)."""

    def post_request(self, channel: str, approval: Approval) -> str | None:
        """Post the request (preview, Approve, Decline) to ``channel``; its ts, or None when it could not."""
        ...

    def show_request(self, approval: Approval, status: AckStatus | None = None) -> None:
        """Redraw the posted request as it stands now (decided, expired, sent with ``status``)."""
        ...

    def tell(self, person: Person, news: ApprovalNews) -> None: ...

    def shared_channel(self, channel: str) -> bool:
        """Whether ``channel`` is shared with another organisation (Slack Connect); True when that is not known."""
        ...


class ApprovalService:
    """Asks, approvals, declines and expiry of four-eyes refunds. Thread-safe: every decision is a conditional
    write in the store, and the ledger serialises the refund itself."""

    def __init__(
        self,
        graph: GraphClient,
        store: Storage,
        *,
        runner: Runner,
        board: ApprovalBoard,
        permissions: Permissions,
        over: Decimal | None,
        channel: str | None,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._graph = graph
        self._store = store
        self._runner = runner
        self._ledger: Ledger = runner.ledger
        self._board = board
        self._permissions = permissions
        self._over = over
        self._channel = channel
        self._ttl = ttl_seconds
        self._clock = clock

    def needs_approval(self, preview: RefundPreview) -> bool:
        """Whether the refund's total before tax is strictly greater than ``ORDERDESK_REFUND_APPROVAL_OVER``."""
        return self._over is not None and preview.total > self._over

    def submit(
        self,
        actions: OrderActionsService,
        request: Request,
        preview: RefundPreview,
        params: Mapping[str, Any],
        *,
        view_id: str | None = None,
    ) -> None:
        """The Refund modal's final submission: sent like every card action (``params``, checked against the
        order), or, when its total is over ``ORDERDESK_REFUND_APPROVAL_OVER``, asked for a second person's approval
        (the requester hears where, on the modal)."""
        if not self.needs_approval(preview):
            actions.submit(REFUND, request, params, view_id=view_id)
            return
        refused = actions.refusal(REFUND, request)
        if refused is not None:
            self._board.tell(Person(request.user_id, request.channel_id, request.response_url, view_id), refused)
            return
        self.request_approval(request, preview, view_id=view_id)

    def request_approval(self, request: Request, preview: RefundPreview, *, view_id: str | None = None) -> None:
        """:meth:`ask`, and tell the requester how it went (on their modal while it is open)."""
        person = Person(request.user_id, request.channel_id, request.response_url, view_id)
        self._board.tell(person, self.ask(request, preview))

    def ask(self, request: Request, preview: RefundPreview) -> ApprovalNews:
        """Storage and post a request for ``preview`` (already checked) under the request's key; tell nobody yet.

        Without ``ORDERDESK_APPROVAL_CHANNEL`` the request goes to the card's channel, unless that is a direct
        message or a Slack Connect channel (people of another organisation would see, and could not decide).

        A request made from a list's line (:attr:`Request.listed`) keeps no response URL: the refund, once approved,
        would otherwise redraw the whole list as this order's card; the requester hears privately in the channel
        or, failing that, in a DM.
        """
        channel = self._channel or request.channel_id
        direct = channel is None or channel.startswith("D")
        if channel is None or (self._channel is None and (direct or self._board.shared_channel(channel))):
            where = "a direct message" if direct else "a Slack Connect channel"
            return ApprovalNotPossible(
                request.order_id,
                f"This refund of {preview.money(preview.total)} needs a second person's approval, which is not "
                f"asked in {where}. Open the order from a team channel, or ask an admin to set "
                "ORDERDESK_APPROVAL_CHANNEL.",
            )
        now = self._clock()
        row = {
            "id": uuid.uuid4().hex,
            "operation": REFUND_ORDER,
            "order_id": request.order_id,
            "key": request.key,
            "params": json.dumps(preview.to_json(), sort_keys=True),
            "total": money.plain_amount(preview.total, preview.currency),
            "currency": preview.currency,
            "requester_id": request.user_id,
            "requester_team": request.user_team_id,
            "origin_channel": request.channel_id,
            # A request from a list's line names no card: the approved refund must not take the list for one.
            "origin_ts": None if request.ephemeral or request.listed else request.message_ts,
            "origin_response_url": None if request.listed else request.response_url,
            "state": "pending",
            "created_at": now,
            "expires_at": now + self._ttl,
        }
        if not self._store.approval_create(row):
            existing = self._store.approval_for_key(request.key)
            if existing is None:  # pragma: no cover - a key is never removed
                raise RuntimeError(f"approval for key {request.key} vanished")
            earlier = approval_from_row(existing)
            if earlier.preview != preview:
                return ApprovalConflict(earlier)
            return AwaitingApproval(earlier, again=True) if earlier.state == "pending" else ApprovalClosed(earlier)
        approval = approval_from_row({**row, **_UNSET})
        ts = self._board.post_request(channel, approval)
        if ts is None:
            self._store.approval_move(
                approval.id, from_state="pending", to_state="expired", now=now, detail="could not be posted"
            )
            return ApprovalNotPossible(
                request.order_id, f"orderdesk could not post the approval request in <#{channel}>: nothing was sent."
            )
        self._store.approval_set_message(approval.id, channel=channel, ts=ts)
        self._audit(approval, request.user_id, "requested", f"{approval.total} in {channel}")
        return AwaitingApproval(replace(approval, channel=channel, ts=ts))

    def approve(self, approval_id: str, actor: Actor, person: Person) -> None:
        """An Approve click: one winner reads the order again, re-checks the refund and sends it."""
        approval = self._get(approval_id, person)
        if approval is None or not self._may_decide(approval, actor, person):
            return
        if actor.user_id == approval.requester_id:
            self._audit(approval, actor.user_id, "refused: own request")
            self._board.tell(person, OwnRequest(approval))
            return
        moved = self._store.approval_move(
            approval_id,
            from_state="pending",
            to_state="approved",
            now=self._clock(),
            user_id=actor.user_id,
            unexpired=True,
        )
        if moved is None:
            self._lost(approval_id, person)
            return
        approved = approval_from_row(moved)
        self._audit(approved, actor.user_id, "approved", approved.total)
        self._send(approved, person)

    def decline(self, approval_id: str, actor: Actor, person: Person) -> None:
        """A Decline click by an approver, or the requester withdrawing their own request."""
        approval = self._get(approval_id, person)
        if approval is None:
            return
        own = actor.user_id == approval.requester_id
        if not own and not self._may_decide(approval, actor, person):
            return
        detail = WITHDRAWN if own else "declined"
        moved = self._store.approval_move(
            approval_id,
            from_state="pending",
            to_state="declined",
            now=self._clock(),
            user_id=actor.user_id,
            detail=detail,
        )
        if moved is None:
            self._lost(approval_id, person)
            return
        declined = approval_from_row(moved)
        self._audit(declined, actor.user_id, "withdrawn" if own else "declined")
        self._ended(declined, decider=None if own else person)

    def expire_due(self) -> int:
        """Expire every pending request past its time; each is ended by exactly one caller. How many this ended."""
        ended = 0
        now = self._clock()
        for row in self._store.approvals_due(now=now):
            moved = self._store.approval_move(
                str(row["id"]), from_state="pending", to_state="expired", now=now, detail="expired"
            )
            if moved is None:
                continue
            ended += 1
            expired = approval_from_row(moved)
            self._audit(expired, "orderdesk", "expired")
            self._ended(expired, decider=None)
        return ended

    def resume_stalled(self) -> int:
        """Send approved requests whose process died before the ledger claim (the claim is idempotent by key), or
        whose order Meta could not be read to check it again. One approved longer ago than the approval window
        without being sent is ended instead: the approver approved the order as it was then."""
        now = self._clock()
        rows = self._store.approvals_stalled(decided_before=now - STALLED_AFTER_SECONDS)
        for row in rows:
            approval = approval_from_row(row)
            if (approval.decided_at or now) < now - self._ttl:
                moved = self._store.approval_move(
                    approval.id, from_state="approved", to_state="declined", now=now, detail=STALE
                )
                if moved is not None:
                    self._audit(approval, "orderdesk", "expired", STALE)
                    self._ended(approval_from_row(moved), decider=None)
                continue
            log.warning("resuming approved refund %s of order %s", approval.id, approval.order_id)
            self._send(approval, None)
        return len(rows)

    def work(self) -> None:
        """The background worker: expiry, then approvals left unsent."""
        self.expire_due()
        self.resume_stalled()

    def for_order(self, order_id: str) -> list[Approval]:
        return [approval_from_row(row) for row in self._store.approvals_for_order(order_id)]

    def get(self, approval_id: str) -> Approval | None:
        row = self._store.approval_get(approval_id)
        return approval_from_row(row) if row else None

    # The approved path.

    def _send(self, approval: Approval, approver: Person | None) -> None:
        """Re-check the approved refund against the order as Meta has it now, then claim and send it."""
        try:
            order = self._graph.get_order(approval.order_id, REFUND_ORDER_FIELDS)
        except GraphError as error:
            # Left approved: the worker resumes it once Meta answers again.
            log.warning("could not re-read order %s for approval %s: %s", approval.order_id, approval.id, error)
            if approver is not None:
                self._board.tell(approver, ApprovalDelayed(approval))
            return
        changed = self._changed(approval, order)
        if changed is not None:
            moved = self._store.approval_move(
                approval.id, from_state="approved", to_state="declined", now=self._clock(), detail=changed
            )
            if moved is not None:
                declined = approval_from_row(moved)
                self._audit(declined, approval.decided_by or "orderdesk", "refused: order changed", changed)
                self._ended(declined, decider=approver)
            return
        request = self._request(approval)
        claim = self._ledger.claim(
            key=approval.key,
            operation=REFUND_ORDER,
            order_id=approval.order_id,
            params=refund_params(approval.preview),
            user_id=approval.requester_id,
            team_id=approval.requester_team,
            channel_id=approval.origin_channel,
            message_ts=approval.origin_ts,
        )
        if claim.conflict:
            words = "This card already sent a different change with the same key; open the order again."
            moved = self._store.approval_move(
                approval.id, from_state="approved", to_state="declined", now=self._clock(), detail=words
            )
            if moved is not None:
                self._ended(approval_from_row(moved), decider=approver)
            return
        if claim.blocked is not None:
            # Another change of the order is in flight: back to pending (holding nothing), to approve again.
            back = self._store.approval_move(approval.id, from_state="approved", to_state="pending", now=self._clock())
            if approver is not None and back is not None:
                self._board.tell(approver, ApprovalBusy(approval_from_row(back)))
            return
        entry: LedgerEntry | None = claim.entry
        if not claim.won:
            entry = self._ledger.take_over(approval.key)
        moved = self._store.approval_move(approval.id, from_state="approved", to_state="sent", now=self._clock())
        sent = approval_from_row(moved) if moved is not None else replace(approval, state="sent")
        if entry is None:  # the same intent is in flight or done already: show where it stands
            current = self._ledger.get(approval.key)
            status = status_of(current) if current is not None else _waiting(approval)
        else:
            if claim.won:
                self._runner.remember(request)
            recorded = self._runner.drive(entry, request)
            status = status_of(recorded)
        self._show(sent, status)
        news = RefundSent(sent, status)
        self._board.tell(_requester(sent), news)
        if approver is not None:
            self._board.tell(approver, news)

    def _changed(self, approval: Approval, order: Mapping[str, Any]) -> str | None:
        """Why the approved refund cannot be sent to the order as it is now, in words; None when it still fits."""
        left = remaining(order)
        checked = check_refund(left, approval.preview.ask())
        if isinstance(checked, RefundProblems):
            reasons = " ".join(checked.fields.values())
            return f"The order changed since the request: {reasons}"
        if set(left.refund_ids) != set(approval.preview.refund_ids):
            return "The order changed since the request: another refund was made. Check the order and ask again."
        if refund_params(checked) != refund_params(approval.preview):
            return "The order changed since the request (its prices or items). Check the order and ask again."
        return None

    # Helpers.

    def _get(self, approval_id: str, person: Person) -> Approval | None:
        approval = self.get(approval_id)
        if approval is None:
            self._board.tell(person, ApprovalUnknown(approval_id))
        return approval

    def _may_decide(self, approval: Approval, actor: Actor, person: Person) -> bool:
        refusal = self._permissions.refusal(actor, order_id=approval.order_id, key=approval.key, action=APPROVAL)
        if refusal is not None:
            self._board.tell(person, refusal)
        return refusal is None

    def _lost(self, approval_id: str, person: Person) -> None:
        """Someone else decided first, or the request expired: say how it stands (and end it if it expired)."""
        current = self.get(approval_id)
        if current is None:
            self._board.tell(person, ApprovalUnknown(approval_id))
            return
        if current.state == "pending" and current.expires_at <= self._clock():
            self.expire_due()
            current = self.get(approval_id) or current
        self._board.tell(person, ApprovalClosed(current))

    def _ended(self, approval: Approval, *, decider: Person | None) -> None:
        self._show(approval)
        self._board.tell(_requester(approval), ApprovalEnded(approval))
        if decider is not None and decider.user_id != approval.requester_id:
            self._board.tell(decider, ApprovalEnded(approval))

    def _show(self, approval: Approval, status: AckStatus | None = None) -> None:
        """Redraw the posted request, naming its message from a fresh read (it is stored just after posting)."""
        if approval.ts is None:
            current = self.get(approval.id)
            if current is not None:
                approval = replace(approval, channel=current.channel, ts=current.ts)
        self._board.show_request(approval, status)

    def _request(self, approval: Approval) -> Request:
        """The refund's request as the requester made it, so the runner updates their card and tells them."""
        return Request(
            order_id=approval.order_id,
            key=approval.key,
            user_id=approval.requester_id,
            user_team_id=approval.requester_team,
            workspace_id=approval.requester_team,
            channel_id=approval.origin_channel,
            message_ts=approval.origin_ts,
            ephemeral=approval.origin_ts is None,
            response_url=approval.origin_response_url,
        )

    def _audit(self, approval: Approval, user_id: str, outcome: str, detail: str | None = None) -> None:
        self._store.add_audit(
            action=APPROVAL,
            order_id=approval.order_id,
            user_id=user_id,
            team_id=None,
            key=approval.key,
            outcome=outcome,
            detail=detail,
        )


_UNSET = {"channel": None, "ts": None, "decided_by": None, "decided_at": None, "detail": None}


def _requester(approval: Approval) -> Person:
    """The requester, where they asked (the board falls back to a DM when that no longer works)."""
    return Person(approval.requester_id, approval.origin_channel, approval.origin_response_url)


def _waiting(approval: Approval) -> AckStatus:
    return AckStatus("pending", approval.requester_id, approval.decided_at or approval.created_at, key=approval.key)
