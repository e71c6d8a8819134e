"""``/order history``: an order's audit trail in words, newest first: who did what, when, with which key."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.slack.views import reading as read
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import Block, clip, escape, line_sections, mention, slack_date, summarised

HISTORY_SHOWN = 40


# What the audit's actions mean to an agent: (done, the attempt as a noun, the attempt as a verb).
_ACTION_WORDS: dict[str, tuple[str, str, str]] = {
    "acknowledge_order": ("Acknowledged", "Acknowledgement", "acknowledge"),
    "acknowledge_orders": ("Acknowledged (batch)", "Batch acknowledgement", "acknowledge in bulk"),
    "show_contact": ("Viewed contact", "Viewing contact", "view contact details"),
    "create_shipment": ("Shipped", "Shipment", "ship"),
    "update_shipment": ("Updated tracking", "Tracking update", "update tracking"),
    "cancel_order": ("Cancelled", "Cancellation", "cancel"),
    "refund_order": ("Refunded", "Refund", "refund"),
    # Refusals before anything was claimed are audited under the card action's name.
    "ship": ("Shipped", "Shipment", "ship"),
    "update_tracking": ("Updated tracking", "Tracking update", "update tracking"),
    "cancel": ("Cancelled", "Cancellation", "cancel"),
    "refund": ("Refunded", "Refund", "refund"),
    # Four-eyes refunds: each step of an approval request (requested, approved, declined, withdrawn, expired).
    "refund_approval": ("Refund approval", "Refund approval", "approve a refund"),
}


# Audit details written for support in configuration terms, in words an agent can act on.
_DETAIL_WORDS = {
    "not in ORDERDESK_ACK_ALLOWED": "not on the list of who may acknowledge orders",
    "not in ORDERDESK_SHIP_ALLOWED": "not on the list of who may ship orders",
    "not in ORDERDESK_CANCEL_ALLOWED": "not on the list of who may cancel orders",
    "not in ORDERDESK_REFUND_ALLOWED": "not on the list of who may refund orders",
    "user from another workspace": "a member of another workspace",
}


def _history_words(action: str, outcome: str) -> str:
    """An audit row's action and outcome as one phrase ("Acknowledged", "Refused: acknowledge", ...)."""
    known = _ACTION_WORDS.get(action)
    if known is None:
        name = clip(escape(action.replace("_", " ").capitalize()), 60) or "Something"
        known = (name, name, name.lower())
    done, attempt, verb = known
    if outcome in ("succeeded", "shown", "ok", ""):
        return done
    if outcome == "failed, retryable":
        return f"{attempt} did not go through yet"
    if outcome.startswith("failed"):
        return f"{attempt} failed"
    if outcome == "conflict":
        return f"{attempt} refused: the card was already used for a different request"
    if outcome.startswith("refused"):
        why = outcome.removeprefix("refused").lstrip(":, ")
        return f"Refused: {verb}" + (f" ({clip(escape(why), 100)})" if why else "")
    return f"{done}: {clip(escape(outcome.replace('_', ' ')), 60)}"


def _history_detail(detail: object) -> str | None:
    """The audit's detail in words: a recorded Graph error shows its message, config terms become words."""
    if not isinstance(detail, str) or not detail:
        return None
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        message = parsed.get("message") or parsed.get("error_message")
        words = read.text(message, 200) if message else None
        approver = parsed.get("approver")
        if isinstance(approver, str) and approver:
            words = f"{words or 'approved'} · approved by {mention(approver)}"
        return words
    return read.text(_DETAIL_WORDS.get(detail, detail), 200)


def _history_line(row: Any) -> str:
    """One audit row: a ``bot.storage.sqlite.store.AuditRow`` or a mapping with the same names."""

    def field(name: str) -> Any:
        return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)

    at, key, detail = field("at"), read.text(field("key"), 100), _history_detail(field("detail"))
    action, outcome = field("action"), field("outcome")
    words = _history_words(action if isinstance(action, str) else "", outcome if isinstance(outcome, str) else "")
    parts = [slack_date(at) if isinstance(at, int | float) else "(no time)", mention(field("user_id")), f"*{words}*"]
    return "• " + " ".join(parts) + (f" · {detail}" if detail else "") + (f" · key `{key}`" if key else "")


def history_blocks(order_id: str, rows: Sequence[Any]) -> list[Block]:
    """The audit trail of an order (newest first): who, when, what, with which key, and how it ended, in words.

    Rows are ``bot.storage.sqlite.store.AuditRow`` objects or mappings with the same names (at, action, user_id,
    key, outcome,
    detail).
    """
    shown = clip(escape(order_id), 100)
    if not rows:
        return message_blocks(f"No history for order {shown}: nobody has acted on it through orderdesk.")
    return line_sections(f"*History of order {shown}*", summarised(rows, _history_line, HISTORY_SHOWN, "entry"))
