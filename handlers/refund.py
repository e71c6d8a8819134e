"""The Refund… modal's final submission (the card actions' modal, :mod:`handlers.actions`, hands it here): a
refund over ``ORDERDESK_REFUND_APPROVAL_OVER`` is asked for a second person's approval instead of being sent, every
other one is sent like any card action. Both go to the work pool; the requester hears the outcome on the modal."""

from __future__ import annotations

from typing import Any

from bot.actions.approvals import ApprovalService
from bot.actions.order_actions import REFUND, OrderActionsService
from bot.actions.refund import preview_of
from bot.slack.later import Later
from bot.slack.payloads import ActionForm


def submit(
    form: ActionForm,
    params: dict[str, Any],
    view_id: str | None,
    order_actions: OrderActionsService,
    approvals: ApprovalService | None,
    later: Later,
) -> None:
    preview = preview_of(form.snap, params) if form.snap is not None else None
    if approvals is None or preview is None:
        # No approvals configured, or nothing to preview (the service's own check then refuses it in words).
        later(order_actions.submit, REFUND, form.click, params, view_id=view_id)
        return
    later(approvals.submit, order_actions, form.click, preview, params, view_id=view_id)
