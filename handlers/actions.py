"""Block actions (buttons on order cards): the acknowledgement, lookup and notification features.

Every action id lives in ``bot.slack.ids``. Each feature keeps its listeners in its own section. A payload the bot
cannot read raises :class:`bot.slack.errors.BadRequest`, which the app's error handler answers in words.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions.acknowledge import AcknowledgementService
from bot.actions.operation import Actor
from bot.config import Settings
from bot.lookup.service import OrderService, Problem
from bot.notify.poller import digest_orders
from bot.runtime.later import Later
from bot.slack import ids, payloads
from bot.slack.access import workspace_of
from bot.slack.errors import BadRequest
from bot.slack.payloads import Click, ack_modal
from bot.slack.publisher import answer_blocks
from bot.slack.views.blocks import digest_list, message_blocks
from bot.storage.sqlite.store import Store


def register(app: App) -> None:
    register_ack_actions(app)
    register_lookup_actions(app)
    register_notifier_actions(app)


# --- acknowledgements ------------------------------------------------------------------------------------


def register_ack_actions(app: App) -> None:
    app.action(ids.ACK)(on_ack)
    app.action(ids.ACK_WITH_REF)(on_ack_with_reference)
    app.action(ids.ACK_RETRY)(on_ack_retry)
    app.action(ids.ACK_PENDING_CONFIRM)(on_ack_pending_confirm)


def on_ack(ack: Ack, body: dict[str, Any], context: BoltContext, acks: AcknowledgementService, later: Later) -> None:
    ack()  # first: the claim and Meta's answer may take longer than Slack waits
    later(lambda: acks.acknowledge(Click.from_action(body, workspace_of(context))))


def on_ack_with_reference(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, later: Later
) -> None:
    ack()
    # In the urgent lane, not behind the pool's Graph work: the trigger expires 3 seconds after the click. Who may
    # acknowledge is checked on submit.
    later.now(
        lambda: client.views_open(
            trigger_id=trigger_id(body), view=ack_modal(Click.from_action(body, workspace_of(context)))
        )
    )


def on_ack_retry(
    ack: Ack, body: dict[str, Any], context: BoltContext, acks: AcknowledgementService, later: Later
) -> None:
    ack()
    later(lambda: acks.retry(Click.from_action(body, workspace_of(context))))


def on_ack_pending_confirm(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    acks: AcknowledgementService,
    later: Later,
) -> None:
    """The confirmed "Acknowledge all" of ``/order ack-pending``: the results replace the question."""
    ack()
    later(ack_pending_confirmed, body, respond, context, acks)


def ack_pending_confirmed(
    body: dict[str, Any], respond: Respond, context: BoltContext, acks: AcknowledgementService
) -> None:
    respond(text="Acknowledging every order awaiting acknowledgement…", replace_original=True)
    blocks = answer_blocks(acks.ack_pending(actor(body, context)))
    respond(blocks=blocks, text="Acknowledgement results", replace_original=True)


def actor(body: dict[str, Any], context: BoltContext) -> Actor:
    """Who clicked a bulk button: their own workspace is in the payload (``user.team_id``)."""
    return payloads.actor(body, context.user_id, workspace_of(context))


def trigger_id(body: dict[str, Any]) -> str:
    """The click's trigger, which a modal needs; :class:`BadRequest` without one."""
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str) or not trigger:
        raise BadRequest("That click carried no trigger, so the form cannot open. Click the button again.")
    return trigger


# --- order lookup: Show contact and address, Share in channel --------------------------------------------


def register_lookup_actions(app: App) -> None:
    app.action(ids.SHOW_CONTACT)(on_show_contact)
    app.action(ids.SHARE_IN_CHANNEL)(on_share_in_channel)


def on_show_contact(
    ack: Ack, action: dict[str, Any], respond: Respond, context: BoltContext, orders: OrderService, later: Later
) -> None:
    """Reveal the buyer's contact and address to the clicking agent alone; the service writes the audit row."""
    ack()
    later(show_contact, action, respond, context, orders)


def show_contact(action: dict[str, Any], respond: Respond, context: BoltContext, orders: OrderService) -> None:
    blocks = orders.contact(str(action.get("value")), user_id=str(context.user_id), team_id=context.team_id)
    respond(blocks=blocks, text="Buyer contact and address", response_type="ephemeral", replace_original=False)


def on_share_in_channel(
    ack: Ack,
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    orders: OrderService,
    later: Later,
) -> None:
    """Post the PII-free card in the channel for the team, and remember it so acknowledgements update it."""
    ack()
    later(share_in_channel, action, respond, client, context, orders)


def share_in_channel(
    action: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext, orders: OrderService
) -> None:
    order_id, user_id, channel = str(action.get("value")), str(context.user_id), str(context.channel_id)
    card = orders.shared_card(order_id, user_id)
    if isinstance(card, Problem):
        respond(blocks=message_blocks(card.text), text=card.text, response_type="ephemeral", replace_original=False)
        return
    blocks, text = card
    try:
        posted = client.chat_postMessage(channel=channel, blocks=blocks, text=text)
    except SlackApiError as error:
        why = f"Slack refused the post ({error.response.get('error')}): is orderdesk a member of this channel?"
        respond(blocks=message_blocks(why), text=why, response_type="ephemeral", replace_original=False)
        return
    orders.remember_shared(order_id, channel=channel, ts=str(posted["ts"]), user_id=user_id)


# --- new-order notifications: the digest's buttons ------------------------------------------------------------


def register_notifier_actions(app: App) -> None:
    app.action(ids.DIGEST_LIST)(on_digest_list)
    app.action(ids.DIGEST_ACK_ALL)(on_digest_ack_all)


def on_digest_list(
    ack: Ack, action: dict[str, Any], respond: Respond, store: Store, settings: Settings, later: Later
) -> None:
    """The digest's orders, to the clicking agent alone (the channel already saw the digest)."""
    ack()
    later(digest_list_answer, action, respond, store, settings)


def _digest_or_say_why(store: Store, action: dict[str, Any], respond: Respond) -> list[dict[str, Any]] | None:
    """The orders of the digest the button belongs to, or None after telling the clicker it is gone."""
    orders = digest_orders(store, str(action.get("value")))
    if orders is None:
        text = "This digest is no longer known to orderdesk."
        respond(blocks=message_blocks(text), text=text, response_type="ephemeral", replace_original=False)
    return orders


def digest_list_answer(action: dict[str, Any], respond: Respond, store: Store, settings: Settings) -> None:
    orders = _digest_or_say_why(store, action, respond)
    if orders is None:
        return
    blocks = digest_list(orders, commerce_manager_url=settings.commerce_manager_url)
    respond(
        blocks=blocks, text=f"{len(orders)} orders in this digest", response_type="ephemeral", replace_original=False
    )


def on_digest_ack_all(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    store: Store,
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
    store: Store,
    acks: AcknowledgementService,
) -> None:
    orders = _digest_or_say_why(store, action, respond)
    if orders is None:
        return
    blocks = answer_blocks(acks.acknowledge_orders([str(o["id"]) for o in orders], actor(body, context)))
    respond(blocks=blocks, text="Acknowledgement results", response_type="ephemeral", replace_original=False)
