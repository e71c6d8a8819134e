"""The Refund… modal's final submission (the card actions' modal, :mod:`handlers.actions`, hands it here): a
refund over ``ORDERDESK_REFUND_APPROVAL_OVER`` is asked for a second person's approval instead of being sent, every
other one is sent like any card action.

As for every card action, what needs no call to Meta or Slack (permission, and for a refund sent now its claim) is
decided before the ack, so a refusal replaces the modal with the ack itself; the send, or the posting of the
approval request, runs in the work pool and its outcome replaces the modal.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.actions.approvals import ApprovalService
from bot.actions.order_actions import REFUND, OrderActionsService
from bot.actions.refund import REFUND_ACTION, preview_of
from bot.slack.later import Later
from bot.slack.payloads import ActionForm
from bot.slack.views.action_modal import answer_modal, modal, sending_modal
from bot.slack.views.kit import ELLIPSIS, escape, section


def submit(
    ack: Ack,
    form: ActionForm,
    params: dict[str, Any],
    view_id: str | None,
    order_actions: OrderActionsService,
    approvals: ApprovalService | None,
    later: Later,
) -> None:
    metadata = form.at("sending").to_metadata()
    preview = preview_of(form.snap, params) if form.snap is not None else None
    if approvals is None or preview is None or not approvals.needs_approval(preview):
        # Sent now, like every card action (without a preview the refund's own check refuses it in words).
        started = order_actions.start(REFUND, form.click, params)
        if started.entry is None:
            assert started.answer is not None
            ack(response_action="update", view=answer_modal(REFUND, started.answer))
            return
        ack(response_action="update", view=sending_modal(REFUND, metadata, REFUND_ACTION.summary(params)))
        later(order_actions.send, started.entry, form.click, view_id=view_id)
        return
    refused = order_actions.refusal(REFUND, form.click)
    if refused is not None:
        ack(response_action="update", view=answer_modal(REFUND, refused))
        return
    waiting = (
        f":hourglass_flowing_sand: This refund of {escape(preview.money(preview.total))} before tax needs a second "
        f"person's approval: asking for it{ELLIPSIS}"
    )
    ack(response_action="update", view=modal(REFUND, metadata, [section(waiting)]))
    later(approvals.request_approval, form.click, preview, view_id=view_id)
