"""The new-order digest's buttons: "List them" and "Acknowledge all".

Listeners only: ``ack()`` first, then ``later`` reads the digest's orders and answers the clicking agent alone
(the channel already saw the digest).
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.actions.acknowledge import AcknowledgementService
from bot.config import Settings
from bot.domain.deadlines import deadline
from bot.notify.poller import digest_orders
from bot.slack import ids
from bot.slack.later import Later
from bot.slack.publisher import answer_blocks
from bot.slack.views.digest import digest_list
from bot.slack.views.help import message_blocks
from bot.storage.ports import Storage
from handlers.acknowledge import actor


def register(app: App) -> None:
    app.action(ids.DIGEST_LIST)(on_digest_list)
    app.action(ids.DIGEST_ACK_ALL)(on_digest_ack_all)


def on_digest_list(
    ack: Ack, action: dict[str, Any], respond: Respond, store: Storage, settings: Settings, later: Later
) -> None:
    """The digest's orders, to the clicking agent alone (the channel already saw the digest)."""
    ack()
    later(digest_list_answer, action, respond, store, settings)


def _digest_or_say_why(store: Storage, action: dict[str, Any], respond: Respond) -> list[dict[str, Any]] | None:
    """The orders of the digest the button belongs to, or None after telling the clicker it is gone."""
    orders = digest_orders(store, str(action.get("value")))
    if orders is None:
        text = "This digest is no longer known to orderdesk."
        respond(blocks=message_blocks(text), text=text, response_type="ephemeral", replace_original=False)
    return orders


def digest_list_answer(action: dict[str, Any], respond: Respond, store: Storage, settings: Settings) -> None:
    orders = _digest_or_say_why(store, action, respond)
    if orders is None:
        return
    now = time.time()
    clocks = {str(order.get("id")): deadline(order, now, settings.zone) for order in orders}
    blocks = digest_list(orders, commerce_manager_url=settings.commerce_manager_url, clocks=clocks)
    respond(
        blocks=blocks, text=f"{len(orders)} orders in this digest", response_type="ephemeral", replace_original=False
    )


def on_digest_ack_all(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    store: Storage,
    acks: AcknowledgementService,
    later: Later,
) -> None:
    """Acknowledge the digest's orders in batches of 100 through the ledger; per-order results to the clicker."""
    ack()
    later(digest_ack_all, action, body, respond, context, store, acks)


def digest_ack_all(
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    store: Storage,
    acks: AcknowledgementService,
) -> None:
    orders = _digest_or_say_why(store, action, respond)
    if orders is None:
        return
    blocks = answer_blocks(acks.acknowledge_orders([str(o["id"]) for o in orders], actor(body, context)))
    respond(blocks=blocks, text="Acknowledgement results", response_type="ephemeral", replace_original=False)
