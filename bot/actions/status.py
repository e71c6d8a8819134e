"""What an order's write looks like to the people who asked for it: the status a card shows, and card kinds.

These are domain values: the services produce them and :mod:`bot.slack.views` draws them, so nothing here knows
Slack. A status is derived from the idempotency ledger's entry, never stored on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.actions.ledger import LedgerEntry

# Meta's order states in which an order counts as acknowledged by the shop, and in which it can be acknowledged.
ACKNOWLEDGED_STATES = frozenset({"IN_PROGRESS", "COMPLETED"})
ACKNOWLEDGEABLE_STATES = frozenset({"CREATED"})

# A merchant order reference (the shop's own order number, shown on the buyer's receipt): starts with a letter or
# digit, then letters, digits and ``. _ / # -``, 64 characters at most. Strict on purpose: it is typed by agents,
# shown to buyers and searched for in free text, so no spaces, quotes or markup characters. Anchored with
# ``\A``/``\Z`` so ``match`` and ``fullmatch`` agree (``$`` would accept a trailing newline).
MERCHANT_REF_MAX = 64
MERCHANT_REF_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/#-]{0,63}\Z")

# Card kinds, as stored with each remembered card: what the card was drawn with decides how it is redrawn.
CARD_LOOKUP = "lookup"  # the asking agent's ephemeral card (buyer name, contact button)
CARD_NOTIFICATION = "notification"  # the PII-free card in the on-call channel
CARD_SHARED = "shared:"  # + the sharer's user id: the channel version of a lookup card


@dataclass(frozen=True)
class AckStatus:
    """What the idempotency ledger knows about an order's acknowledgement, as a card shows it.

    ``at`` is unix seconds (when it succeeded, or when the pending attempt started); ``message`` is a
    plain-language error for ``failed``, ``retryable`` and ``given_up``. ``key`` is the idempotency key of the
    claim: a Retry button must carry it, whatever key the card itself was drawn with. ``given_up``: orderdesk
    stopped retrying a transient failure and a person must decide; ``next_try`` is when a ``retryable`` one is
    sent again by itself.
    """

    state: Literal["pending", "succeeded", "failed", "retryable", "given_up"]
    user_id: str | None = None
    at: float | None = None
    reference: str | None = None
    message: str | None = None
    key: str | None = None
    next_try: float | None = None


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
