"""Card actions: the Mark shipped…, Update tracking… and Cancel order… buttons, their one modal, and the carrier
picker's options.

Listeners only. A click is acknowledged, then, in the urgent lane (the trigger expires 3 seconds after the click),
the clicker's permission is checked (no call to Meta) and the modal opens at once saying it is reading the order;
the order is read in the work pool and the form replaces that. A form submission is checked against the order as
the modal showed it (inline errors, no call to Meta), then a review step shows what will be sent; the review's
submission hands the write to :class:`bot.actions.order_actions.OrderActionsService`, whose outcome replaces the
modal.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions.approvals import ApprovalService
from bot.actions.order_actions import CANCEL, REFUND, SHIP, TRACKING, OrderActionsService
from bot.actions.runner import requester_of
from bot.domain import problems
from bot.domain.carriers import search_carriers
from bot.graph.client import GraphError
from bot.slack import ids
from bot.slack.access import workspace_of
from bot.slack.errors import BadRequest
from bot.slack.later import Later
from bot.slack.payloads import ActionForm, Click, form_values
from bot.slack.views import cancel as cancel_views
from bot.slack.views import refund as refund_views
from bot.slack.views import ship as ship_views
from bot.slack.views import tracking as tracking_views
from bot.slack.views.action_modal import (
    ACTION_OF_BUTTON,
    answer_modal,
    carrier_options,
    loading_modal,
    message_modal,
    modal,
    sending_modal,
)
from bot.slack.views.kit import clip, escape
from bot.slack.views.words import state_words
from handlers import refund as refund_handlers
from handlers.acknowledge import trigger_id

log = logging.getLogger(__name__)

# Each card action's form and review (modules with ``form_blocks(snap)`` and ``review_blocks(snap, params)``).
FORMS: dict[str, ModuleType] = {
    SHIP: ship_views,
    TRACKING: tracking_views,
    CANCEL: cancel_views,
    REFUND: refund_views,
}
SUBMIT_WORDS = {SHIP: "Mark shipped", TRACKING: "Update tracking", CANCEL: "Cancel the units", REFUND: "Refund"}
NOT_OFFERED = {
    SHIP: "has no units left to ship",
    TRACKING: "has no shipment to correct",
    CANCEL: "can no longer be cancelled from orderdesk",
    REFUND: "has nothing shipped left to refund",
}


def register(app: App) -> None:
    for action_id in (ids.ORDER_SHIP, ids.ORDER_TRACKING, ids.ORDER_CANCEL, ids.ORDER_REFUND):
        app.action(action_id)(on_action_button)
    app.view(ids.ACTION_MODAL)(on_action_modal)
    app.options(ids.CARRIER_SELECT)(on_carrier_options)


def on_action_button(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    order_actions: OrderActionsService,
    later: Later,
) -> None:
    ack()
    try:
        action = ACTION_OF_BUTTON[body["actions"][0]["action_id"]]
    except (KeyError, IndexError, TypeError) as error:
        raise BadRequest("orderdesk could not read that button, so nothing was done.") from error
    click = Click.from_action(body, workspace_of(context))
    later.now(open_action, action, click, trigger_id(body), client, order_actions, later)


def open_action(
    action: str, click: Click, trigger: str, client: WebClient, service: OrderActionsService, later: Later
) -> None:
    """Refuse privately whoever may not act; otherwise open the modal now and fill it once the order is read."""
    refused = service.refusal(action, click)
    if refused is not None:
        service.tell(requester_of(click), refused)
        return
    form = ActionForm(click, action, "loading")
    opened = client.views_open(trigger_id=trigger, view=loading_modal(action, form.to_metadata(), click.order_id))
    later(fill_action, form, str(opened["view"]["id"]), client, service)


def fill_action(form: ActionForm, view_id: str, client: WebClient, service: OrderActionsService) -> None:
    """Read the order and put the form on the open modal (or say why there is none)."""
    action, order_id = form.action, form.click.order_id
    shown = clip(escape(order_id), 100)
    view: dict[str, Any]
    try:
        snap = service.read(order_id)
    except GraphError as error:
        words = problems.for_agent(error, shown, example=f"`/order {shown}`")
        view = message_modal(action, "", words)
    else:
        if action not in snap.offered:
            state = escape(state_words(snap.state))
            view = message_modal(action, "", f"Order {shown} {NOT_OFFERED.get(action, '')} (it is {state}).")
        else:
            try:
                metadata = form.at("form", snap=snap).to_metadata()
            except ValueError:
                view = message_modal(
                    action, "", f"Order {shown} has too many items for a form here; use Commerce Manager for it."
                )
            else:
                view = modal(action, metadata, FORMS[action].form_blocks(snap), submit="Next")
    try:
        client.views_update(view_id=view_id, view=view)
    except SlackApiError as error:
        log.info("could not fill the %s modal of order %s: %s", action, order_id, error.response.get("error"))


def on_action_modal(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    context: BoltContext,
    order_actions: OrderActionsService,
    later: Later,
    approvals: ApprovalService | None = None,
) -> None:
    """The form step is checked inline and answered with the review; the review's submission sends (a refund
    over the approval threshold is asked for approval instead: :mod:`handlers.refund`)."""
    user = body.get("user")
    user = user if isinstance(user, dict) else {}
    form = ActionForm.from_metadata(
        view.get("private_metadata"), user_id=user.get("id"), user_team_id=user.get("team_id")
    )
    operation = order_actions.action(form.action)
    if operation is None or form.action not in FORMS:
        raise BadRequest("orderdesk could not read that form, so nothing was done. Open it again from the card.")
    guest = form.click.user_team_id is not None and form.click.user_team_id != workspace_of(context)
    if guest:
        ack(response_action="update", view=message_modal(form.action, "", "Only members of this workspace can act."))
        return
    if form.step == "form" and form.snap is not None:
        checked = operation.check(form.snap, form_values(view), form.click.key)
        if checked.errors:
            ack(response_action="errors", errors=checked.errors)
            return
        try:
            metadata = form.at("review", params=checked.params).to_metadata()
        except ValueError:  # more than a modal can carry: said, never half sent
            words = "This is more than a form here can carry; use Commerce Manager for this order."
            ack(response_action="update", view=message_modal(form.action, "", words))
            return
        blocks = FORMS[form.action].review_blocks(form.snap, checked.params)
        ack(
            response_action="update",
            view=modal(form.action, metadata, blocks, submit=SUBMIT_WORDS[form.action], close="Back out"),
        )
        return
    if form.step == "review" and form.params is not None:
        if form.action == REFUND:  # may ask for approval instead of sending: handlers.refund decides and acks
            refund_handlers.submit(
                ack, form, form.params, str(view.get("id") or "") or None, order_actions, approvals, later
            )
            return
        # Permission, the claim and any answer that needs no call to Meta are decided before the ack, so they
        # replace the modal with the ack itself (a later views.update could land before Slack applies the ack).
        started = order_actions.start(form.action, form.click, form.params)
        if started.entry is None:
            assert started.answer is not None
            ack(response_action="update", view=answer_modal(form.action, started.answer))
            return
        summary = operation.summary(form.params)
        ack(response_action="update", view=sending_modal(form.action, "", summary))
        later(order_actions.send, started.entry, form.click, view_id=str(view.get("id") or "") or None)
        return
    ack()  # a step with nothing to submit (Slack shows no submit button there)


def on_carrier_options(ack: Ack, payload: dict[str, Any]) -> None:
    """The carrier picker's options: Meta's carrier codes matching what was typed, common ones first, Other
    always offered (served from the snapshot in the repository, within Slack's 3 seconds)."""
    query = payload.get("value")
    found = search_carriers(query if isinstance(query, str) else "")
    ack(options=carrier_options([(c.code, c.name) for c in found]))
