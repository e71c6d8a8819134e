"""The digest: one message for a burst of new orders instead of a flood of cards, and its "List them" answer.

A digest is redrawn as its orders move on, so its title counts those still awaiting acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.acknowledgement import ACKNOWLEDGED_STATES
from bot.domain.deadlines import Clock
from bot.slack import ids
from bot.slack.views import reading as read
from bot.slack.views import words
from bot.slack.views.clock import clock_text
from bot.slack.views.kit import (
    Block,
    actions,
    button,
    clip,
    confirm_dialog,
    escape,
    line_sections,
    money,
    plural,
    summarised,
)

DIGEST_SHOWN = 5


DIGEST_LIST_SHOWN = 100


def _acknowledged(order: Mapping[str, Any]) -> bool:
    """Whether the order, as last seen, is acknowledged (its buttons and the count then leave it out)."""
    return read.state(order) in ACKNOWLEDGED_STATES


def _digest_line(order: Mapping[str, Any], link: str | None = None, clock: Clock | None = None) -> str:
    order_id = clip(escape(read.order_id(order)), 100) or "(no id)"
    items = len(read.items(order))
    parts = [
        f"<{link}|{order_id}>" if link else order_id,
        words.channel(order),
        money(read.get(order, "estimated_payment_details", "total_amount")),
        plural(items, "item") if items else None,
        read.ship_to(order),
        read.ship_by(order) and f"ship by {read.ship_by(order)}",
        "acknowledged" if _acknowledged(order) else None,
        clock_text(clock, live=link is not None) if clock is not None else None,
    ]
    return (":white_check_mark: " if _acknowledged(order) else "• ") + " · ".join(p for p in parts if p)


def digest_text(orders: Sequence[Mapping[str, Any]]) -> str:
    """A digest's ``text`` (notification preview and fallback): how many of its orders still await acknowledgement.

    "17 new orders awaiting acknowledgement" when posted, then "3 of 17 new orders still awaiting
    acknowledgement", then "All 17 new orders acknowledged": the digest is redrawn as its orders move on.
    """
    count = len(orders)
    awaiting = count - sum(map(_acknowledged, orders))
    if awaiting == count:
        return f"{plural(count, 'new order')} awaiting acknowledgement"
    if awaiting == 0:
        return "The new order was acknowledged" if count == 1 else f"All {count} new orders acknowledged"
    return f"{awaiting} of {plural(count, 'new order')} still awaiting acknowledgement"


def digest_message(
    orders: Sequence[Mapping[str, Any]], *, digest_id: str, clocks: Mapping[str, Clock | None] | None = None
) -> list[Block]:
    """One message for a burst of new orders ("37 new orders") instead of a flood of cards.

    ``orders`` are the orders as last seen: the message counts those still awaiting acknowledgement, and once
    none is left its buttons go (there is nothing left to list or acknowledge). ``clocks`` (order id → deadline)
    put each line's deadline in the form that stays true in a posted message.
    """
    count = len(orders)
    awaiting = count - sum(map(_acknowledged, orders))
    known = clocks or {}
    lines = summarised(
        orders, lambda order: _digest_line(order, clock=known.get(read.order_id(order))), DIGEST_SHOWN, "order"
    )
    if awaiting == 0:
        return line_sections(f":white_check_mark: *{digest_text(orders)}*", lines, line_limit=300)
    if awaiting == count:
        title = f":package: *{plural(count, 'new order')}* awaiting acknowledgement"
        which = f"all {plural(count, 'order')}" if count > 1 else "this order"
    else:
        title = f":package: *{awaiting} of {plural(count, 'new order')}* still awaiting acknowledgement"
        which = f"the {plural(awaiting, 'order')} still awaiting acknowledgement"
    confirm = confirm_dialog(
        "Acknowledge all?",
        f"This acknowledges {which} at Meta, each with the configured merchant reference (if any).",
        "Acknowledge all",
    )
    return [
        *line_sections(title, lines, line_limit=300),
        *actions(
            [
                button("List them", ids.DIGEST_LIST, value=digest_id),
                button("Acknowledge all", ids.DIGEST_ACK_ALL, value=digest_id, style="primary", confirm=confirm),
            ]
        ),
    ]


def digest_list(
    orders: Sequence[Mapping[str, Any]],
    *,
    commerce_manager_url: str,
    clocks: Mapping[str, Clock | None] | None = None,
) -> list[Block]:
    """The ephemeral list behind a digest's "List them" button, each order linked to Commerce Manager, with its
    deadline in words for the reader now (``clocks``: order id → clock)."""
    known = clocks or {}

    def linked(order: Mapping[str, Any]) -> str:
        link = read.commerce_manager_link(commerce_manager_url, read.order_id(order))
        return _digest_line(order, link, known.get(read.order_id(order)))

    title = f"*Orders in this digest* ({len(orders)}); look one up with `/order &lt;id&gt;`"
    return line_sections(title, summarised(orders, linked, DIGEST_LIST_SHOWN, "order"))
