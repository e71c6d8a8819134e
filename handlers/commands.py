"""The ``/order`` slash command: ``ack()`` first, then one subcommand chosen by :func:`parse`.

The dispatch table is the whole grammar: ``/order`` or ``/order help`` shows the usage; anything else is a lookup
query. Each subcommand is one entry in ``SUBCOMMANDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.actions.acknowledge import AcknowledgementService
from bot.lookup.query import QueryError, parse_query
from bot.lookup.service import OrderService
from bot.runtime.later import Later
from bot.slack import ids
from bot.slack.publisher import answer_blocks
from bot.slack.views.blocks import ack_pending_prompt, help_blocks, message_blocks
from handlers.answers import answer_each

Subcommand = Callable[[str, Respond, BoltContext], None]

# First words that name a subcommand rather than start a lookup query.
KEYWORDS = frozenset({"help", "history", "ack-pending"})


def register(app: App) -> None:
    app.command(ids.ORDER_COMMAND)(on_order)


def parse(text: str) -> tuple[str, str]:
    """``(subcommand, argument)`` for the text after ``/order``. A first word in ``KEYWORDS`` (any case) names its
    subcommand and the rest is its argument; any other text is a lookup query, kept whole."""
    words = text.split(maxsplit=1)
    if not words:
        return "help", ""
    keyword = words[0].lower()
    if keyword in KEYWORDS:
        return keyword, words[1].strip() if len(words) > 1 else ""
    return "lookup", text.strip()


def on_order(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext, later: Later) -> None:
    ack()  # first: Slack gives up after 3 seconds, and nothing below is guaranteed to be fast
    name, argument = parse(command.get("text") or "")
    later(SUBCOMMANDS[name], argument, respond, context)


def show_help(argument: str, respond: Respond, context: BoltContext) -> None:
    respond(blocks=help_blocks(), text="How to use /order", response_type="ephemeral")


def lookup(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order <ids or references>``: one ephemeral message per order (or per problem), so that a click on one
    card's buttons replaces that card alone."""
    try:
        queries = parse_query(argument)
    except QueryError as error:
        respond(blocks=message_blocks(str(error)), text=str(error), response_type="ephemeral")
        return
    orders: OrderService = context["orders"]
    answer_each(orders.lookup(queries), respond, context["settings"])


def history(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order history <id or reference>``: the audit trail, to the asker only (it names agents and keys)."""
    acks: AcknowledgementService = context["acks"]
    respond(blocks=answer_blocks(acks.history(argument)), text="Order history", response_type="ephemeral")


def ack_pending(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order ack-pending``: how many orders await acknowledgement, and a button (with a confirmation) that
    acknowledges them all; the button's listener does the work. Takes no arguments: one order is acknowledged
    from its card."""
    if argument:
        respond(blocks=message_blocks(ACK_PENDING_USAGE), text=ACK_PENDING_USAGE, response_type="ephemeral")
        return
    acks: AcknowledgementService = context["acks"]
    respond(blocks=ack_pending_prompt(acks.pending_count()), text="Acknowledge all?", response_type="ephemeral")


ACK_PENDING_USAGE = (
    "`/order ack-pending` takes no arguments: it offers to acknowledge every order awaiting acknowledgement. "
    "To acknowledge one order, look it up with `/order` and its number and use the card's Acknowledge button."
)

SUBCOMMANDS: dict[str, Subcommand] = {
    "help": show_help,
    "lookup": lookup,
    "history": history,
    "ack-pending": ack_pending,
}
