"""The ``/order`` slash command: ``ack()`` first, then one subcommand chosen by :func:`parse`.

The dispatch table is the whole grammar: ``/order`` or ``/order help`` shows the usage; anything else is a lookup
query. Each subcommand is one entry in ``SUBCOMMANDS``, a function of the feature it belongs to
(:mod:`handlers.lookup`, :mod:`handlers.acknowledge`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.slack import ids
from bot.slack.later import Later
from handlers import acknowledge, export, find, lookup, pending, status

Subcommand = Callable[[str, Respond, BoltContext], None]

# First words that name a subcommand rather than start a lookup query.
KEYWORDS = frozenset({"help", "history", "ack-pending", "export", "find", "pending", "ref", "status"})

SUBCOMMANDS: dict[str, Subcommand] = {
    "help": lookup.show_help,
    "lookup": lookup.lookup,
    "history": lookup.history,
    "ack-pending": acknowledge.ack_pending,
    "export": export.export,
    "find": find.find,
    "pending": pending.pending,
    "status": status.status,
    "ref": lookup.lookup_references,  # `/order ref <reference>`: always a reference, even all digits or a keyword
}


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
