"""Order actions from a card (Mark shipped…, Update tracking…, Cancel order…, Refund…): what every one shares.

Each action is a modal opened from a card's button and one :class:`OrderAction` (an :class:`Operation` that also
checks the agent's form). The flow is the same for all of them:

* The key belongs to the card: drawn with it, kept across its redraws until a write of the order finishes,
  derived per action (:func:`derived_key`), carried in the button and in the modal's metadata, so a double-click
  that opens two modals, or one before and one after a redraw, is still one intent.
* The modal is filled from a :class:`Snapshot` of the order read once when it opens; the form is checked against
  that snapshot alone (no Graph call while Slack waits), then a review step shows what will be sent.
* The final submission goes through the ledger and the runner: the same key with the same parameters makes one
  POST, the same key with other parameters is refused without calling Meta, and only one write per order is in
  flight at a time (:func:`bot.actions.entries.write_lock`). A transient failure is retried by the sweeper with
  the same key and parameters, then handed to a person; an ambiguous outcome is confirmed by reading the order.
* Afterwards every card of the order is redrawn, with new keys only when the write succeeded or was refused for
  good (:meth:`bot.actions.ledger.Ledger.card_token`), and a notification card gets one thread line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.actions.answers import ActionConflict, ActionOutcome, Answer, NotAllowed, NotShown, Requester, WriteBusy
from bot.actions.ledger import Ledger, LedgerEntry, RetryPolicy
from bot.actions.operation import Operation, Request
from bot.actions.permissions import Groups, Permissions
from bot.actions.runner import CrashPoints, Publisher, Runner
from bot.actions.sweeper import sweep
from bot.config import Settings
from bot.domain.order import edge_records, order_state
from bot.domain.remaining import remaining, to_compact
from bot.graph.client import GraphClient
from bot.graph.wire import segment
from bot.storage.ports import Storage

log = logging.getLogger(__name__)

# The card actions, as buttons and modals name them.
SHIP = "ship"
TRACKING = "update_tracking"
CANCEL = "cancel"
REFUND = "refund"

# Everything a modal needs to know of the order, in one Graph request.
ACTION_ORDER_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "created",
        "merchant_order_id",
        "estimated_payment_details",
        "items.limit(100){id,retailer_id,product_name,quantity,price_per_unit,status}",
        "shipments.limit(100){id,external_shipment_id,tracking_info,items}",
        "cancellations.limit(100){id,cancel_reason,items}",
        "refunds.limit(100){id,refund_reason,refund_amount,items}",
    )
)

FB_PROCESSING_CANCEL_AFTER = 24 * 3600  # Meta lets a seller cancel an order held in processing after 24 hours
MAX_FORM_LINES = 20  # items a modal lists one by one (Slack allows 100 blocks; the metadata 3000 characters)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _units(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for entry in entries:
        for line in edge_records(entry.get("items")):
            item_id = str(line.get("id"))
            units[item_id] = units.get(item_id, 0) + _int(line.get("quantity"))
    return units


def shipped_units(order: Mapping[str, Any]) -> dict[str, int]:
    """Units of each item (by item id) that shipments carried."""
    return _units(edge_records(order.get("shipments")))


def unshipped_units(order: Mapping[str, Any]) -> dict[str, int]:
    """Units of each item still open (neither shipped nor cancelled): what a shipment or a cancellation may take.

    Meta's item ``status`` object says it directly when the order was read with it; otherwise it is counted from
    the order's shipments and cancellations.
    """
    shipped, cancelled = shipped_units(order), _units(edge_records(order.get("cancellations")))
    open_units: dict[str, int] = {}
    for item in edge_records(order.get("items")):
        item_id = str(item.get("id"))
        status = item.get("status")
        if isinstance(status, Mapping) and "in_progress" in status:
            open_units[item_id] = max(0, _int(status.get("in_progress")))
        else:
            open_units[item_id] = max(
                0, _int(item.get("quantity")) - shipped.get(item_id, 0) - cancelled.get(item_id, 0)
            )
    return open_units


def _created(order: Mapping[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(order.get("created"))).timestamp()
    except ValueError:
        return None


def offered_actions(order: Mapping[str, Any], *, now: float | None = None) -> list[str]:
    """The card actions the order's state allows, in the order the card shows them.

    Mark shipped: acknowledged with unshipped units. Update tracking: any shipment. Cancel: awaiting
    acknowledgement, acknowledged with unshipped units, or held in processing for more than 24 hours. Refund:
    shipped value not yet refunded.
    """
    state = order_state(order)
    has_open = any(unshipped_units(order).values())
    created = _created(order)
    now = time.time() if now is None else now
    held_long = state == "FB_PROCESSING" and created is not None and now - created >= FB_PROCESSING_CANCEL_AFTER
    offered = []
    if state == "IN_PROGRESS" and has_open:
        offered.append(SHIP)
    if edge_records(order.get("shipments")):
        offered.append(TRACKING)
    if state == "CREATED" or (state == "IN_PROGRESS" and has_open) or held_long:
        offered.append(CANCEL)
    if remaining(order).refundable:  # shipped value not yet refunded
        offered.append(REFUND)
    return offered


@dataclass(frozen=True)
class Line:
    """One item of the order as a modal shows it: its id, name, open and shipped units, and unit price."""

    item_id: str
    name: str
    open: int
    shipped: int
    price: str | None = None  # decimal string, as Meta writes amounts
    currency: str | None = None


@dataclass(frozen=True)
class Shipment:
    """One shipment of the order as the tracking modal offers it."""

    shipment_id: str
    carrier: str
    tracking_number: str
    units: int
    external_id: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What a modal was filled from: the order as read when it opened, small enough for the modal's metadata."""

    order_id: str
    state: str
    lines: tuple[Line, ...]
    tracking_numbers: tuple[str, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    offered: tuple[str, ...] = ()
    more_lines: int = 0  # items left out of ``lines`` (beyond :data:`MAX_FORM_LINES`)
    cancellations: tuple[str, ...] = ()  # ids of the order's cancellations when the modal opened
    refund: dict[str, Any] | None = None  # what is left to refund (bot.domain.remaining.to_compact), when offered

    def line(self, item_id: str) -> Line | None:
        return next((line for line in self.lines if line.item_id == item_id), None)

    @property
    def open_units(self) -> int:
        return sum(line.open for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "o": self.order_id,
            "st": self.state,
            "l": [[x.item_id, x.name, x.open, x.shipped, x.price, x.currency] for x in self.lines],
            "t": list(self.tracking_numbers),
            "s": [[s.shipment_id, s.carrier, s.tracking_number, s.units, s.external_id] for s in self.shipments],
            "a": list(self.offered),
            "m": self.more_lines,
            "c": list(self.cancellations),
            **({"r": self.refund} if self.refund is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        """The snapshot :meth:`to_json` wrote; ValueError for anything else."""
        try:
            return cls(
                order_id=str(data["o"]),
                state=str(data["st"]),
                lines=tuple(
                    Line(str(i), str(n), int(o), int(s), None if p is None else str(p), None if c is None else str(c))
                    for i, n, o, s, p, c in data["l"]
                ),
                tracking_numbers=tuple(str(t) for t in data["t"]),
                shipments=tuple(
                    Shipment(str(i), str(c), str(t), int(u), None if e is None else str(e))
                    for i, c, t, u, e in data["s"]
                ),
                offered=tuple(str(a) for a in data["a"]),
                more_lines=int(data["m"]),
                cancellations=tuple(str(c) for c in data.get("c", [])),
                refund=_refund_data(data.get("r")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError("not a snapshot orderdesk wrote") from error


def _refund_data(value: object) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError("refund data is not an object")
    return value


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def snapshot(order: Mapping[str, Any], *, now: float | None = None) -> Snapshot:
    """The :class:`Snapshot` of an order read with :data:`ACTION_ORDER_FIELDS`."""
    open_units, shipped = unshipped_units(order), shipped_units(order)
    items = edge_records(order.get("items"))
    lines = []
    for item in items[:MAX_FORM_LINES]:
        item_id = str(item.get("id"))
        price = item.get("price_per_unit")
        price = price if isinstance(price, Mapping) else {}
        name = _text(item.get("product_name"), 60) or _text(item.get("retailer_id"), 60) or f"item {item_id}"
        lines.append(
            Line(
                item_id,
                name,
                open_units.get(item_id, 0),
                shipped.get(item_id, 0),
                _text(price.get("amount"), 30) or None,
                _text(price.get("currency"), 5) or None,
            )
        )
    shipments = []
    for entry in edge_records(order.get("shipments"))[:MAX_FORM_LINES]:
        tracking = entry.get("tracking_info")
        tracking = tracking if isinstance(tracking, Mapping) else {}
        units = sum(_int(line.get("quantity")) for line in edge_records(entry.get("items")))
        external = _text(entry.get("external_shipment_id"), 100) or None
        shipments.append(
            Shipment(
                str(entry.get("id")),
                _text(tracking.get("carrier"), 60),
                _text(tracking.get("tracking_number"), 100),
                units,
                external,
            )
        )
    numbers = tuple(
        str(t)
        for t in (
            (s.get("tracking_info") or {}).get("tracking_number")
            if isinstance(s.get("tracking_info"), Mapping)
            else None
            for s in edge_records(order.get("shipments"))
        )
        if t
    )
    offered = tuple(offered_actions(order, now=now))
    return Snapshot(
        order_id=str(order.get("id")),
        state=order_state(order) or "",
        lines=tuple(lines),
        tracking_numbers=numbers,
        shipments=tuple(shipments),
        offered=offered,
        more_lines=max(0, len(items) - MAX_FORM_LINES),
        cancellations=tuple(str(c.get("id")) for c in edge_records(order.get("cancellations"))),
        refund=to_compact(remaining(order)) if REFUND in offered else None,
    )


@dataclass(frozen=True)
class Started:
    """A final submission once decided: the claimed ``entry`` to send, or the ``answer`` (nothing to send)."""

    entry: LedgerEntry | None = None
    answer: Answer | None = None


@dataclass(frozen=True)
class Checked:
    """A form checked against its snapshot: the Graph parameters to send, or what is wrong, by field name."""

    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class OrderAction(Operation, Protocol):
    """An :class:`Operation` started from a card's modal: it also checks the form and says what it did."""

    action: str  # the card action (:data:`SHIP`, ...)
    verb: str  # for permissions: "You are not allowed to <verb> orders"
    noun: str  # for conflicts: "this card already sent a different <noun>"

    def check(self, snap: Snapshot, values: Mapping[str, Any], key: str) -> Checked:
        """The agent's form (field name → typed value) against the order as the modal showed it; ``key`` is the
        intent's idempotency key (a shipment sends it as its ``external_shipment_id`` when the agent gave none)."""
        ...

    def summary(self, params: Mapping[str, Any], snap: Snapshot | None = None) -> str:
        """What the parameters do, in words ("Shipped 2 items with UPS 1Z…"), for thread lines and history."""
        ...


LOCAL_PREFIX = "_"  # a stored parameter only orderdesk reads (what confirms a lost answer); never sent to Meta


def sent_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The stored parameters Meta receives: all but orderdesk's own (:data:`LOCAL_PREFIX`)."""
    return {name: value for name, value in params.items() if not name.startswith(LOCAL_PREFIX)}


def post(graph: GraphClient, edge: str, entry: LedgerEntry) -> dict[str, Any]:
    """``POST /{order-id}/{edge}`` with the stored key and the stored parameters, exactly as claimed."""
    params = {"idempotency_key": entry.key, **sent_params(entry.params)}
    return graph.send("POST", f"{segment(entry.order_id)}/{edge}", params)


def read_order(graph: GraphClient, order_id: str) -> dict[str, Any]:
    return graph.get_order(order_id, ACTION_ORDER_FIELDS)


class OrderActionsService:
    """The card actions' service: who may act, the order a modal is filled from, and the write itself.

    Knows no chat: requests come in as :class:`Request`, answers go out through the ``publisher``.
    """

    def __init__(
        self,
        settings: Settings,
        graph: GraphClient,
        store: Storage,
        *,
        publisher: Publisher,
        actions: Sequence[OrderAction],
        groups: Groups | None = None,
        crash_points: CrashPoints | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._graph = graph
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self.ledger = Ledger(store, lease_seconds=settings.ack_lease_seconds, retry=retry, clock=clock)
        self._actions = {action.action: action for action in actions}
        self._by_operation = {action.name: action for action in actions}
        self.runner = Runner(
            graph, store, self.ledger, publisher, list(actions), crash_points=crash_points, describe=self.describe
        )
        self.permissions = action_permissions(settings, store, groups)

    def describe(self, entry: LedgerEntry) -> str:
        """What a ledger entry of a card action does, in words."""
        return self._by_operation[entry.operation].summary(entry.params)

    def action(self, name: str) -> OrderAction | None:
        return self._actions.get(name)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self._actions)

    def refusal(self, action: str, request: Request) -> NotAllowed | NotShown | None:
        """Why ``request``'s clicker may not take ``action`` on its order (audited), or None. No call to Meta."""
        refused: NotAllowed | NotShown | None = self.permissions[action].refusal(
            request.actor, order_id=request.order_id, key=request.key, action=action
        )
        if refused is None and not self._shown(request.order_id):
            self._store.add_audit(
                action=action,
                order_id=request.order_id,
                user_id=request.user_id,
                team_id=request.user_team_id,
                key=request.key,
                outcome="refused: button not from orderdesk",
            )
            refused = NotShown(request.order_id)
        return refused

    def _shown(self, order_id: str) -> bool:
        return self._store.get_order(order_id) is not None or bool(self._store.cards_for_order(order_id))

    def tell(self, requester: Requester, answer: Answer) -> None:
        self._publisher.tell(requester, answer)

    def read(self, order_id: str) -> Snapshot:
        """The order as a modal shows it, read from Meta now (GraphError when Meta cannot say)."""
        return snapshot(read_order(self._graph, order_id), now=self._clock())

    def submit(self, action: str, request: Request, params: Mapping[str, Any], *, view_id: str | None = None) -> None:
        """The final submission of a modal, start to end (:meth:`start`, then :meth:`send`); the requester hears
        the outcome on the modal (``view_id``) or privately."""
        started = self.start(action, request, params)
        requester = self.requester(request, view_id)
        if started.entry is None:
            assert started.answer is not None
            self.tell(requester, started.answer)
            return
        self.send(started.entry, request, view_id=view_id)

    @staticmethod
    def requester(request: Request, view_id: str | None) -> Requester:
        return Requester(request.user_id, request.channel_id, request.response_url, request.order_id, view_id=view_id)

    def start(self, action: str, request: Request, params: Mapping[str, Any]) -> Started:
        """Everything decided without calling Meta: permission again, then the claim. Fast enough for Slack's
        3 seconds, so a refusal, a conflict or a write already under way is answered on the modal at once.

        Returns the entry this caller must send (:meth:`send`), or the answer when there is nothing to send.
        """
        operation = self._actions[action]
        refused = self.refusal(action, request)
        if refused is not None:
            return Started(answer=refused)
        claim = self.ledger.claim(
            key=request.key,
            operation=operation.name,
            order_id=request.order_id,
            params=params,
            user_id=request.user_id,
            team_id=request.user_team_id,
            channel_id=request.channel_id,
            message_ts=request.message_ts,
            reference=None,
        )
        if claim.conflict:
            return Started(answer=ActionConflict(request.order_id, operation.noun))
        if claim.blocked is not None:
            holder = claim.entry
            return Started(answer=WriteBusy(request.order_id, holder.operation, holder.user_id, holder.state))
        if claim.won:
            self.runner.remember(request)
            return Started(entry=claim.entry)
        taken = self.ledger.take_over(request.key)  # the same intent again: re-sent if it failed transiently
        if taken is not None:
            return Started(entry=taken)
        return Started(answer=self._so_far(request, claim.entry))

    def _so_far(self, request: Request, entry: LedgerEntry) -> Answer:
        """Where the same intent stands for someone who asked again. Another person (the same card's button)
        waits on it in the database and is told its end; its owner's modal is told by the owner's request."""
        if entry.state == "pending" and entry.user_id != request.user_id:
            self.ledger.add_waiter(
                entry.key,
                order_id=request.order_id,
                user_id=request.user_id,
                channel=request.channel_id,
                response_url=request.response_url,
            )
            settled = self.ledger.get(entry.key)
            if settled is not None and settled.state != "pending":  # it ended before the waiter was written
                self.runner.tell_waiters(settled)
                entry = settled
        return self.runner.outcome(entry, request.order_id, waiting=entry.state == "pending")

    def send(self, entry: LedgerEntry, request: Request, *, view_id: str | None = None) -> None:
        """Send a claimed entry to Meta, record and publish the outcome, and tell the requester."""
        recorded = self.runner.drive(entry, request)
        self.tell(self.requester(request, view_id), self.runner.outcome(recorded, request.order_id))

    def sweep(self) -> int:
        """Finish writes whose process died and re-send transient failures that are due."""
        return sweep(self.runner)

    def outcome_of(self, key: str) -> ActionOutcome | None:
        entry = self.ledger.get(key)
        if entry is None:
            return None
        answer = self.runner.outcome(entry, entry.order_id)
        return answer if isinstance(answer, ActionOutcome) else None


def action_permissions(settings: Settings, store: Storage, groups: Groups | None) -> dict[str, Permissions]:
    """Who may take each card action: ``ORDERDESK_SHIP_ALLOWED`` (empty: whoever may acknowledge) for shipping
    and tracking, ``ORDERDESK_CANCEL_ALLOWED`` and ``ORDERDESK_REFUND_ALLOWED`` (empty: nobody)."""
    if settings.ship_allowed:
        ship = Permissions(settings.ship_allowed, store, groups, setting="ORDERDESK_SHIP_ALLOWED", verb="ship")
        tracking = Permissions(
            settings.ship_allowed, store, groups, setting="ORDERDESK_SHIP_ALLOWED", verb="update tracking of"
        )
    else:
        ship = Permissions(settings.ack_allowed, store, groups, setting="ORDERDESK_ACK_ALLOWED", verb="ship")
        tracking = Permissions(
            settings.ack_allowed, store, groups, setting="ORDERDESK_ACK_ALLOWED", verb="update tracking of"
        )
    return {
        SHIP: ship,
        TRACKING: tracking,
        CANCEL: Permissions(
            settings.cancel_allowed,
            store,
            groups,
            setting="ORDERDESK_CANCEL_ALLOWED",
            verb="cancel",
            empty_allows_all=False,
        ),
        REFUND: Permissions(
            settings.refund_allowed,
            store,
            groups,
            setting="ORDERDESK_REFUND_ALLOWED",
            verb="refund",
            empty_allows_all=False,
        ),
    }
