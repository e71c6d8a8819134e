"""New-order notifications: the poller, its digests, ``orderdesk sync`` and ``status``.

Meta has no webhook for new orders, so the bot polls ``commerce_orders`` for orders changed since a stored
watermark (minus an overlap: Meta's clocks and pages are not exact), indexes them, and

* announces each order newly ``CREATED`` with a PII-free card carrying its Acknowledge buttons. ``FB_PROCESSING``
  orders wait: Meta touches ``last_updated`` when they move on, so a later poll lists them again;
* keeps every posted card current: when an order changed (acknowledged here or elsewhere, shipped, cancelled,
  refunded, completed), ``chat.update`` redraws its card and a threaded reply says what changed;
* turns a burst of more than ``digest_after`` new orders for one channel into one digest message, kept current
  like a card: when its orders change, ``chat.update`` redraws it ("3 of 17 new orders still awaiting
  acknowledgement", then "All 17 new orders acknowledged" without its buttons) and one threaded reply per pass
  says what changed, one line per order.

Replies say who acted when someone did through orderdesk (the audit's successful acknowledgement).

**Exactly once.** An announcement is claimed (an ``INSERT OR IGNORE`` of its ``notifications`` row) before it is
posted, posted with message metadata naming the order (or the digest), and completed with the message ts after.
A process killed between claim and completion leaves an unfinished row: the next pass looks for the message in
the channel's recent history (``include_all_metadata``) and completes the row if Slack has it, else posts it.
Passes over one database take an exclusive file lock, so ``orderdesk sync`` beside ``orderdesk serve`` can never
mistake a claim the other is still posting for one a crash abandoned.

**The watermark** means "every order last updated at or before this is handled". A pass moves it to the time the
pass started, or to just before the oldest order it could not finish (a Slack failure), which is then listed again.

**Memory** does not grow with the orders scanned: orders stream from the Graph client's generator and are indexed
a batch at a time; a pass keeps only the ids of new orders and the changed orders whose cards it is updating.

**Slack's limits.** Every Slack call goes through the publisher's per-channel lanes (:class:`Outbox`): paced,
429s waited out, other failures retried with backoff; what still fails stays unfinished for the next pass. A
Slack failure is never announced into Slack.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bot.actions.ledger import Ledger
from bot.config import Settings
from bot.domain.order import order_state
from bot.graph.client import GraphClient, GraphError
from bot.notify.announce import Announcer
from bot.notify.ports import Job, NotifyError, Outbox
from bot.notify.routing import channel_for, last_updated, snapshot
from bot.storage.ports import RunLock, RunLockBusy, Storage
from bot.storage.rows import DigestRow, NotificationRow

log = logging.getLogger(__name__)

NOTIFY_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "created",
        "last_updated",
        "channel",
        "merchant_order_id",
        "ship_by_date",
        "shipping_address{city,country}",
        "estimated_payment_details",
        "items.limit(100){id,retailer_id,product_name,quantity,price_per_unit}",
        "shipments{id,tracking_info,items}",
        "cancellations{id,cancel_reason,items}",
        "refunds{id,refund_reason,refund_amount,items}",
    )
)
"""What a notification card, its change tracking and its action buttons need, and no buyer PII (city and country
only). The edges carry their items: which units shipped, were cancelled or refunded decides what a card offers
(Mark shipped, Cancel, Refund) and what the cached order tells an export."""

POLL_STATES = ("FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED")
FIRST_POLL_STATES = ("FB_PROCESSING", "CREATED")
INDEX_BATCH = 100  # orders indexed per transaction

WATERMARK = "notifier.watermark"
LAST_POLL = "notifier.last_poll"
LAST_ERROR = "notifier.last_error"
LAST_RESULT = "notifier.last_result"


def _iso(unix: float | None) -> str | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds")


# A digest whose orders changed in this pass: the digest, and each changed order's notification row and version.
DigestChanges = dict[str, tuple[DigestRow, list[tuple[NotificationRow, dict[str, Any]]]]]


@dataclass
class PollResult:
    scanned: int = 0
    announced: int = 0
    digests: int = 0
    updated: int = 0
    recovered: int = 0
    failed: int = 0
    watermark: float | None = None


class PollerBusy(Exception):
    """Another process (``serve`` or ``sync``) is polling the same database right now."""


@contextmanager
def _poll_lock(locks: RunLock, *, wait: bool) -> Iterator[None]:
    """One pass at a time per database, across processes: the store's ``poller`` run lock, which a holder that
    dies (kill -9) loses."""
    with ExitStack() as held:
        try:
            held.enter_context(locks.run_lock("poller", wait=wait))
        except RunLockBusy as busy:
            raise PollerBusy(busy.scope) from None
        yield


class Notifier:
    """Polls Meta and keeps the channels' notifications exactly-once and current. One pass at a time."""

    def __init__(
        self,
        settings: Settings,
        graph: GraphClient,
        store: Storage,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._jobs = Announcer(store, Ledger(store, lease_seconds=settings.ack_lease_seconds, clock=clock))

    def status(self) -> dict[str, Any]:
        """For ``/healthz`` and ``orderdesk status``: last successful poll, watermark, queue, last error."""
        return {**stored_status(self._store), "queue": len(self._outbox)}

    def _submit(self, channel: str, job: Job) -> Future[object]:
        """Queue a Slack job on the channel's lane; its failed calls are this poller's last error."""
        return self._outbox.submit(channel, job, self._record_error)

    def _record_error(self, message: str) -> None:
        self._store.set_state(LAST_ERROR, json.dumps({"at": _iso(self._clock()), "error": message}))

    def poll_in_service(self) -> PollResult | None:
        """``orderdesk serve``'s worker: skip this turn if ``orderdesk sync`` is polling the same database."""
        try:
            return self.poll(wait_for_lock=False)
        except PollerBusy:
            log.info("another poller is running on this database; skipping this turn")
            return None

    def poll(
        self,
        *,
        since: float | None = None,
        wait_for_lock: bool = True,
        progress: Callable[[PollResult], None] | None = None,
    ) -> PollResult:
        """One pass: finish what a crash left, list changed orders, announce and update, advance the watermark.

        ``since`` (unix seconds) backfills from that time instead of the watermark. Raises :class:`GraphError`
        when Meta cannot be read (the watermark then stays where it was).
        """
        with _poll_lock(self._store, wait=wait_for_lock):
            return self._pass(since, progress or (lambda _: None))

    def _pass(self, since: float | None, progress: Callable[[PollResult], None]) -> PollResult:
        started = self._clock()
        result = PollResult()
        result.recovered = self._recover()
        held: list[float] = []  # last_updated of changed orders whose cards this pass could not update
        pending: list[tuple[Future[object], float | None]] = []
        new: dict[str, list[str]] = defaultdict(list)
        digests: DigestChanges = {}
        try:
            for batch in _batches(self._changed_orders(since), INDEX_BATCH):
                self._store.upsert_orders(batch)
                for order in batch:
                    result.scanned += 1
                    self._consider(order, new, digests, pending, result)
                progress(result)
        except GraphError as error:
            self._record_error(f"graph: {error}")
            self._finish(pending, held, result)
            raise
        # Once per digest and pass, after the scan: every order of the digest is indexed as Meta has it now.
        for digest, changes in digests.values():
            job = partial(self._jobs.refresh_digest, digest=digest, changes=changes)
            updated = [last_updated(order) for _, order in changes]
            oldest = min((u for u in updated if u is not None), default=self._clock())
            pending.append((self._submit(digest.channel, job), oldest))
        for channel, order_ids in new.items():
            self._announce_new(channel, order_ids, pending, result)
        self._finish(pending, held, result)
        # Announcements need no hold: an unfinished claim is finished by the next pass's recovery, wherever the
        # watermark is. A card update that failed is found again only if its order is listed again.
        result.watermark = min([started, *(updated - 1 for updated in held)])
        self._store.set_state(WATERMARK, repr(result.watermark))
        self._store.set_state(LAST_POLL, repr(self._clock()))
        self._store.set_state(LAST_RESULT, json.dumps({k: v for k, v in vars(result).items() if k != "watermark"}))
        progress(result)
        return result

    def _finish(
        self, pending: list[tuple[Future[object], float | None]], held: list[float], result: PollResult
    ) -> None:
        """Wait for the pass's Slack jobs; a failed card update holds the watermark before its order."""
        for future, updated in pending:
            error = future.exception()
            if error is None:
                continue
            result.failed += 1
            if updated is not None:
                held.append(updated)
            if not isinstance(error, NotifyError):
                log.error("notification job failed", exc_info=error)
                self._record_error(f"{type(error).__name__}: {error}")

    def _changed_orders(self, since: float | None) -> Iterator[dict[str, Any]]:
        if since is None:
            stored = self._store.get_state(WATERMARK)
            since = float(stored) - self._settings.poll_overlap_seconds if stored is not None else None
        return self._graph.iter_orders(
            state=POLL_STATES if since is not None else FIRST_POLL_STATES,
            updated_after=int(since) if since is not None else None,
            fields=NOTIFY_FIELDS,
            limit=25,
        )

    def _consider(
        self,
        order: dict[str, Any],
        new: dict[str, list[str]],
        digests: DigestChanges,
        pending: list[tuple[Future[object], float | None]],
        result: PollResult,
    ) -> None:
        """New and CREATED: remember to announce it. Announced and changed: update its card, or remember its
        digest for one update at the end of the pass. Otherwise nothing."""
        channel = channel_for(self._settings, order)
        if channel is None:
            return
        order_id = str(order["id"])
        row = self._store.get_notification(order_id, channel)
        if row is None:
            if order_state(order) == "CREATED":
                new[channel].append(order_id)
            return
        ts = row.ts
        if ts is None:  # claimed, and this pass's recovery could not finish it: the next pass's will
            return
        current = self._jobs.order(order_id)
        if snapshot(current) != row.state_summary:
            result.updated += 1
            digest = self._store.digest_at(channel, ts)
            if digest is not None:
                digests.setdefault(digest.id, (digest, []))[1].append((row, current))
                return
            job = partial(self._jobs.refresh, row=row, ts=ts, order=current)
            pending.append((self._submit(channel, job), last_updated(order) or self._clock()))

    def _announce_new(
        self,
        channel: str,
        order_ids: list[str],
        pending: list[tuple[Future[object], float | None]],
        result: PollResult,
    ) -> None:
        if len(order_ids) > self._settings.digest_after:
            digest_id = uuid.uuid4().hex
            claimed = self._store.claim_digest(digest_id, channel, order_ids)
            if claimed:
                result.digests += 1
                result.announced += len(claimed)
                pending.append((self._submit(channel, partial(self._jobs.post_digest, digest_id=digest_id)), None))
            return
        for order_id in order_ids:
            if self._store.claim_notification(order_id, channel):
                result.announced += 1
                job = partial(self._jobs.post_card, order_id=order_id, channel=channel)
                pending.append((self._submit(channel, job), None))

    def _recover(self) -> int:
        """Finish claims a crash left: complete those the channel has (found by metadata), post the others once."""
        unfinished = self._store.unfinished_notifications()
        if not unfinished:
            return 0
        digests = self._store.unfinished_digests()
        in_digest = {(order_id, d.channel) for d in digests for order_id in d.order_ids}
        claimed: dict[tuple[str, str], float] = {(r.order_id, r.channel): r.claimed_at for r in unfinished}
        cards: dict[str, list[NotificationRow]] = defaultdict(list)
        for row in unfinished:
            if (row.order_id, row.channel) not in in_digest:
                cards[row.channel].append(row)
        jobs = [
            self._submit(channel, partial(self._jobs.recover_cards, channel=channel, rows=rows))
            for channel, rows in cards.items()
        ]
        for digest in digests:
            since = min(claimed.get((order_id, digest.channel), self._clock()) for order_id in digest.order_ids)
            jobs.append(self._submit(digest.channel, partial(self._jobs.recover_digest, digest=digest, since=since)))
        for job in jobs:
            job.exception()  # what failed stays unfinished, for the next pass
        log.warning("recovering %d notifications a crash left unfinished", len(unfinished))
        return len(unfinished)


def _batches(orders: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(itertools.islice(orders, size)):
        yield batch


def stored_status(store: Storage) -> dict[str, Any]:
    """What the database knows of the poller (readable by another process: ``orderdesk status``)."""
    watermark, last_poll = store.get_state(WATERMARK), store.get_state(LAST_POLL)
    error, last = store.get_state(LAST_ERROR), store.get_state(LAST_RESULT)
    return {
        "last_successful_poll": _iso(float(last_poll)) if last_poll else None,
        "watermark": _iso(float(watermark)) if watermark else None,
        "unfinished": len(store.unfinished_notifications()),
        "last_result": json.loads(last) if last else None,
        "last_error": json.loads(error) if error else None,
    }


def digest_orders(store: Storage, digest_id: str) -> list[dict[str, Any]] | None:
    """The orders a digest announced, as last indexed (PII-free), for its "List them" button; None if unknown."""
    digest = store.get_digest(digest_id)
    if digest is None:
        return None
    indexed = (store.get_order(order_id) for order_id in digest.order_ids)
    return [order.data for order in indexed if order is not None]
