"""``/order pending``: the queue of orders awaiting acknowledgement or shipment, a page at a time.

Each order is one section (its clock in words for the reader now) and its buttons, the same a card has (at most
seven, far from an actions block's 25); a page holds at most
``PAGE_SIZE`` orders, so the message keeps Slack's 50 blocks whatever the queue's length, and "Show more" brings
the next page in place of this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.acknowledgement import AckStatus
from bot.notify.queue import Waiting, cursor_text
from bot.slack import ids
from bot.slack.views import reading as read
from bot.slack.views import words
from bot.slack.views.acknowledge import ack_buttons
from bot.slack.views.action_modal import action_buttons
from bot.slack.views.clock import clock_text
from bot.slack.views.kit import Block, actions, button, clip, context, escape, money, plural, section
from bot.slack.views.list_line import line_actions

PAGE_SIZE = 20  # 2 blocks an order, plus a title, a note and "Show more": 43 of Slack's 50


def pending_line(entry: Waiting, commerce_manager_url: str) -> str:
    """One order of the queue in mrkdwn: linked id, channel, total, state, reference, and its clock."""
    order = entry.order
    order_id = clip(escape(entry.order_id), 100) or "(no id)"
    link = read.commerce_manager_link(commerce_manager_url, entry.order_id)
    reference = read.text(order.get("merchant_order_id"), 64)
    parts = [
        f"*<{link}|{order_id}>*" if link else f"*{order_id}*",
        words.channel(order),
        money(read.get(order, "estimated_payment_details", "total_amount")),
        words.state_text(order),
        reference and f"ref {reference}",
    ]
    first = " · ".join(p for p in parts if p)
    return f"{first}\n{clock_text(entry.clock, live=True)}" if entry.clock else first


def pending_blocks(
    entries: Sequence[Waiting],
    *,
    total: int,
    shown_before: int,
    more: bool,
    ack_keys: Mapping[str, str],
    statuses: Mapping[str, AckStatus | None],
    commerce_manager_url: str,
) -> list[Block]:
    """One page: ``entries`` (at most :data:`PAGE_SIZE`), ``shown_before`` orders on earlier pages, ``total`` in
    the queue; ``ack_keys`` holds each order's key for its buttons, the reader's list key
    (:meth:`bot.notify.announce.Announcer.list_key`), so a press before and after a re-render is one intent. Each
    line's buttons are marked as a list's (:func:`~bot.slack.views.list_line.line_actions`)."""
    if total == 0:
        return [section(":white_check_mark: *Nothing is waiting*: no order awaits acknowledgement or shipment.")]
    if not entries:  # "Show more" after the queue emptied behind the page: say so, not "(4–3 of 3)"
        text = f"*No more orders after the last page*: {plural(total, 'order')} still waiting, all shown before."
        return [section(text), context("Ask again with `/order pending` to see the queue as it is now.")]
    first, last = shown_before + 1, shown_before + len(entries)
    span = f"{first}–{last} of {total}" if total > len(entries) else plural(total, "order")
    blocks: list[Block] = [section(f"*Orders waiting for you* ({span}), most urgent first")]
    for entry in entries[:PAGE_SIZE]:
        blocks.append(section(pending_line(entry, commerce_manager_url)))
        key = ack_keys.get(entry.order_id)
        buttons = ack_buttons(entry.order, key, statuses.get(entry.order_id)) + action_buttons(entry.order, key)
        url = read.commerce_manager_link(commerce_manager_url, entry.order_id)
        if url:
            buttons.append(button("Open in Commerce Manager", ids.OPEN_IN_COMMERCE_MANAGER, url=url))
        blocks += line_actions(entry.order_id, buttons)
    if more and entries:
        value = cursor_text(entries[-1].key)
        blocks += actions([button("Show more", ids.PENDING_MORE, value=value)])
    blocks.append(context("Look one up with `/order &lt;id&gt;`; a reference spelled like a command: `/order ref …`"))
    return blocks
