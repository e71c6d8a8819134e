"""The threaded replies under a card or a digest when orders change: what changed that matters, in a sentence."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.acknowledgement import ACKNOWLEDGED_STATES
from bot.slack.views import reading as read
from bot.slack.views import words
from bot.slack.views.kit import clip, escape, mention, money, summarised

DIGEST_CHANGES_SHOWN = 20


def _new_entries(before: Mapping[str, Any], after: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Entries of an edge that ``after`` has and ``before`` had not, by id (or by content if Meta sent none)."""

    def identity(entry: Mapping[str, Any]) -> str:
        return str(entry.get("id") or json.dumps(entry, sort_keys=True, default=str))

    seen = {identity(e) for e in read.edge(before, name)}
    return [e for e in read.edge(after, name) if identity(e) not in seen]


def change_summary(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, acknowledged_by: str | None = None
) -> str | None:
    """A short sentence (mrkdwn, escaped) for the threaded reply under a card: what changed that matters.

    ``acknowledged_by`` is the Slack user who acknowledged the order through orderdesk, if one did: the reply
    says who acted. None when nothing changed (or when there is no earlier version: the card itself says
    everything then).
    """
    if before is None:
        return None
    changes: list[str] = []
    was, now = read.state(before), read.state(after)
    if was == "FB_PROCESSING" and now == "CREATED":
        changes.append("Out of Meta's processing hold, awaiting acknowledgement")
    if was in ("FB_PROCESSING", "CREATED") and now in ACKNOWLEDGED_STATES:
        reference = read.text(after.get("merchant_order_id"), 100)
        who = f" by {mention(acknowledged_by)}" if acknowledged_by else ""
        changes.append(f"Acknowledged{who}" + (f" (reference {reference})" if reference else ""))
    for shipment in _new_entries(before, after, "shipments"):
        carrier = words.carrier(read.get(shipment, "tracking_info", "carrier"))
        tracking = read.text(read.get(shipment, "tracking_info", "tracking_number"), 100)
        changes.append(" ".join(p for p in ("Shipped", carrier and f"via {carrier}", tracking) if p))
    for cancellation in _new_entries(before, after, "cancellations"):
        code = words.reason(read.get(cancellation, "cancel_reason", "reason_code"))
        changes.append(f"Cancelled: {code}" if code else "Cancelled")
    for refund in _new_entries(before, after, "refunds"):
        amount = money(refund.get("refund_amount"))
        changes.append(f"Refunded {amount}" if amount else "Refunded")
    if now == "COMPLETED" and was != "COMPLETED":
        changes.append("Completed")
    return clip("; ".join(changes), 1000) if changes else None


def digest_changes_text(changes: Sequence[tuple[str, str]]) -> str:
    """The threaded reply under a digest when some of its orders changed in one poll: one line per order.

    ``changes`` are (order id, :func:`change_summary` of that order); one reply instead of one per order keeps
    an "Acknowledge all" of 60 orders from posting 60 replies.
    """

    def line(change: tuple[str, str]) -> str:
        return clip(f"• Order {clip(escape(change[0]), 100)}: {change[1]}", 400)

    if len(changes) == 1:
        return line(changes[0]).removeprefix("• ")
    return "\n".join(summarised(changes, line, DIGEST_CHANGES_SHOWN, "order"))
