"""The Refund… modal's final submission (the card actions' modal, :mod:`handlers.actions`, hands it here): a
refund over ``ORDERDESK_REFUND_APPROVAL_OVER`` is asked for a second person's approval instead of being sent, every
other one is sent like any card action. The modal says which at once; the work runs in the pool and its outcome
replaces the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.actions.approvals import ApprovalService
from bot.actions.order_actions import REFUND, OrderActionsService
from bot.actions.refund import REFUND_ACTION, preview_of
from bot.slack.later import Later
from bot.slack.payloads import ActionForm
from bot.slack.views.action_modal import modal, sending_modal
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
        # No approval needed (or nothing to preview: the service's own check then refuses it in words).
        ack(response_action="update", view=sending_modal(REFUND, metadata, REFUND_ACTION.summary(params)))
        later(order_actions.submit, REFUND, form.click, params, view_id=view_id)
        return
    waiting = (
        f":hourglass_flowing_sand: This refund of {escape(preview.money(preview.total))} before tax needs a second "
        f"person's approval: asking for it{ELLIPSIS}"
    )
    ack(response_action="update", view=modal(REFUND, metadata, [section(waiting)]))
    later(approvals.submit, order_actions, form.click, preview, params, view_id=view_id)
