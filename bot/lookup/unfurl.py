"""Link unfurling: which Commerce Manager order links a message holds, and the PII-free orders to show for them.

Slack sends ``link_shared`` more than once for one link (from the composer as it is typed, then from the posted
message), and several processes may serve the bot: the database decides who reads an order from Meta
(:meth:`bot.storage.ports.UnfurlReads.claim_unfurl_read`), so an order costs at most one Graph request per
``window_seconds``. The others unfurl from the index, which holds what the winner read (buyer data stripped); an
order nobody could read (unknown to Meta) is in neither, and unfurls to nothing. A read that failed for a reason
time fixes (Meta did not answer, or rate limited) gives its claim back, so the next event may read the order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from bot.domain import problems
from bot.domain.order import strip_pii
from bot.graph.client import GraphClient, GraphError
from bot.storage.ports import OrderIndex, UnfurlReads

log = logging.getLogger(__name__)

COMMERCE_MANAGER_HOST = "business.facebook.com"
WINDOW_SECONDS = 60.0
MAX_LINKS = 10  # a message with more order links than this unfurls its first ten: each may cost a Graph request
# Failed reads that give the claim back: Meta may answer the next event's read. An order Meta refuses or does not
# know keeps its claim, so repeated events for it cost no more than one read a window.
RETRY_SOON = frozenset({"transient", "rate_limited"})

# What the PII-free card shows: no buyer details at all, and the shipping address only down to the city.
UNFURL_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "created",
        "last_updated",
        "channel",
        "merchant_order_id",
        "ship_by_date",
        "shipping_address{city,state,country}",
        "estimated_payment_details",
        "selected_shipping_option",
        "items.limit(100){id,retailer_id,product_id,product_name,quantity,price_per_unit}",
        "shipments{id,tracking_info,items}",
        "cancellations{id,cancel_reason,items}",
        "refunds{id,refund_reason,refund_amount,items}",
    )
)

_ORDER_ID = re.compile(r"[0-9]{10,20}")


class UnfurlStorage(OrderIndex, UnfurlReads, Protocol):
    """What unfurling keeps: the order index and the per-order read claims."""


def order_links(urls: Sequence[str], commerce_manager_url: str) -> dict[str, str]:
    """The order id of each URL that is a Commerce Manager order link (``…/orders/<id>`` or ``…/orders?order_id=
    <id>`` on ``business.facebook.com`` or on the configured Commerce Manager's host); other links are left out.
    Keys are the URLs exactly as given, since ``chat.unfurl`` matches its entries to the links by them."""
    hosts = {COMMERCE_MANAGER_HOST, (urlsplit(commerce_manager_url).hostname or "").lower()} - {""}
    found: dict[str, str] = {}
    for url in urls:
        order_id = _order_id(url, hosts)
        if order_id is not None and len(found) < MAX_LINKS:
            found[url] = order_id
    return found


def _order_id(url: str, hosts: set[str]) -> str | None:
    try:
        parts = urlsplit(url.replace("&amp;", "&").strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises for a port out of range, which no real link has
    except ValueError:  # a malformed port or bracket: not a link orderdesk knows
        return None
    if parts.scheme not in ("http", "https") or host not in hosts:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if "orders" not in segments:
        return None
    after = segments[segments.index("orders") + 1 :]
    if after and _ORDER_ID.fullmatch(after[0]):
        return after[0]
    if not after:
        ids = parse_qs(parts.query).get("order_id", [])
        if len(ids) == 1 and _ORDER_ID.fullmatch(ids[0]):
            return ids[0]
    return None


class Unfurler:
    """The orders behind a message's links, for the Slack edge to draw. Thread-safe: it keeps no state of its own."""

    def __init__(self, graph: GraphClient, store: UnfurlStorage, *, window_seconds: float = WINDOW_SECONDS) -> None:
        self._graph = graph
        self._store = store
        self._window = window_seconds

    def orders_for(self, links: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """``{url: order}`` for the links whose order is known (``links`` maps URLs to order ids), each order
        without buyer data; links to unknown orders are absent."""
        orders: dict[str, dict[str, Any] | None] = {}
        for order_id in dict.fromkeys(links.values()):
            orders[order_id] = self._order(order_id)
        return {url: order for url, order_id in links.items() if (order := orders[order_id]) is not None}

    def _order(self, order_id: str) -> dict[str, Any] | None:
        if self._store.claim_unfurl_read(order_id, within_seconds=self._window):
            try:
                order = self._graph.get_order(order_id, UNFURL_FIELDS)
            except GraphError as error:
                # Unknown orders are the common case (a typo, another shop's link); the rest an admin may want.
                log.info("no unfurl for an order link: %s code=%s", type(error).__name__, error.code)
                if problems.kind_of(error) in RETRY_SOON:
                    self._store.release_unfurl_read(order_id)  # the next event may try: nothing was read
                return None
            self._store.upsert_order(order)
            return strip_pii(order)
        indexed = self._store.get_order(order_id)
        return strip_pii(indexed.data) if indexed is not None else None
