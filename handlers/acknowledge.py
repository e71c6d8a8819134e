"""Acknowledging orders: the card's Acknowledge, "Acknowledge with reference…" and its modal, Retry, and
``/order ack-pending`` with its confirmed "Acknowledge all".

Listeners only: ``ack()`` first (the modal's submission checks the typed reference before it, since the ack carries
the inline error), then ``later`` hands the click to the acknowledgement service. A payload the bot cannot read
raises :class:`bot.slack.errors.BadRequest`, which the app's error handler answers in words. The ``/order
ack-pending`` subcommand is dispatched by :mod:`handlers.commands`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.actions.acknowledge import AcknowledgementService
from bot.actions.ledger import new_key
from bot.actions.operation import Actor
from bot.slack import ids, payloads
from bot.slack.access import workspace_of
from bot.slack.errors import BadRequest
from bot.slack.later import Later
from bot.slack.payloads import Click, ack_modal
from bot.slack.publisher import answer_blocks
from bot.slack.views.acknowledge import ack_pending_prompt
from bot.slack.views.help import message_blocks

ACK_PENDING_USAGE = (
    "`/order ack-pending` takes no arguments: it offers to acknowledge every order awaiting acknowledgement. "
    "To acknowledge one order, look it up with `/order` and its number and use the card's Acknowledge button."
)


def register(app: App) -> None:
    app.action(ids.ACK)(on_ack)
    app.action(ids.ACK_WITH_REF)(on_ack_with_reference)
    app.action(ids.ACK_RETRY)(on_ack_retry)
    app.action(ids.ACK_PENDING_CONFIRM)(on_ack_pending_confirm)
    app.view(ids.ACK_REF_MODAL)(on_ack_reference)


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


def trigger_id(body: dict[str, Any]) -> str:
    """The click's trigger, which a modal needs; :class:`BadRequest` without one."""
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str) or not trigger:
        raise BadRequest("That click carried no trigger, so the form cannot open. Click the button again.")
    return trigger


# The modal carries the click it was opened from (order, idempotency key, card, response URL) in
# ``private_metadata``, so a submission is the same intent as the button and answers the same way. A reference the
# bot cannot send is refused inline (``response_action="errors"``) and the modal stays open.


def on_ack_reference(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    context: BoltContext,
    acks: AcknowledgementService,
    later: Later,
) -> None:
    """Checked before the ack, whose answer must carry the inline error (a read of the local index, no Meta call);
    acknowledged after it. A member of another workspace gets no inline hint: ``later`` refuses them."""
    user = body.get("user")
    user = user if isinstance(user, dict) else {}
    click = Click.from_metadata(view.get("private_metadata"), user_id=user.get("id"), user_team_id=user.get("team_id"))
    reference = typed_reference(view)
    guest = click.user_team_id is not None and click.user_team_id != workspace_of(context)
    error = None if guest else acks.reference_error(click.order_id, reference)
    if error is not None:
        ack(response_action="errors", errors={ids.ACK_REF_BLOCK: error})
        return
    ack()  # closes the modal; the card and the clicker's answers show the outcome
    later(acks.acknowledge, click, reference)


def typed_reference(view: dict[str, Any]) -> str:
    """The reference typed into the modal, trimmed; :class:`BadRequest` if the form is not the one we sent."""
    try:
        field = view["state"]["values"][ids.ACK_REF_BLOCK][ids.ACK_REF_INPUT]
        value = field.get("value") or ""
    except (KeyError, TypeError, AttributeError) as error:
        raise BadRequest("orderdesk could not read that form, so nothing was done. Open it again.") from error
    if not isinstance(value, str):
        raise BadRequest("orderdesk could not read that form, so nothing was done. Open it again.")
    return value.strip()


def ack_pending(argument: str, respond: Respond, context: BoltContext) -> None:
    """``/order ack-pending``: how many orders await acknowledgement, and a button (with a confirmation) that
    acknowledges them all; the button's listener does the work. Takes no arguments: one order is acknowledged
    from its card."""
    if argument:
        respond(blocks=message_blocks(ACK_PENDING_USAGE), text=ACK_PENDING_USAGE, response_type="ephemeral")
        return
    acks: AcknowledgementService = context["acks"]
    prompt = ack_pending_prompt(acks.pending_count(), token=new_key())
    respond(blocks=prompt, text="Acknowledge all?", response_type="ephemeral")


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
    payloads.ack_pending_confirmed(body)
    respond(text="Acknowledging every order awaiting acknowledgement…", replace_original=True)
    blocks = answer_blocks(acks.ack_pending(actor(body, context)))
    respond(blocks=blocks, text="Acknowledgement results", replace_original=True)


def actor(body: dict[str, Any], context: BoltContext) -> Actor:
    """Who clicked a bulk button: their own workspace is in the payload (``user.team_id``)."""
    return payloads.actor(body, context.user_id, workspace_of(context))
