"""The values the idempotency ledger stores and answers with: entries, claims, the retry policy, keys.

An entry's ``fingerprint`` is the sha256 of its operation and parameters in canonical JSON, so "the same
request again" is decided on exactly what would be sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from bot.storage.rows import Row

ACKNOWLEDGE_ORDER = "acknowledge_order"
ACKNOWLEDGE_ORDERS = "acknowledge_orders"
ACK_OPERATIONS = frozenset({ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS})

# The writes from a card's modals. Unlike an acknowledgement, each may happen many times to one order (a partial
# shipment, then another), so their claims hold the order's *write* lock only while in flight (see ``lock_ids``).
CREATE_SHIPMENT = "create_shipment"
UPDATE_SHIPMENT = "update_shipment"
CANCEL_ORDER = "cancel_order"
REFUND_ORDER = "refund_order"

# Meta accepts "any alphanumeric string up to 100 characters" and its own samples use hyphenated UUIDs.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")

LedgerState = Literal["pending", "succeeded", "failed"]


def new_key() -> str:
    """A fresh idempotency key for one intent: 32 alphanumeric characters, valid for Meta however it reads."""
    return uuid.uuid4().hex


def derived_key(card_key: str, action: str) -> str:
    """The idempotency key of one action offered by one rendered card: 32 hex characters, a pure function of the
    card's key and the action, so every press of that card's button (and every modal it opens) is one intent."""
    return hashlib.sha256(f"{card_key}:{action}".encode()).hexdigest()[:32]


# The writes whose end gives an order's cards new keys (see :meth:`bot.actions.ledger.Ledger.card_token`).
CARD_KEY_OPERATIONS = (ACKNOWLEDGE_ORDER, CREATE_SHIPMENT, UPDATE_SHIPMENT, CANCEL_ORDER, REFUND_ORDER)


def finished(entry: LedgerEntry) -> bool:
    """Whether ``entry`` ended so that its key is spent: it succeeded, or Meta refused it for good (the input, or
    the order, must change first). A pending, retrying or given-up entry is still the card's intent."""
    return entry.state == "succeeded" or (entry.state == "failed" and not entry.retryable)


def card_key(token: str, place: str) -> str:
    """The key of one card: a pure function of the order's card token (which changes only when a write of the
    order finishes) and where the card is (:func:`bot.actions.status.card_place`), so every redraw of one card
    between two finished writes carries the same key, and two cards never share one."""
    return hashlib.sha256(f"{token}:{place}".encode()).hexdigest()[:32]


def write_lock(order_id: str) -> str:
    """The lock an order's shipment, tracking update, cancellation or refund holds while it is in flight.

    Meta lets one request modify an order at a time (2361050), and two cards of one order must not both ship its
    last units: one such write per order at a time. It is a name in the same table as the acknowledgement locks,
    apart from them, so an acknowledged order can still be shipped.
    """
    return f"{order_id}/write"


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fingerprint(operation: str, params: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of an operation and its parameters."""
    return hashlib.sha256(canonical_json([operation, params]).encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One intent to change an order at Meta, and what became of it."""

    key: str
    operation: str
    order_id: str
    params: dict[str, Any]
    fingerprint: str
    state: LedgerState
    retryable: bool
    user_id: str
    team_id: str | None
    channel_id: str | None
    message_ts: str | None
    created_at: float
    updated_at: float
    lease_expires_at: float
    attempts: int
    response: dict[str, Any] | None
    error: dict[str, Any] | None
    reference: str | None
    next_attempt_at: float | None = None
    gave_up: bool = False

    @property
    def order_ids(self) -> list[str]:
        """The orders this entry acts on (and holds while it lives): one, or a batch's."""
        if self.operation == ACKNOWLEDGE_ORDERS:
            return [str(order["id"]) for order in self.params.get("orders", [])]
        return [self.order_id]

    @property
    def lock_ids(self) -> list[str]:
        """The locks this entry's claim holds while it lives: the orders of an acknowledgement, else the order's
        write lock (:func:`write_lock`), which a success frees again."""
        if self.operation in ACK_OPERATIONS:
            return self.order_ids
        return [write_lock(self.order_id)]

    def reference_for(self, order_id: str) -> str | None:
        """The merchant reference this entry sends for ``order_id``."""
        if self.operation == ACKNOWLEDGE_ORDERS:
            sent = {str(o["id"]): o.get("merchant_order_reference") for o in self.params.get("orders", [])}
            return sent.get(order_id)
        return self.reference


Blocked = Literal["order", "reference"]


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`Ledger.claim`: only ``won`` may call Meta; otherwise ``entry`` is what to answer from.

    * ``conflict``: the key is already used for a *different* request: refuse, never call Meta with it.
    * ``blocked``: another key's live claim holds the order (``"order"``) or the merchant reference
      (``"reference"``); ``entry`` is that claim. Nothing was written.
    * neither: the same intent again; ``entry`` is the earlier claim of this key.
    """

    won: bool
    entry: LedgerEntry
    conflict: bool = False
    blocked: Blocked | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How the sweeper re-drives a claim that failed transiently: the same key and parameters, after each delay
    in turn; when they are used up the claim is given up (it needs a person) and its orders are freed."""

    delays: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0)

    @property
    def attempts(self) -> int:
        """Sends in all, the first one included."""
        return len(self.delays) + 1

    def next_attempt(self, attempts: int, now: float) -> float | None:
        """When to send again after ``attempts`` sends failed transiently; None when there are no tries left."""
        return now + self.delays[attempts - 1] if attempts <= len(self.delays) else None

    @property
    def span_seconds(self) -> float:
        return sum(self.delays)


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    return None if text is None else cast(dict[str, Any], json.loads(text))


def entry_from_row(row: Row) -> LedgerEntry:
    return LedgerEntry(
        **{
            **row,
            "params": json.loads(row["params"]),
            "retryable": bool(row["retryable"]),
            "gave_up": bool(row["gave_up"]),
            "response": _json_or_none(row["response"]),
            "error": _json_or_none(row["error"]),
        }
    )
