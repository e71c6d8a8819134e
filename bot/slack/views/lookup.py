"""Lookup answers as messages: an order's card, the orders sharing an ambiguous reference, a problem in words,
the channel version of a card ("Share in channel") and the buyer's contact reveal.

The lookup service answers with values (:mod:`bot.lookup.service`); these builders are the only place they turn
into Block Kit.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

from bot.domain.deadlines import deadline
from bot.lookup.service import Ambiguous, Answer, Contact, OrderFound, Problem
from bot.slack.views import words
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import Block, clip, context, escape, section, when
from bot.slack.views.order_card import contact_blocks, notification_text, order_card
from bot.storage.rows import IndexedOrder

AMBIGUOUS_SHOWN = 20


def render(
    answer: Answer, *, commerce_manager_url: str, now: float | None = None, zone: tzinfo = UTC
) -> tuple[list[Block], str]:
    """One answer as an ephemeral message: ``(blocks, notification text)``; with ``now``, cards show their
    deadline clock."""
    if isinstance(answer, OrderFound):
        blocks = order_card(
            answer.order,
            commerce_manager_url=commerce_manager_url,
            ack_key=answer.ack_key,
            ack_status=answer.ack_status,
            clock=deadline(answer.order, now, zone) if now is not None else None,
        )
        return blocks, notification_text(answer.order)
    if isinstance(answer, Ambiguous):
        return _ambiguous_blocks(answer), f"Reference {answer.reference} matches {len(answer.orders)} orders"
    return message_blocks(answer.text), answer.text


def render_shared(
    found: OrderFound, *, shared_by: str, commerce_manager_url: str, now: float | None = None, zone: tzinfo = UTC
) -> tuple[list[Block], str]:
    """The PII-free card of an order for the channel, credited to ``shared_by``: ``(blocks, notification text)``."""
    blocks = order_card(
        found.order,
        commerce_manager_url=commerce_manager_url,
        ack_key=found.ack_key,
        ack_status=found.ack_status,
        shared_by=shared_by,
        clock=deadline(found.order, now, zone) if now is not None else None,
    )
    return blocks, notification_text(found.order)


def render_contact(answer: Contact | Problem) -> list[Block]:
    """The buyer's contact reveal for one agent, or why there is none."""
    if isinstance(answer, Problem):
        return message_blocks(answer.text)
    return contact_blocks(answer.order)


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
    parts = [f"`{escape(order.id)}`", words.state_words(order.state) if order.state else None, when(order.created)]
    return "• " + " · ".join(p for p in parts if p)
