"""The buttons of one order's line in a list (a ``/order pending`` page, App Home), marked so a press on them is
known to come from a list and not from a card of the order.

A list shows many orders in one message (or view), so it must never be remembered as one order's card: a redraw
of that order would replace the whole list with its card. The mark is the actions block's ``block_id``, which
Slack returns with every press (``actions[0].block_id``); :func:`is_list_line` reads it back
(:meth:`bot.slack.payloads.Click.from_action`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.slack.views.kit import Block, actions

LIST_LINE = "orderdesk_list:"
MAX_BLOCK_ID = 255  # Slack's limit on a block_id


def line_actions(order_id: str, buttons: Sequence[dict[str, Any]]) -> list[Block]:
    """The actions block of one order's line, marked as a list's (unique within the list: one line per order)."""
    return [{**block, "block_id": f"{LIST_LINE}{order_id}"[:MAX_BLOCK_ID]} for block in actions(buttons)]


def is_list_line(block_id: object) -> bool:
    """Whether a pressed button's ``block_id`` marks it as a list's line rather than a card's."""
    return isinstance(block_id, str) and block_id.startswith(LIST_LINE)
