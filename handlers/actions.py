"""Block actions (buttons on order cards): the acknowledgement and lookup features register theirs here.

Every action id lives in ``bot.ids``. Each feature keeps its listeners in its own marked section.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import ids
from bot.acks import AcknowledgementService, Click, ack_modal


def register(app: App) -> None:
    register_ack_actions(app)


# --- acknowledgements (issue 5) ---------------------------------------------------------------------------


def register_ack_actions(app: App) -> None:
    app.action(ids.ACK)(on_ack)
    app.action(ids.ACK_WITH_REF)(on_ack_with_reference)
    app.action(ids.ACK_RETRY)(on_ack_retry)


def on_ack(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, acks: AcknowledgementService
) -> None:
    ack()  # first: the claim and Meta's answer may take longer than Slack waits
    acks.acknowledge(Click.from_action(body, context.team_id), client)


def on_ack_with_reference(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    # Right after ack(): the trigger expires 3 seconds after the click. Who may acknowledge is checked on submit.
    client.views_open(trigger_id=body["trigger_id"], view=ack_modal(Click.from_action(body, context.team_id)))


def on_ack_retry(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, acks: AcknowledgementService
) -> None:
    ack()
    acks.retry(Click.from_action(body, context.team_id), client)


# --- end of acknowledgements --------------------------------------------------------------------------------
