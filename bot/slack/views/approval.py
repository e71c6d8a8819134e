"""Four-eyes refunds in Slack: the approval request (preview, Approve, Decline), how it reads once it ended, and
what the approval service tells people, in words."""

from __future__ import annotations

from bot.actions.answers import NotAllowed, NotShown
from bot.actions.approvals import (
    WITHDRAWN,
    Approval,
    ApprovalBusy,
    ApprovalClosed,
    ApprovalConflict,
    ApprovalDelayed,
    ApprovalEnded,
    ApprovalNews,
    ApprovalNotPossible,
    ApprovalUnknown,
    AwaitingApproval,
    OwnRequest,
    RefundSent,
)
from bot.actions.status import AckStatus
from bot.slack import ids
from bot.slack.views.action_modal import BUYER_TOLD, not_allowed_text
from bot.slack.views.kit import (
    Block,
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    escape,
    header,
    mention,
    section,
    slack_date,
)
from bot.slack.views.refund import preview_blocks


def request_text(approval: Approval) -> str:
    """The notification text of the request message."""
    return f"Refund of {approval.total} on order {approval.order_id} needs approval"


def request_blocks(approval: Approval, status: AckStatus | None = None) -> list[Block]:
    """The request as it stands: with Approve and Decline while pending, else how it ended."""
    order = clip(escape(approval.order_id), 100)
    blocks: list[Block] = [
        header("Refund waiting for approval" if approval.state == "pending" else "Refund approval"),
        section(
            f"{mention(approval.requester_id)} asks to refund *{escape(approval.total)}* before tax on order "
            f"*{order}*. Someone allowed to refund, other than them, decides."
        ),
        *preview_blocks(approval.preview),
    ]
    if approval.state == "pending":
        approve = button(
            "Approve",
            ids.APPROVAL_APPROVE,
            value=approval.id,
            style="primary",
            confirm=confirm_dialog(
                "Send this refund?",
                f"orderdesk reads order {order} again and sends the refund of {escape(approval.total)} to Meta.",
                "Approve and send",
            ),
        )
        decline = button("Decline", ids.APPROVAL_DECLINE, value=approval.id, style="danger")
        blocks += actions([approve, decline])
        blocks.append(context(f"Expires {slack_date(approval.expires_at)} if nobody decides."))
    else:
        blocks.append(context(ended_words(approval, status)))
    return blocks


def ended_words(approval: Approval, status: AckStatus | None = None) -> str:
    """How the request ended, in one line."""
    who = mention(approval.decided_by) if approval.decided_by else "nobody"
    detail = clip(escape(approval.detail or ""), 500)
    match approval.state:
        case "sent":
            outcome = _sent_words(status)
            return f":white_check_mark: Approved by {who}; {outcome}"
        case "approved":
            return f":hourglass_flowing_sand: Approved by {who}; orderdesk is checking the order and sending it."
        case "declined" if approval.detail and approval.detail.startswith("The order changed"):
            return f":warning: Approved by {who}, but not sent: {detail}"
        case "declined" if approval.detail == WITHDRAWN:
            return f":leftwards_arrow_with_hook: Withdrawn by {mention(approval.requester_id)}; nothing was sent."
        case "declined":
            return f":no_entry: Declined by {who}; nothing was sent."
        case "expired":
            return ":alarm_clock: Expired: nobody decided in time, so nothing was sent."
    return "Waiting for a decision."


def _sent_words(status: AckStatus | None) -> str:
    state = status.state if status is not None else "pending"
    if state == "succeeded":
        return "the refund went through at Meta."
    if state == "pending":
        return "the refund is being sent to Meta."
    if state == "retryable":
        return "Meta did not answer yet; orderdesk sends the same refund again by itself."
    if state == "given_up":
        return "the refund did not go through and needs a person: see `/order history`."
    message = clip(escape((status.message if status else None) or "Meta refused it"), 300)
    return f"Meta refused the refund, so nothing changed: {message}"


def news_text(news: ApprovalNews) -> str:
    """What the approval service tells one person, in words."""
    match news:
        case AwaitingApproval(approval, again):
            where = f"<#{approval.channel}>" if approval.channel else "the approval channel"
            already = "It is already waiting" if again else "It now waits"
            return (
                f":hourglass_flowing_sand: This refund of {escape(approval.total)} on order "
                f"{escape(approval.order_id)} needs a second person's approval, so nothing was sent yet. "
                f"{already} in {where}; you will hear here when someone decides."
            )
        case ApprovalNotPossible(_, words):
            return f":no_entry: {escape(words)}"
        case ApprovalConflict(approval):
            return (
                f":no_entry: This card already asked approval for a different refund of order "
                f"{escape(approval.order_id)}, so nothing new was asked. Open the order again and use the new card."
            )
        case OwnRequest(approval):
            return (
                f":no_entry: You asked for this refund of {escape(approval.total)}, so someone else must approve "
                "it. Nothing was sent."
            )
        case ApprovalClosed(approval):
            return f"This request was already decided: {ended_words(approval)}"
        case ApprovalEnded(approval):
            return (
                f"The refund of {escape(approval.total)} on order {escape(approval.order_id)} was not sent. "
                f"{ended_words(approval)}"
            )
        case RefundSent(approval, status):
            line = f"The refund of {escape(approval.total)} on order {escape(approval.order_id)}, approved by "
            line += f"{mention(approval.decided_by)}: {_sent_words(status)}"
            return line + (f" {BUYER_TOLD}" if status.state == "succeeded" else "")
        case ApprovalDelayed(approval):
            return (
                f":hourglass_flowing_sand: Approved. Meta did not answer when orderdesk read order "
                f"{escape(approval.order_id)} to check the refund again; it sends it when Meta answers."
            )
        case ApprovalBusy(approval):
            return (
                f":hourglass_flowing_sand: Another change of order {escape(approval.order_id)} is being sent to Meta "
                "right now, so this refund was not sent. The request still waits: approve it again in a moment."
            )
        case ApprovalUnknown():
            return "orderdesk does not know this approval request, so nothing was done."
        case NotAllowed():
            return not_allowed_text(news)
        case NotShown(order_id):
            return (
                f"orderdesk did not show this button for order {escape(order_id)}, so nothing was sent to Meta. "
                f"Look the order up again with `/order {escape(order_id)}`."
            )
    raise TypeError(f"not approval news: {news!r}")
