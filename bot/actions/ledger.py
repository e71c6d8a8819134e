"""The idempotency ledger: claim → call Meta → record the outcome.

Slack sends one request per click and retries slow ones; processes crash; a second replica may run the same
sweeper. Meta dedupes POSTs by ``idempotency_key`` (same key + same request = one effect; same key + different
request = an error). The ledger turns that into "an order is acknowledged once":

1. The key belongs to the *intent* (a card's key, :meth:`Ledger.card_token`, kept across its redraws until a write
   of the order finishes), not to the click.
2. :meth:`Ledger.claim` inserts a ``pending`` row with ``INSERT OR IGNORE`` and, in the same transaction, the
   order's lock (``INSERT OR IGNORE`` on the order id, with the merchant reference reserved beside it), and
   commits before anyone calls Meta. Only a claim that wrote both (:attr:`Claim.won`) may call; if the order or
   the reference is held by another claim, nothing is written and the caller answers from that claim. A lock
   therefore always belongs to a claim that was won and is still live.
3. The caller sends ``entry.key`` and ``entry.params`` exactly as stored, never freshly built values, so a retry
   is byte-for-byte the first request.
4. :meth:`Ledger.succeed` / :meth:`Ledger.fail` record the outcome, the audit row, the orders index update and
   what it means for the locks in one transaction: a success keeps the order; a permanent failure frees it.
5. A claim whose owner died (lease expired) or that failed transiently is re-driven through
   :meth:`Ledger.take_over`, which exactly one caller wins, with the same key and parameters. Transient failures
   are re-sent on a :class:`RetryPolicy`; when it is used up the claim is given up (a person decides, with Retry
   on the cards, still the same key) and its orders are freed.

The :class:`bot.actions.runner.Runner` is the typical user: it sends only what a won claim stored, and records
the outcome with :meth:`Ledger.succeed` or :meth:`Ledger.fail`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.actions.entries import (
    ACK_OPERATIONS,
    ACKNOWLEDGE_ORDER,
    ACKNOWLEDGE_ORDERS,
    CARD_KEY_OPERATIONS,
    KEY_PATTERN,
    Claim,
    LedgerEntry,
    RetryPolicy,
    canonical_json,
    card_key,
    entry_from_row,
    fingerprint,
    finished,
    new_key,
)
from bot.storage.ports import Storage

# Re-exported: callers name the ledger's values through the ledger.
__all__ = [
    "ACKNOWLEDGE_ORDER",
    "ACKNOWLEDGE_ORDERS",
    "Claim",
    "Ledger",
    "LedgerEntry",
    "RetryPolicy",
    "canonical_json",
    "card_key",
    "fingerprint",
    "new_key",
]

log = logging.getLogger(__name__)

CARD_KEY_SALT = "card_key_salt"  # key/value name of this database's random part of every card's key
CLOSED_APPROVALS = ("declined", "expired")  # approval requests that end their intent without a write


class _Rollback(Exception):
    """Undoes a claim's transaction when one of its locks is held elsewhere."""


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
    """Claims, outcomes and recovery of calls to Meta that must happen once, stored through the storage ports.

    A claim and the locks on the orders it acts on are one thing: the row and its locks are written in one
    transaction, or neither is, and the locks go when the claim ends without success (refused for good, or given
    up after its retries). A lock therefore always names a live claim: pending, retrying or succeeded.
    """

    def __init__(
        self,
        store: Storage,
        *,
        lease_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
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
        """Claim ``key`` for this request, and the order (and its merchant reference) with it, before calling Meta.

        ``params`` are the Graph parameters other than the key and the order id, exactly as they will be sent.
        The fingerprint covers the order id too: the same key for another order is a conflict, logged and
        audited, and nothing is written. ``reference`` (recorded in the orders index on success, reserved while
        the claim lives) defaults to the one in ``params``.
        """
        entry = self._new_entry(
            key=key,
            operation=operation,
            order_id=order_id,
            params=params,
            user_id=user_id,
            team_id=team_id,
            channel_id=channel_id,
            message_ts=message_ts,
            reference=reference if reference is not None else params.get("merchant_order_reference"),
        )
        while True:
            try:
                with self._store.transaction():
                    if not self._store.ledger_insert(self._row(entry)):
                        return self._same_key(entry)
                    if not all(self._store.lock_order(lock, key, entry.reference) for lock in entry.lock_ids):
                        raise _Rollback
                    return Claim(won=True, entry=entry)
            except _Rollback:
                blocked = self._blocked(entry.lock_ids[0], entry.reference)
                if blocked is not None:
                    return blocked
                # The holder ended between our insert and this read: the order is free, so claim again.

    def claim_batch(
        self,
        *,
        key: str,
        operation: str,
        page_id: str,
        orders: Sequence[Mapping[str, Any]],
        user_id: str,
        team_id: str | None = None,
    ) -> tuple[Claim | None, list[LedgerEntry | None]]:
        """Claim a fresh ``key`` for one batch call over the orders no other claim holds.

        ``orders`` are the per-order Graph parameters (``{"id", "merchant_order_reference"?}``). Returns the claim
        (None when every order is held elsewhere) and, for each order left out, the entry holding it (None if it
        was freed meanwhile: it is simply left for the next run).
        """
        # Locked in one order whatever the caller's: two batches over the same orders listed differently (the
        # pending queue's and a digest's) would otherwise each hold one lock and wait on the other's, and
        # PostgreSQL would end one of them as a deadlock.
        by_id = sorted(orders, key=lambda order: str(order["id"]))
        with self._store.transaction():
            mine = [
                dict(order)
                for order in by_id
                if self._store.lock_order(str(order["id"]), key, order.get("merchant_order_reference"))
            ]
            claim = None
            if mine:
                entry = self._new_entry(
                    key=key,
                    operation=operation,
                    order_id=page_id,
                    params={"orders": mine},
                    user_id=user_id,
                    team_id=team_id,
                    channel_id=None,
                    message_ts=None,
                    reference=None,
                )
                if not self._store.ledger_insert(self._row(entry)):
                    raise ValueError(f"batch key {key!r} is not fresh")
                claim = Claim(won=True, entry=entry)
        taken = {str(order["id"]) for order in mine}
        others = [self.holding(str(order["id"])) for order in orders if str(order["id"]) not in taken]
        return claim, others

    def take_over(self, key: str) -> LedgerEntry | None:
        """Re-open an abandoned (lease expired) or retryable entry; the entry iff this caller won it.

        The winner re-sends ``entry.params`` with ``entry.key`` unchanged (Retry button, sweeper). An entry that
        was given up freed its orders: they are locked again, or, if another claim holds one now, nothing changes.
        """
        now = self._clock()
        try:
            with self._store.transaction():
                row = self._store.ledger_take_over(key, now=now, lease_expires_at=now + self._lease_seconds)
                if row is None:
                    return None
                entry = entry_from_row(row)
                for lock in entry.lock_ids:
                    if not self._store.lock_order(lock, key, entry.reference_for(lock)):
                        raise _Rollback
                return entry
        except _Rollback:
            return None

    def succeed(
        self,
        key: str,
        response: Mapping[str, Any],
        *,
        order_state: str = "IN_PROGRESS",
        detail: str | None = None,
    ) -> LedgerEntry:
        """Record Meta's success, its audit row and (for acknowledgements) the orders index, in one transaction.

        The orders of a batch that Meta refused one by one are freed; any other write frees the order's write
        lock, since the order may be changed again. ``detail`` (words of what was done) goes into the audit row.
        Succeeding twice (an abandoned owner and its successor both hear Meta's replay) records it once.
        """
        now = self._clock()
        with self._store.transaction():
            row = self._store.ledger_mark_succeeded(key, response=canonical_json(response), now=now)
            if row is None:
                return self._existing(key)
            entry = entry_from_row(row)
            words = detail or (f"reference {entry.reference}" if entry.reference else None)
            self._audit(entry, "succeeded", words, now)
            if entry.operation not in ACK_OPERATIONS:
                self._store.unlock(key)
                return entry
            acknowledged = _acknowledged(entry, response)
            for order_id, reference in acknowledged:
                self._store.set_order_state(order_id, order_state)
                if reference:
                    self._store.set_reference(order_id, reference)
            if entry.operation == ACKNOWLEDGE_ORDERS:
                done = {order_id for order_id, _ in acknowledged}
                self._store.unlock(key, [order_id for order_id in entry.order_ids if order_id not in done])
        return entry

    def fail(self, key: str, error: Mapping[str, Any], *, retryable: bool) -> LedgerEntry:
        """Record a failure with its audit row, in one transaction with what it means for the orders.

        Transient (``retryable``): the sweeper sends the same key and parameters again after the policy's next
        delay; with no tries left the entry is given up. Permanent, or given up: the orders are freed, so a
        corrected request (a new key) can claim them. Only a pending entry can fail: a late failure never
        overwrites a success, which is returned instead.
        """
        now = self._clock()
        with self._store.transaction():
            current = self._existing(key)
            next_attempt = self.retry.next_attempt(current.attempts, now) if retryable else None
            gave_up = retryable and next_attempt is None
            row = self._store.ledger_mark_failed(
                key,
                error=canonical_json(error),
                retryable=retryable,
                now=now,
                next_attempt_at=next_attempt,
                gave_up=gave_up,
            )
            if row is None:
                return current
            entry = entry_from_row(row)
            outcome = "failed, gave up retrying" if gave_up else "failed, retryable" if retryable else "failed"
            self._audit(entry, outcome, canonical_json(error), now)
            if gave_up or not retryable:
                self._store.unlock(key)
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
        return entry_from_row(row) if row else None

    def for_order(self, order_id: str, operation: str = ACKNOWLEDGE_ORDER) -> list[LedgerEntry]:
        """Every entry of the order for ``operation``, newest first."""
        return [entry_from_row(row) for row in self._store.ledger_for_order(order_id, operation)]

    def card_token(self, order_id: str) -> str:
        """What every card of the order derives its key from (:func:`card_key`), the same until a write of the
        order finishes (:func:`~bot.actions.entries.finished`: a success, or a refusal for good).

        A band change, a poll's update or another card's refresh redraws a card with the same keys, so a click
        before the redraw and one after it are one intent; a success or a refused request gives every card new
        keys, so the next intent (or the corrected request) never reuses a spent one; so does a refund whose
        approval was declined or expired. The counts are the database's, so every process and replica draws the
        same keys; the random salt, made once per database, keeps two databases (a reinstall) from ever sending
        Meta the same key for the same order.
        """
        count = sum(
            1 for operation in CARD_KEY_OPERATIONS for entry in self.for_order(order_id, operation) if finished(entry)
        )
        # A refund waiting for a second person is no ledger entry yet; declined or expired, its intent is over too.
        count += sum(1 for row in self._store.approvals_for_order(order_id) if row["state"] in CLOSED_APPROVALS)
        return canonical_json([self._salt(), order_id, count])

    def _salt(self) -> str:
        salt = self._store.get_state(CARD_KEY_SALT)
        if salt is None:
            self._store.set_state(CARD_KEY_SALT, new_key())
            salt = self._store.get_state(CARD_KEY_SALT) or ""
        return salt

    def holding(self, order_id: str) -> LedgerEntry | None:
        """The live claim that holds the order (pending, retrying or succeeded), if any.

        A second card of the same order carries a fresh key; the lock it cannot take names this entry, and the
        card shows it ("already acknowledged by @X", "being acknowledged", Retry with this entry's key).
        """
        row = self._store.ledger_holding(order_id)
        return entry_from_row(row) if row else None

    def current(self, order_id: str) -> LedgerEntry | None:
        """What a freshly drawn card shows: the claim holding the order, else its newest claim if that one was
        given up (a person must retry it, with its own key), else nothing."""
        holder = self.holding(order_id)
        if holder is not None:
            return holder
        latest = self.for_order(order_id)
        return latest[0] if latest and latest[0].gave_up else None

    def due(self) -> list[LedgerEntry]:
        """The sweeper's work list: pending entries whose owner's lease ran out, and retries that are due."""
        return [entry_from_row(row) for row in self._store.ledger_due(now=self._clock())]

    def add_waiter(
        self, key: str, *, order_id: str, user_id: str, channel: str | None, response_url: str | None
    ) -> None:
        """Tell this clicker the outcome of ``key``'s claim once it is recorded (:meth:`take_waiters`)."""
        self._store.add_waiter(key, order_id=order_id, user_id=user_id, channel=channel, response_url=response_url)

    def take_waiters(self, key: str) -> list[dict[str, Any]]:
        return self._store.take_waiters(key)

    def _new_entry(
        self,
        *,
        key: str,
        operation: str,
        order_id: str,
        params: Mapping[str, Any],
        user_id: str,
        team_id: str | None,
        channel_id: str | None,
        message_ts: str | None,
        reference: str | None,
    ) -> LedgerEntry:
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError("an idempotency key is 1-100 characters of A-Z, a-z, 0-9, _ or -")
        now = self._clock()
        stored_params = json.loads(canonical_json(dict(params)))  # exactly what get() will return later
        return LedgerEntry(
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
            reference=reference,
        )

    @staticmethod
    def _row(entry: LedgerEntry) -> dict[str, Any]:
        return {**vars(entry), "params": canonical_json(entry.params), "gave_up": int(entry.gave_up)}

    def _same_key(self, entry: LedgerEntry) -> Claim:
        """The key is claimed already: the same intent again, or (another fingerprint) a refused conflict."""
        existing = self._existing(entry.key)
        if existing.fingerprint == entry.fingerprint:
            return Claim(won=False, entry=existing)
        log.warning(
            "idempotency key %s reused for a different request (order %s, earlier order %s) by %s: refused",
            entry.key,
            entry.order_id,
            existing.order_id,
            entry.user_id,
        )
        self._store.add_audit(
            action=entry.operation,
            order_id=entry.order_id,
            user_id=entry.user_id,
            team_id=entry.team_id,
            key=entry.key,
            outcome="conflict",
            detail="key already used for a different request; not sent to Meta",
            at=entry.created_at,
        )
        return Claim(won=False, entry=existing, conflict=True)

    def _blocked(self, order_id: str, reference: str | None) -> Claim | None:
        """Who holds the order, or else its reference; None if both were freed meanwhile (claim again)."""
        holder = self.holding(order_id)
        if holder is not None:
            return Claim(won=False, entry=holder, blocked="order")
        reserved = self._store.reference_holder(reference) if reference else None
        other = self.get(reserved[1]) if reserved else None
        return Claim(won=False, entry=other, blocked="reference") if other else None

    def _existing(self, key: str) -> LedgerEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(f"no ledger entry with key {key!r}")
        return entry
