"""Shortcuts: "Look up order" on any message (``bot.slack.ids.LOOKUP_SHORTCUT``)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context.respond import Respond

from bot.config import Settings
from bot.lookup.query import MAX_QUERIES, find_in_message
from bot.lookup.service import OrderService
from bot.runtime.later import Later
from bot.slack import ids
from bot.slack.views.blocks import message_blocks
from handlers.answers import answer_each

NOTHING_FOUND = (
    "No order number found in that message. I look for Facebook order IDs (10 to 20 digits) and merchant "
    "references with letters and digits, such as `SHOP-1042`. You can also type `/order <number>`."
)


def register(app: App) -> None:
    app.shortcut(ids.LOOKUP_SHORTCUT)(on_lookup_shortcut)


def on_lookup_shortcut(
    ack: Ack, shortcut: dict[str, Any], respond: Respond, orders: OrderService, settings: Settings, later: Later
) -> None:
    """Look up every order the message mentions (the first five), answering ephemerally in its channel."""
    ack()  # first: the shortcut's trigger and Slack's patience both run out within 3 seconds
    later(look_up_message, shortcut, respond, orders, settings)


def look_up_message(shortcut: dict[str, Any], respond: Respond, orders: OrderService, settings: Settings) -> None:
    queries = find_in_message(shortcut.get("message") or {})
    if not queries:
        respond(blocks=message_blocks(NOTHING_FOUND), text=NOTHING_FOUND, response_type="ephemeral")
        return
    shown = queries[:MAX_QUERIES]
    note = None
    if len(queries) > MAX_QUERIES:
        skipped = ", ".join(f"`{query}`" for query in queries[MAX_QUERIES:])
        note = f"That message names {len(queries)} order numbers; I looked up the first {MAX_QUERIES}, not {skipped}."
    answer_each(orders.lookup(shown), respond, settings, note=note)
