"""Modal submissions (``view_submission``): the "Acknowledge with reference…" modal.

The modal carries the click it was opened from (order, idempotency key, card, response URL) in
``private_metadata``, so a submission is the same intent as the button and answers the same way. A reference the
bot cannot send is refused inline (``response_action="errors"``) and the modal stays open.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import ids
from bot.acks import AcknowledgementService, Click
from bot.later import Later


def register(app: App) -> None:
    app.view(ids.ACK_REF_MODAL)(on_ack_reference)


def on_ack_reference(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, acks: AcknowledgementService, later: Later
) -> None:
    """Checked before the ack, whose answer must carry the inline error (a read of the local index, no Meta call);
    acknowledged after it."""
    user = body.get("user") or {}
    click = Click.from_metadata(view["private_metadata"], user_id=user["id"], user_team_id=user.get("team_id"))
    field = view["state"]["values"][ids.ACK_REF_BLOCK][ids.ACK_REF_INPUT]
    reference = (field.get("value") or "").strip()
    error = acks.reference_error(click.order_id, reference)
    if error is not None:
        ack(response_action="errors", errors={ids.ACK_REF_BLOCK: error})
        return
    ack()  # closes the modal; the card and the clicker's answers show the outcome
    later(acks.acknowledge, click, client, reference)
