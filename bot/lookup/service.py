"""The order service: find orders by Facebook order ID or merchant reference and answer in plain language.

Listeners hand it what the agent asked (:mod:`bot.lookup.query` parses it) and get back one :data:`Answer` per lookup:
an order to draw as a card, the orders sharing an ambiguous reference, or a :class:`Problem` in words an agent
can act on. Answers are values, never Block Kit: the Slack edge draws them (:mod:`bot.slack.views.lookup`).
Graph failures never escape as exceptions: each kind (unknown order, token, permission, rate limit, Meta down)
becomes its own answer in the words of :mod:`bot.domain.problems`, and the ones an admin must fix are logged with
Graph's code and fbtrace_id.

Cost. A card costs exactly one Graph request (``ORDER_CARD_FIELDS`` expands every edge inline), whether it was
asked for by ID or by an indexed reference. A reference the index does not know triggers one bounded scan of
recent orders (``fields=id,merchant_order_id,...``, newest first, at most ``lookup_scan_max_pages`` pages of orders
updated within ``lookup_scan_max_age_days``); what the scan reads fills the index, and the miss is remembered for
``lookup_scan_cache_seconds`` so an agent retrying a typo does not rescan Meta each time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.actions.ledger import Ledger, new_key
from bot.actions.status import CARD_SHARED, status_of
from bot.config import Settings
from bot.domain import problems
from bot.domain.acknowledgement import AckStatus
from bot.domain.text import clip, escape
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient, GraphError
from bot.lookup.query import EXAMPLE, Query, QueryError, parse_order_id
from bot.storage.ports import Storage
from bot.storage.rows import IndexedOrder

log = logging.getLogger(__name__)

SCAN_FIELDS = "id,merchant_order_id,order_status,created,last_updated"
# References are set when an order is acknowledged, so only acknowledged orders can carry one.
SCAN_STATES = ("IN_PROGRESS", "COMPLETED")
CONTACT_FIELDS = "id,order_status,buyer_details{name,email,email_remarketing_option,phone_number},shipping_address"
DAY_SECONDS = 86_400


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


@dataclass(frozen=True)
class Contact:
    """The buyer's contact details and shipping address for one agent, as Meta returned them (``CONTACT_FIELDS``)."""

    order: dict[str, Any]


Answer = OrderFound | Ambiguous | Problem


class OrderService:
    """Lookups for ``/order``, the "Look up order" shortcut and the card buttons. Thread-safe: the Graph client
    and the store are, and the service keeps no state of its own."""

    def __init__(
        self, settings: Settings, graph: GraphClient, store: Storage, *, clock: Callable[[], float] = time.time
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

    def find_for_sharing(self, order_id: str) -> OrderFound | Problem:
        """The order behind a "Share in channel" button, for the PII-free channel card the caller draws."""
        try:
            return self._by_id(parse_order_id(order_id))
        except QueryError as error:
            return Problem(str(error))
        except GraphError as error:
            return Problem(self._explain(error, Query("id", order_id)))

    def remember_shared(self, order_id: str, *, channel: str, ts: str, user_id: str) -> None:
        """Remember a shared card, so that an acknowledgement updates it like any other card of the order."""
        self._store.remember_card(order_id, channel=channel, ts=ts, response_url=None, kind=CARD_SHARED + user_id)

    def contact(self, order_id: str, *, user_id: str, team_id: str | None) -> Contact | Problem:
        """The buyer's contact details and address for one agent, and an audit row saying who saw them (never
        what they saw)."""
        answer: Contact | Problem
        try:
            order = self._graph.get_order(parse_order_id(order_id), CONTACT_FIELDS)
        except QueryError as error:
            return Problem(str(error))
        except GraphError as error:
            outcome, answer = f"failed: {type(error).__name__}", Problem(self._explain(error, Query("id", order_id)))
        else:
            outcome, answer = "shown", Contact(order)
        self._store.add_audit(
            action="show_contact", order_id=order_id, user_id=user_id, team_id=team_id, outcome=outcome
        )
        return answer

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
        cached = problems.minutes(settings.lookup_scan_cache_seconds)
        when_searched = "just now" if scanned else f"within the last {cached}"
        return (
            f"No order with merchant reference `{clip(escape(reference), 100)}` on this Page. I searched "
            f"{searched} {when_searched}. Check the reference, or look the order up by its Facebook order ID, "
            f"e.g. `/order 7001234567890`."
        )

    def _explain(self, error: GraphError, query: Query) -> str:
        """Plain words for a Graph failure; the ones only an admin can fix are logged for them."""
        if problems.needs_admin(error):
            log.error(
                "Graph refused orderdesk's Page token: %s code=%s subcode=%s fbtrace_id=%s",
                type(error).__name__,
                error.code,
                error.subcode,
                error.fbtrace_id,
            )
        elif problems.kind_of(error) == "refused":
            log.error("Graph could not look up %s: %s", query.value, error)
        return problems.for_agent(error, clip(escape(query.value), 100), example=EXAMPLE)
