"""Modal submissions (``view_submission``): the "Acknowledge with reference…" modal.

The modal carries the click it was opened from (order, idempotency key, card, response URL) in
``private_metadata``, so a submission is the same intent as the button and answers the same way. A reference the
bot cannot send is refused inline (``response_action="errors"``) and the modal stays open.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.actions.acknowledge import AcknowledgementService
from bot.runtime.later import Later
from bot.slack import ids
from bot.slack.access import workspace_of
from bot.slack.errors import BadRequest
from bot.slack.payloads import Click


def register(app: App) -> None:
    app.view(ids.ACK_REF_MODAL)(on_ack_reference)


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
