"""Four-eyes refunds: the Approve and Decline buttons of an approval request.

Listeners only: each click is acknowledged at once; who clicked and where come from the payload, and the decision
(one conditional update in the database, then, for the one winning Approve, the order read again and the refund
sent) runs in the work pool through :class:`bot.actions.approvals.ApprovalService`, which answers privately.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.actions.approvals import ApprovalService, Person
from bot.slack import ids
from bot.slack.access import workspace_of
from bot.slack.errors import BadRequest
from bot.slack.later import Later
from bot.slack.payloads import actor

_APPROVAL_ID = re.compile(r"[0-9a-f]{32}")
NOT_A_REQUEST = "orderdesk could not read that button, so nothing was decided."


def register(app: App) -> None:
    app.action(ids.APPROVAL_APPROVE)(on_approve)
    app.action(ids.APPROVAL_DECLINE)(on_decline)


def on_approve(
    ack: Ack, body: dict[str, Any], context: BoltContext, approvals: ApprovalService | None, later: Later
) -> None:
    ack()
    approval_id, clicker, person = _decision(body, context, approvals)
    later(_service(approvals).approve, approval_id, clicker, person)


def on_decline(
    ack: Ack, body: dict[str, Any], context: BoltContext, approvals: ApprovalService | None, later: Later
) -> None:
    ack()
    approval_id, clicker, person = _decision(body, context, approvals)
    later(_service(approvals).decline, approval_id, clicker, person)


def _service(approvals: ApprovalService | None) -> ApprovalService:
    if approvals is None:
        raise BadRequest("Refund approvals are not set up on this orderdesk, so nothing was decided.")
    return approvals


def _decision(body: dict[str, Any], context: BoltContext, approvals: ApprovalService | None) -> tuple[str, Any, Person]:
    _service(approvals)
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError) as error:
        raise BadRequest(NOT_A_REQUEST) from error
    if not isinstance(value, str) or not _APPROVAL_ID.fullmatch(value):
        raise BadRequest(NOT_A_REQUEST)
    clicker = actor(body, context.user_id, workspace_of(context))
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    response_url = body.get("response_url")
    person = Person(
        clicker.user_id,
        channel_id if isinstance(channel_id, str) else None,
        response_url if isinstance(response_url, str) else None,
    )
    return value, clicker, person
