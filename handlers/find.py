"""``/order find <email | phone | name> [since:14d]``: the orders whose buyer matches, to the asker only.

Dispatched by :mod:`handlers.commands`, which has acked and handed the work to ``later`` (whose admission check
refuses Slack Connect guests before anything here runs). The search is :mod:`bot.lookup.find`; each match is then
looked up live, as ``/order <number>`` does, so the cards show what Meta says now.
"""

from __future__ import annotations

import time

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from bot.config import Settings
from bot.lookup.find import FindStore, find_orders
from bot.lookup.query import Query
from bot.lookup.service import OrderService
from bot.slack.find import NOT_CONFIGURED, FindUsage, find_summary, parse_find
from bot.slack.views.help import message_blocks
from handlers.lookup import answer_each

MAX_CARDS = 4  # a response URL takes five posts: four cards, the last carrying the summary


def register(app: App) -> None:
    """Nothing of its own to register: the subcommand is an entry of :mod:`handlers.commands`."""


def find(argument: str, respond: Respond, context: BoltContext) -> None:
    settings: Settings = context["settings"]
    if not settings.search_key:
        respond(blocks=message_blocks(NOT_CONFIGURED), text=NOT_CONFIGURED, response_type="ephemeral")
        return
    try:
        request = parse_find(argument)
    except FindUsage as error:
        respond(blocks=message_blocks(str(error)), text=str(error), response_type="ephemeral")
        return
    store: FindStore = context["store"]
    matches = find_orders(
        store, settings.search_key, request, now=time.time(), user_id=context.user_id or "", team_id=context.team_id
    )
    shown = matches[:MAX_CARDS]
    summary = find_summary(request, len(matches), len(shown))
    if not shown:
        respond(blocks=message_blocks(summary), text=summary, response_type="ephemeral")
        return
    orders: OrderService = context["orders"]
    answer_each(orders.lookup([Query("id", order_id) for order_id in shown]), respond, settings, note=summary)
