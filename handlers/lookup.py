"""Looking orders up: ``/order <ids or references>``, ``/order help``, ``/order history``, the "Look up order"
message shortcut, and the lookup card's buttons (Show contact and address, Share in channel).

Listeners only: ``ack()`` first, then ``later`` runs the slow part, which asks :mod:`bot.lookup.service` and
draws its answers with :mod:`bot.slack.views.lookup`. The ``/order`` subcommands here are dispatched by
:mod:`handlers.commands`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions.acknowledge import AcknowledgementService
from bot.config import Settings
from bot.lookup.query import MAX_QUERIES, QueryError, find_in_message, parse_query
from bot.lookup.service import Answer, OrderService, Problem
from bot.slack import ids
from bot.slack.later import Later
from bot.slack.publisher import answer_blocks
from bot.slack.views.help import help_blocks, message_blocks
from bot.slack.views.kit import context as context_block
from bot.slack.views.lookup import render, render_contact, render_shared

NOTHING_FOUND = (
    "No order number found in that message. I look for Facebook order IDs (10 to 20 digits) and merchant "
    "references with letters and digits, such as `SHOP-1042`. You can also type `/order <number>`."
)


def register(app: App) -> None:
    """The shortcut and the lookup card's buttons; ``/order`` itself is registered by :mod:`handlers.commands`."""
    app.shortcut(ids.LOOKUP_SHORTCUT)(on_lookup_shortcut)
    app.action(ids.SHOW_CONTACT)(on_show_contact)
    app.action(ids.SHARE_IN_CHANNEL)(on_share_in_channel)


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


def lookup_references(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order ref <references>``: every word is a merchant reference, even all digits or a subcommand's name."""
    try:
        queries = parse_query(argument, references=True)
    except QueryError as error:
        respond(blocks=message_blocks(str(error)), text=str(error), response_type="ephemeral")
        return
    orders: OrderService = context["orders"]
    answer_each(orders.lookup(queries), respond, context["settings"])


def history(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order history <id or reference>``: the audit trail, to the asker only (it names agents and keys)."""
    acks: AcknowledgementService = context["acks"]
    respond(blocks=answer_blocks(acks.history(argument)), text="Order history", response_type="ephemeral")


def answer_each(answers: Sequence[Answer], respond: Respond, settings: Settings, *, note: str | None = None) -> None:
    """One ephemeral message per answer, through the response URL (Slack allows five posts: lookups stop at five).

    Separate messages, because acknowledging from a card replaces the message holding it: with several cards in one
    message, the other cards would vanish. ``note`` (mrkdwn) goes under the last answer instead of costing a post.
    """
    for number, answer in enumerate(answers, start=1):
        blocks, text = render(
            answer, commerce_manager_url=settings.commerce_manager_url, now=time.time(), zone=settings.zone
        )
        if note and number == len(answers):
            blocks = [*blocks, context_block(note)]
        respond(blocks=blocks, text=text, response_type="ephemeral", replace_original=False)


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


def on_show_contact(
    ack: Ack, action: dict[str, Any], respond: Respond, context: BoltContext, orders: OrderService, later: Later
) -> None:
    """Reveal the buyer's contact and address to the clicking agent alone; the service writes the audit row."""
    ack()
    later(show_contact, action, respond, context, orders)


def show_contact(action: dict[str, Any], respond: Respond, context: BoltContext, orders: OrderService) -> None:
    answer = orders.contact(str(action.get("value")), user_id=str(context.user_id), team_id=context.team_id)
    respond(
        blocks=render_contact(answer),
        text="Buyer contact and address",
        response_type="ephemeral",
        replace_original=False,
    )


def on_share_in_channel(
    ack: Ack,
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    orders: OrderService,
    settings: Settings,
    later: Later,
) -> None:
    """Post the PII-free card in the channel for the team, and remember it so acknowledgements update it."""
    ack()
    later(share_in_channel, action, respond, client, context, orders, settings)


def share_in_channel(
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    orders: OrderService,
    settings: Settings,
) -> None:
    order_id, user_id, channel = str(action.get("value")), str(context.user_id), str(context.channel_id)
    found = orders.find_for_sharing(order_id)
    if isinstance(found, Problem):
        respond(blocks=message_blocks(found.text), text=found.text, response_type="ephemeral", replace_original=False)
        return
    url = settings.commerce_manager_url
    blocks, text = render_shared(
        found, shared_by=user_id, commerce_manager_url=url, now=time.time(), zone=settings.zone
    )
    try:
        posted = client.chat_postMessage(channel=channel, blocks=blocks, text=text)
    except SlackApiError as error:
        why = f"Slack refused the post ({error.response.get('error')}): is orderdesk a member of this channel?"
        respond(blocks=message_blocks(why), text=why, response_type="ephemeral", replace_original=False)
        return
    orders.remember_shared(order_id, channel=channel, ts=str(posted["ts"]), user_id=user_id)
