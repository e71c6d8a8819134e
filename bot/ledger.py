"""The idempotency ledger: claim → call Meta → record the outcome (design.md, section 2).

Slack sends one request per click and retries slow ones; processes crash. Meta dedupes POSTs by
``idempotency_key`` (same key + same request = one effect; same key + different request = an error). The ledger
turns that into "an order is acknowledged once":

1. The key belongs to the *intent* (minted with :func:`new_key` when a card is rendered), not to the click.
2. :meth:`Ledger.claim` inserts a ``pending`` row with ``INSERT OR IGNORE`` and commits before anyone calls Meta.
   Only the claim that inserted the row (:attr:`Claim.won`) may call; every other click gets the stored entry to
   answer from ("being acknowledged by @X", "already acknowledged by @X").
3. The caller sends ``entry.key`` and ``entry.params`` exactly as stored, never freshly built values, so a retry
   is byte-for-byte the first request.
4. :meth:`Ledger.succeed` / :meth:`Ledger.fail` record the outcome, the audit row and the orders index update in
   one transaction.
5. A claim whose owner died (lease expired) or that failed transiently is re-driven through
   :meth:`Ledger.take_over`, which exactly one caller wins, with the same key and parameters.

Typical use by the acknowledgement service::

    claim = ledger.claim(key=key, operation=ACKNOWLEDGE_ORDER, order_id=order_id,
                         params={"merchant_order_reference": ref}, user_id=user, reference=ref)
    if not claim.won:
        return answer_duplicate(claim)          # conflict, in flight, succeeded or failed: words, no call
    entry = claim.entry                         # send what is stored, not what was just built
    try:
        response = graph.acknowledge_order(entry.order_id, entry.key, **entry.params)
    except GraphError as exc:
        return ledger.fail(entry.key, {"code": exc.code, "message": str(exc)}, retryable=exc.is_transient)
    return ledger.succeed(entry.key, response)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from bot.store import Row, Store

log = logging.getLogger(__name__)

ACKNOWLEDGE_ORDER = "acknowledge_order"
ACKNOWLEDGE_ORDERS = "acknowledge_orders"

# Meta accepts "any alphanumeric string up to 100 characters" and its own samples use hyphenated UUIDs.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")

LedgerState = Literal["pending", "succeeded", "failed"]


def new_key() -> str:
    """A fresh idempotency key for one intent: 32 alphanumeric characters, valid for Meta however it reads."""
    return uuid.uuid4().hex


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


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`Ledger.claim`: only ``won`` may call Meta; otherwise ``entry`` is the earlier claim.

    ``conflict`` means the key is already used for a *different* request: refuse, never call Meta with it.
    """

    won: bool
    entry: LedgerEntry
    conflict: bool


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    return None if text is None else cast(dict[str, Any], json.loads(text))


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        **{
            **row,
            "params": json.loads(row["params"]),
            "retryable": bool(row["retryable"]),
            "response": _json_or_none(row["response"]),
            "error": _json_or_none(row["error"]),
        }
    )


def _acknowledged(entry: LedgerEntry, response: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(order id, merchant reference) of every order a successful acknowledgement call moved on."""
    if entry.operation == ACKNOWLEDGE_ORDER:
        return [(entry.order_id, entry.reference)]
    if entry.operation == ACKNOWLEDGE_ORDERS:
        # Batch results are per order; the ones carrying an error_code were not acknowledged.
        sent = {str(o["id"]): o.get("merchant_order_reference") for o in entry.params.get("orders", [])}
        return [
            (str(result["id"]), sent[str(result["id"])])
            for result in response.get("orders", [])
            if "error" not in result and str(result.get("id")) in sent
        ]
    return []


class Ledger:
    """Claims, outcomes and recovery of calls to Meta that must happen once, stored through a :class:`Store`."""

    def __init__(self, store: Store, *, lease_seconds: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._clock = clock

    def claim(
        self,
        *,
        key: str,
        operation: str,
        order_id: str,
        params: Mapping[str, Any],
        user_id: str,
        team_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        reference: str | None = None,
    ) -> Claim:
        """Claim ``key`` for this request before calling Meta; never select-then-insert.

        ``params`` are the Graph parameters other than the key and the order id, exactly as they will be sent.
        The fingerprint covers the order id too: the same key for another order is a conflict. A conflict is
        logged and written to the audit trail, and the earlier entry is returned untouched. ``reference`` (the
        merchant reference, recorded in the orders index on success) defaults to the one in ``params``.
        """
        if not _KEY.fullmatch(key):
            raise ValueError("an idempotency key is 1-100 characters of A-Z, a-z, 0-9, _ or -")
        now = self._clock()
        params_json = canonical_json(dict(params))
        stored_params = json.loads(params_json)  # exactly what get() will return later
        entry = LedgerEntry(
            key=key,
            operation=operation,
            order_id=order_id,
            params=stored_params,
            fingerprint=fingerprint(operation, {"order_id": order_id, "params": stored_params}),
            state="pending",
            retryable=False,
            user_id=user_id,
            team_id=team_id,
            channel_id=channel_id,
            message_ts=message_ts,
            created_at=now,
            updated_at=now,
            lease_expires_at=now + self._lease_seconds,
            attempts=1,
            response=None,
            error=None,
            reference=reference if reference is not None else params.get("merchant_order_reference"),
        )
        with self._store.transaction():
            if self._store.ledger_insert({**vars(entry), "params": params_json}):
                return Claim(won=True, entry=entry, conflict=False)
            existing = self._existing(key)
            conflict = existing.fingerprint != entry.fingerprint
            if conflict:
                log.warning(
                    "idempotency key %s reused for a different request (order %s, earlier order %s) by %s: refused",
                    key,
                    order_id,
                    existing.order_id,
                    user_id,
                )
                self._store.add_audit(
                    action=operation,
                    order_id=order_id,
                    user_id=user_id,
                    team_id=team_id,
                    key=key,
                    outcome="conflict",
                    detail="key already used for a different request; not sent to Meta",
                    at=now,
                )
        return Claim(won=False, entry=existing, conflict=conflict)

    def take_over(self, key: str) -> LedgerEntry | None:
        """Re-open an abandoned (lease expired) or retryable entry; the entry iff this caller won it.

        The winner re-sends ``entry.params`` with ``entry.key`` unchanged (Retry button, crash sweeper).
        """
        now = self._clock()
        row = self._store.ledger_take_over(key, now=now, lease_expires_at=now + self._lease_seconds)
        return _entry(row) if row else None

    def succeed(self, key: str, response: Mapping[str, Any], *, order_state: str = "IN_PROGRESS") -> LedgerEntry:
        """Record Meta's success, its audit row and (for acknowledgements) the orders index, in one transaction.

        Succeeding twice (an abandoned owner and its successor both hear Meta's replay) records it once.
        """
        now = self._clock()
        with self._store.transaction():
            row = self._store.ledger_mark_succeeded(key, response=canonical_json(response), now=now)
            if row is None:
                return self._existing(key)
            entry = _entry(row)
            self._audit(entry, "succeeded", f"reference {entry.reference}" if entry.reference else None, now)
            for order_id, reference in _acknowledged(entry, response):
                self._store.set_order_state(order_id, order_state)
                if reference:
                    self._store.set_reference(order_id, reference)
        return entry

    def fail(self, key: str, error: Mapping[str, Any], *, retryable: bool) -> LedgerEntry:
        """Record a failure (``retryable`` for transient ones: same key, same params later) with its audit row.

        Only a pending entry can fail: a late failure never overwrites a success, which is returned instead.
        """
        now = self._clock()
        with self._store.transaction():
            row = self._store.ledger_mark_failed(key, error=canonical_json(error), retryable=retryable, now=now)
            if row is None:
                return self._existing(key)
            entry = _entry(row)
            self._audit(entry, "failed, retryable" if retryable else "failed", canonical_json(error), now)
        return entry

    def _audit(self, entry: LedgerEntry, outcome: str, detail: str | None, now: float) -> None:
        """The audit row of an outcome, written inside the caller's transaction."""
        self._store.add_audit(
            action=entry.operation,
            order_id=entry.order_id,
            user_id=entry.user_id,
            team_id=entry.team_id,
            key=entry.key,
            outcome=outcome,
            detail=detail,
            at=now,
        )

    def get(self, key: str) -> LedgerEntry | None:
        row = self._store.ledger_get(key)
        return _entry(row) if row else None

    def for_order(self, order_id: str, operation: str = ACKNOWLEDGE_ORDER) -> list[LedgerEntry]:
        """Every entry of the order for ``operation``, newest first."""
        return [_entry(row) for row in self._store.ledger_for_order(order_id, operation)]

    def settled_or_inflight(self, order_id: str, operation: str = ACKNOWLEDGE_ORDER) -> LedgerEntry | None:
        """A succeeded entry of the order if any, else a pending one whose lease is live.

        A second card of the same order carries a fresh key, so its claim wins; asking this first turns it into
        "already acknowledged by @X" instead of a second call.
        """
        row = self._store.ledger_settled_or_inflight(order_id, operation, now=self._clock())
        return _entry(row) if row else None

    def expired(self) -> list[LedgerEntry]:
        """Pending entries whose owner's lease ran out: the crash sweeper's work list."""
        return [_entry(row) for row in self._store.ledger_expired(now=self._clock())]

    def retryable(self) -> list[LedgerEntry]:
        """Entries that failed transiently and may be re-sent with the same key."""
        return [_entry(row) for row in self._store.ledger_retryable()]

    def _existing(self, key: str) -> LedgerEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(f"no ledger entry with key {key!r}")
        return entry
