"""``/order find <email | phone | name> [since:14d]``: the orders whose buyer matches, to the asker only.

Dispatched by :mod:`handlers.commands`, which has acked and handed the work to ``later`` (whose admission check
refuses Slack Connect guests before anything here runs), so the scan of Meta below runs in the work pool, never
inside the ack. The search is :mod:`bot.lookup.find`: it reads from Meta the part of the window orderdesk's index
does not cover yet, showing progress when that takes more than a few seconds; a search arriving while another
reads Meta waits for it a bounded time, saying so, then answers from the index and says what it did not cover.
Each match is then looked up live, as ``/order <number>`` does, so the cards show what Meta says now.
"""

from __future__ import annotations

import time

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.lookup.find import FindStore, find_orders
from bot.lookup.query import Query
from bot.lookup.service import OrderService
from bot.slack.find import NOT_CONFIGURED, FindUsage, ScanProgress, find_summary, parse_find
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import context as context_block
from bot.slack.views.lookup import render

MAX_CARDS = 4  # the last carrying the summary; progress updates take theirs from the response URL's five posts


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
    graph: GraphClient = context["graph"]
    progress = ScanProgress(respond, time.monotonic)
    result = find_orders(
        store,
        graph,
        settings.search_key,
        request,
        now=time.time(),
        user_id=context.user_id or "",
        team_id=context.team_id,
        progress=progress,
        waiting=progress.waiting,
    )
    shown = result.matches[: min(MAX_CARDS, progress.posts_left)]
    summary = find_summary(result, request.kind, len(shown))
    replace = progress.replace_next  # the first post takes the place of "Searching Meta: page …"
    if not shown:
        respond(blocks=message_blocks(summary), text=summary, response_type="ephemeral", replace_original=replace)
        return
    orders: OrderService = context["orders"]
    answers = orders.lookup([Query("id", order_id) for order_id in shown])
    for number, answer in enumerate(answers, start=1):
        blocks, text = render(answer, commerce_manager_url=settings.commerce_manager_url)
        if number == len(answers):
            blocks = [*blocks, context_block(summary)]
        respond(blocks=blocks, text=text, response_type="ephemeral", replace_original=replace and number == 1)
