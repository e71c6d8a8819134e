"""What an order's write looks like to the people who asked for it: the status a card shows, and card kinds.

These are domain values: the services produce them and :mod:`bot.slack.views` draws them, so nothing here knows
Slack. A status is derived from the idempotency ledger's entry, never stored on its own.
"""

from __future__ import annotations

from bot.actions.ledger import LedgerEntry
from bot.domain.acknowledgement import ACKNOWLEDGEABLE_STATES as ACKNOWLEDGEABLE_STATES
from bot.domain.acknowledgement import ACKNOWLEDGED_STATES as ACKNOWLEDGED_STATES
from bot.domain.acknowledgement import MERCHANT_REF_MAX as MERCHANT_REF_MAX
from bot.domain.acknowledgement import MERCHANT_REF_PATTERN as MERCHANT_REF_PATTERN
from bot.domain.acknowledgement import AckStatus as AckStatus
from bot.storage.rows import Card

# Card kinds, as stored with each remembered card: what the card was drawn with decides how it is redrawn.
CARD_LOOKUP = "lookup"  # the asking agent's ephemeral card (buyer name, contact button)
CARD_NOTIFICATION = "notification"  # the PII-free card in the on-call channel
CARD_SHARED = "shared:"  # + the sharer's user id: the channel version of a lookup card


def status_of(entry: LedgerEntry, order_id: str | None = None) -> AckStatus:
    """How a card of ``order_id`` (default: the entry's own order) shows a ledger entry, batches included."""
    reference = entry.reference_for(order_id) if order_id is not None else entry.reference
    if entry.state == "succeeded":
        return AckStatus("succeeded", entry.user_id, entry.updated_at, reference, key=entry.key)
    if entry.state == "pending":
        return AckStatus("pending", entry.user_id, entry.updated_at, key=entry.key)
    message = (entry.error or {}).get("message")
    if entry.gave_up:
        return AckStatus("given_up", entry.user_id, entry.updated_at, message=message, key=entry.key)
    return AckStatus(
        "retryable" if entry.retryable else "failed",
        entry.user_id,
        entry.updated_at,
        message=message,
        key=entry.key,
        next_try=entry.next_attempt_at,
    )


def notification_place(channel: str) -> str:
    """Where an order's notification card is, for its key: the channel (one notification per order and channel),
    known before the card is posted."""
    return f"channel:{channel}"


def list_place(user_id: str) -> str:
    """Where a user's lists are, for the key of an order's line in them (``/order pending`` pages, App Home): one
    place per reader, so every re-render and every page of their lists offers the same keys until a write of the
    order finishes, and two people never share a key (each may mean different parameters)."""
    return f"list:{user_id}"


def card_place(card: Card) -> str:
    """Where a remembered card is, for its key (:func:`bot.actions.entries.card_key`): a notification by its
    channel, any other channel card by its message, an ephemeral card by its response URL."""
    if card.kind == CARD_NOTIFICATION and card.channel:
        return notification_place(card.channel)
    if card.channel and card.ts:
        return f"message:{card.channel}:{card.ts}"
    return f"url:{card.response_url}"
