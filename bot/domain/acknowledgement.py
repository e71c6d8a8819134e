"""Acknowledgement as the services and the cards share it: where an order's acknowledgement stands, and what a
merchant reference may look like.

Both are decided below Slack: the acknowledgement service produces an :class:`AckStatus` from the ledger, the
lookup service puts it into its answers, and the views only draw it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Meta's order states in which an order counts as acknowledged by the shop, and in which it can be acknowledged.
ACKNOWLEDGED_STATES = frozenset({"IN_PROGRESS", "COMPLETED"})
ACKNOWLEDGEABLE_STATES = frozenset({"CREATED"})

# A merchant order reference (the shop's own order number, shown on the buyer's receipt): starts with a letter or
# digit, then letters, digits and ``. _ / # -``, 64 characters at most. Strict on purpose: it is typed by agents,
# shown to buyers and searched for in free text, so no spaces, quotes or markup characters. Anchored with
# ``\A``/``\Z`` so ``match`` and ``fullmatch`` agree (``$`` would accept a trailing newline).
MERCHANT_REF_MAX = 64
MERCHANT_REF_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/#-]{0,63}\Z")


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
