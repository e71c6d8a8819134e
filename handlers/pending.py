"""``/order pending`` and its "Show more": the on-call queue, most urgent first, to the asker only.

The subcommand is dispatched by :mod:`handlers.commands`; "Show more" answers in place of the page it was on, so
a long queue never stacks up messages (and never runs out of the five answers a response URL allows).
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.actions.ledger import Ledger
from bot.config import Settings
from bot.notify.announce import Announcer
from bot.notify.queue import page, parse_cursor, waiting_orders
from bot.slack import ids
from bot.slack.later import Later
from bot.slack.views.help import message_blocks
from bot.slack.views.pending import PAGE_SIZE, pending_blocks
from bot.storage.ports import Storage

USAGE = "Usage: `/order pending` (the orders awaiting acknowledgement or shipment, most urgent first)"


def register(app: App) -> None:
    app.action(ids.PENDING_MORE)(on_more)


def pending(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order pending``: the first page of the queue."""
    if argument:
        respond(blocks=message_blocks(USAGE), text=USAGE, response_type="ephemeral")
        return
    blocks = page_blocks(context["settings"], context["store"], str(context.get("user_id") or ""), after=None)
    respond(blocks=blocks, text="Orders waiting", response_type="ephemeral")


def on_more(ack: Ack, action: dict[str, Any], respond: Respond, context: BoltContext, later: Later) -> None:
    ack()
    later(show_more, action, respond, context)


def show_more(action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    try:
        after = parse_cursor(str(action.get("value")))
    except ValueError:
        text = "That button did not come from orderdesk. Ask again with `/order pending`."
        respond(blocks=message_blocks(text), text=text, response_type="ephemeral", replace_original=False)
        return
    blocks = page_blocks(context["settings"], context["store"], str(context.get("user_id") or ""), after=after)
    respond(blocks=blocks, text="Orders waiting", replace_original=True)


def page_blocks(
    settings: Settings, store: Storage, user_id: str, *, after: tuple[float, str] | None
) -> list[dict[str, Any]]:
    """The page of the queue after ``after`` for ``user_id``, with acknowledgement statuses and the user's list
    keys: the same on every page and re-render until a write of the order finishes, as a card's are."""
    waiting = waiting_orders(store, time.time(), settings.zone)
    shown, more = page(waiting, after=after, size=PAGE_SIZE)
    before = sum(1 for entry in waiting if after is not None and entry.key <= after)
    announcer = Announcer(store, Ledger(store))
    return pending_blocks(
        shown,
        total=len(waiting),
        shown_before=before,
        more=more,
        ack_keys={entry.order_id: announcer.list_key(entry.order_id, user_id) for entry in shown},
        statuses={entry.order_id: announcer.status(entry.order) for entry in shown},
        commerce_manager_url=settings.commerce_manager_url,
    )
