"""The order service: find orders by Facebook order ID or merchant reference and answer in plain language.

Listeners hand it what the agent asked (:mod:`bot.lookup.query` parses it) and get back one :data:`Answer` per lookup:
an order to draw as a card, the orders sharing an ambiguous reference, or a :class:`Problem` in words an agent
can act on. Graph failures never escape as exceptions: each kind (unknown order, token, permission, rate limit,
Meta down) becomes its own answer, and the ones an admin must fix are logged with Graph's code and fbtrace_id.

Cost. A card costs exactly one Graph request (``ORDER_CARD_FIELDS`` expands every edge inline), whether it was
asked for by ID or by an indexed reference. A reference the index does not know triggers one bounded scan of
recent orders (``fields=id,merchant_order_id,...``, newest first, at most ``lookup_scan_max_pages`` pages of orders
updated within ``lookup_scan_max_age_days``); what the scan reads fills the index, and the miss is remembered for
``lookup_scan_cache_seconds`` so an agent retrying a typo does not rescan Meta each time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.actions.ledger import Ledger, new_key
from bot.actions.status import CARD_SHARED, status_of
from bot.config import Settings
from bot.graph.client import (
    ORDER_CARD_FIELDS,
    GraphClient,
    GraphError,
    GraphPermissionError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from bot.lookup.query import EXAMPLE, Query, QueryError, parse_order_id
from bot.slack.views.blocks import (
    AckStatus,
    contact_blocks,
    escape,
    message_blocks,
    notification_text,
    order_card,
    state_words,
)
from bot.slack.views.kit import Block, clip, context, section, when
from bot.storage.sqlite.store import IndexedOrder, Store

log = logging.getLogger(__name__)

SCAN_FIELDS = "id,merchant_order_id,order_status,created,last_updated"
# References are set when an order is acknowledged, so only acknowledged orders can carry one.
SCAN_STATES = ("IN_PROGRESS", "COMPLETED")
CONTACT_FIELDS = "id,order_status,buyer_details{name,email,email_remarketing_option,phone_number},shipping_address"
AMBIGUOUS_SHOWN = 20
DAY_SECONDS = 86_400


# --- answers ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFound:
    """An order to show as a card, as Meta returned it, with what the ledger knows of its acknowledgement."""

    order: dict[str, Any]
    ack_status: AckStatus | None
    ack_key: str  # minted for this card: every click of its Acknowledge button is one intent at Meta


@dataclass(frozen=True)
class Ambiguous:
    """A merchant reference used by several orders: all of them, as indexed, for the agent to pick from."""

    reference: str
    orders: list[IndexedOrder]


@dataclass(frozen=True)
class Problem:
    """An answer instead of an order: what went wrong and what to do. ``text`` is mrkdwn, already escaped."""

    text: str


Answer = OrderFound | Ambiguous | Problem


def render(answer: Answer, *, commerce_manager_url: str) -> tuple[list[Block], str]:
    """One answer as an ephemeral message: ``(blocks, notification text)``."""
    if isinstance(answer, OrderFound):
        blocks = order_card(
            answer.order,
            commerce_manager_url=commerce_manager_url,
            ack_key=answer.ack_key,
            ack_status=answer.ack_status,
        )
        return blocks, notification_text(answer.order)
    if isinstance(answer, Ambiguous):
        return _ambiguous_blocks(answer), f"Reference {answer.reference} matches {len(answer.orders)} orders"
    return message_blocks(answer.text), answer.text


def _ambiguous_blocks(answer: Ambiguous) -> list[Block]:
    lines = [_index_line(order) for order in answer.orders[:AMBIGUOUS_SHOWN]]
    if len(answer.orders) > AMBIGUOUS_SHOWN:
        lines.append(f"…and {len(answer.orders) - AMBIGUOUS_SHOWN} more")
    reference = clip(escape(answer.reference), 100)
    return [
        section(f"*Merchant reference `{reference}` is used by {len(answer.orders)} orders:*\n" + "\n".join(lines)),
        context("Look one up by its Facebook order ID, e.g. `/order " + answer.orders[0].id + "`."),
    ]


def _index_line(order: IndexedOrder) -> str:
    parts = [f"`{escape(order.id)}`", state_words(order.state) if order.state else None, when(order.created)]
    return "• " + " · ".join(p for p in parts if p)


# --- the service -----------------------------------------------------------------------------------------------


class OrderService:
    """Lookups for ``/order``, the "Look up order" shortcut and the card buttons. Thread-safe: the Graph client
    and the store are, and the service keeps no state of its own."""

    def __init__(
        self, settings: Settings, graph: GraphClient, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._store = store
        self._ledger = Ledger(store, lease_seconds=settings.ack_lease_seconds, clock=clock)
        self._clock = clock

    def lookup(self, queries: Sequence[Query]) -> list[Answer]:
        """One answer per query, in order. Sequential: each costs at most one Graph request (plus, for an unknown
        reference, the bounded scan), and the caller has already acked Slack."""
        return [self.lookup_one(query) for query in queries]

    def lookup_one(self, query: Query) -> Answer:
        try:
            if query.kind == "id":
                return self._by_id(query.value)
            return self._by_reference(query.value)
        except GraphError as error:
            return Problem(self._explain(error, query))

    def shared_card(self, order_id: str, user_id: str) -> tuple[list[Block], str] | Problem:
        """The PII-free card of an order for the channel, credited to ``user_id`` ("Share in channel")."""
        try:
            found = self._by_id(parse_order_id(order_id))
        except QueryError as error:
            return Problem(str(error))
        except GraphError as error:
            return Problem(self._explain(error, Query("id", order_id)))
        blocks = order_card(
            found.order,
            commerce_manager_url=self._settings.commerce_manager_url,
            ack_key=found.ack_key,
            ack_status=found.ack_status,
            shared_by=user_id,
        )
        return blocks, notification_text(found.order)

    def remember_shared(self, order_id: str, *, channel: str, ts: str, user_id: str) -> None:
        """Remember a shared card, so that an acknowledgement updates it like any other card of the order."""
        self._store.remember_card(order_id, channel=channel, ts=ts, response_url=None, kind=CARD_SHARED + user_id)

    def contact(self, order_id: str, *, user_id: str, team_id: str | None) -> list[Block]:
        """The buyer's contact details and address for one agent, and an audit row saying who saw them (never
        what they saw)."""
        try:
            order = self._graph.get_order(parse_order_id(order_id), CONTACT_FIELDS)
        except QueryError as error:
            return message_blocks(str(error))
        except GraphError as error:
            outcome, blocks = (
                f"failed: {type(error).__name__}",
                message_blocks(self._explain(error, Query("id", order_id))),
            )
        else:
            outcome, blocks = "shown", contact_blocks(order)
        self._store.add_audit(
            action="show_contact", order_id=order_id, user_id=user_id, team_id=team_id, outcome=outcome
        )
        return blocks

    # --- lookups ------------------------------------------------------------------------------------------------

    def _by_id(self, order_id: str) -> OrderFound:
        order = self._graph.get_order(order_id, ORDER_CARD_FIELDS)
        self._store.upsert_order(order)  # so its reference becomes findable
        entry = self._ledger.current(str(order["id"]))
        return OrderFound(order, status_of(entry, str(order["id"])) if entry else None, new_key())

    def _by_reference(self, reference: str) -> Answer:
        order_ids = self._store.find_by_reference(reference)
        scanned = False
        if not order_ids and not self._store.scanned_recently(reference, self._settings.lookup_scan_cache_seconds):
            self._scan()
            order_ids = self._store.find_by_reference(reference)
            self._store.record_scan(reference, found=bool(order_ids))
            scanned = True
        if not order_ids:
            return Problem(self._no_reference(reference, scanned))
        if len(order_ids) == 1:
            return self._by_id(order_ids[0])
        orders = [order for order in map(self._store.get_order, order_ids) if order is not None]
        return Ambiguous(reference, orders)

    def _scan(self) -> None:
        """Index the recent orders' references: newest first, bounded by pages and by age.

        Read first, write after: the store's write lock must not be held across Graph round trips, or every
        acknowledgement claim would wait for the scan."""
        settings = self._settings
        since = int(self._clock()) - settings.lookup_scan_max_age_days * DAY_SECONDS
        recent = list(
            self._graph.iter_orders(
                state=SCAN_STATES, updated_after=since, fields=SCAN_FIELDS, max_pages=settings.lookup_scan_max_pages
            )
        )
        self._store.upsert_orders(recent)

    def _no_reference(self, reference: str, scanned: bool) -> str:
        settings = self._settings
        searched = (
            f"orderdesk's index and Meta's acknowledged orders updated in the last "
            f"{settings.lookup_scan_max_age_days} days (up to {settings.lookup_scan_max_pages} pages)"
        )
        when_searched = "just now" if scanned else f"within the last {_minutes(settings.lookup_scan_cache_seconds)}"
        return (
            f"No order with merchant reference `{clip(escape(reference), 100)}` on this Page. I searched "
            f"{searched} {when_searched}. Check the reference, or look the order up by its Facebook order ID, "
            f"e.g. `/order 7001234567890`."
        )

    # --- errors as answers ----------------------------------------------------------------------------------

    def _explain(self, error: GraphError, query: Query) -> str:
        """Plain words for a Graph failure; the ones only an admin can fix are logged for them."""
        shown = clip(escape(query.value), 100)
        if isinstance(error, NotFoundError):
            return f"No order {shown} on this Page. Check the number, or try its merchant reference. Try {EXAMPLE}."
        if isinstance(error, InvalidTokenError | GraphPermissionError):
            log.error(
                "Graph refused orderdesk's Page token: %s code=%s subcode=%s fbtrace_id=%s",
                type(error).__name__,
                error.code,
                error.subcode,
                error.fbtrace_id,
            )
            problem = (
                "its Page access token is no longer valid"
                if isinstance(error, InvalidTokenError)
                else ("its Page access token lacks a permission or Page role it needs")
            )
            return (
                f"orderdesk cannot read orders from Meta: {problem}. Please ask an orderdesk admin to fix it "
                f"(Graph error {error.code}, trace {escape(error.fbtrace_id or 'none')})."
            )
        if isinstance(error, RateLimitedError):
            wait = error.retry_after_seconds
            minutes = f"about {_minutes(wait)}" if wait else "a few minutes"
            return f"Meta is rate limiting us, try again in {minutes}."
        if isinstance(error, TransientError):
            return f"Meta did not answer while I looked up {shown}, try again."
        log.error("Graph could not look up %s: %s", query.value, error)
        words = escape(error.user_message or error.message)
        return f"Meta could not look up {shown}: {clip(words, 500)} (Graph error {error.code})."


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
