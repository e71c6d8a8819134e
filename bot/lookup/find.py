"""``/order find``: which orders' buyers match an email, a phone or a name, over a window of last updates.

Meta's API cannot search by buyer, so orderdesk matches keyed hashes in its own buyer index
(:mod:`bot.domain.buyer_search`), which every read carrying buyer fields fills: a lookup's, and the scans here.
What the index covers is remembered as spans of last-update time (:class:`bot.storage.ports.BuyerCoverage`). A
search first reads from Meta the parts of its window that no earlier scan covered (``updated_after`` /
``updated_before``, only the fields needed to match, every page of those parts and no more), indexes what it read
and remembers those parts as covered; then it matches, from the index alone. A second search of the same window
reads nothing from Meta. The poller reads no buyer fields, so what it reads covers nothing: the scan fills those
orders in the first time a search's window reaches them. A fingerprint of the search key is kept with the index:
after ``ORDERDESK_SEARCH_KEY`` changed, the first search drops the old hashes and the coverage (they match nothing
now) and reads its window again; ``orderdesk reindex`` does the same at once.

The searched value is hashed at once and never kept: the audit row records the query's shape (email, phone or
name) and how many orders matched, nothing of what was typed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain.buyer_search import Kind, key_check, query_hashes
from bot.graph.client import GraphClient, GraphError
from bot.lookup.export import window_words
from bot.storage.ports import Audit, BuyerCoverage, BuyerIndex, KeyValue, OrderIndex, RunLock, RunLockBusy

log = logging.getLogger(__name__)

FIND_ACTION = "find"
MAX_MATCHES = 50  # more than any agent reads; the answer says how many there were
# Buyer details are not shared while an order is in FB_PROCESSING, so a scan asks for the later states only; an
# order leaving FB_PROCESSING gets a new last update, which lands in a part of the timeline not yet covered.
SCAN_STATES = ("CREATED", "IN_PROGRESS", "COMPLETED")
SCAN_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "created",
        "last_updated",
        "buyer_details{name,email,phone_number}",
        "shipping_address{name}",
    )
)
SCAN_PAGE_SIZE = 25  # Meta's documented page of orders; no larger maximum is documented
MIN_SCAN_SECONDS = 60  # a part of the window shorter than this (the minute since the last search) is read later
SCAN_LOCK = "buyer_scan"  # one scan at a time per database: a second search waits, then finds the window covered
# A search arriving during another's scan waits for it this long before telling the asker why, and at most
# MAX_SCAN_WAIT_SECONDS in all: then it answers from the index, saying which part of the window it did not read.
SCAN_WAIT_NOTICE_SECONDS = 3.0
MAX_SCAN_WAIT_SECONDS = 120.0
SCAN_LOCK_POLL_SECONDS = 0.5  # each try is a connection on PostgreSQL (an advisory lock)
KEY_CHECK_STATE = "buyer_index_key_check"  # the fingerprint of the key the index's hashes were made with


class FindStore(BuyerIndex, BuyerCoverage, OrderIndex, Audit, KeyValue, RunLock, Protocol):
    """What a search needs of storage."""


@dataclass(frozen=True)
class FindRequest:
    """What to look for (already classified), and the window by last update."""

    kind: Kind
    text: str
    since_seconds: int


@dataclass
class Scanned:
    """What a scan of Meta found covered already (``indexed_seconds``) and what it read: the seconds of timeline it
    covered, the pages it fetched, the orders they held, and the error that stopped it (``missed_seconds``, the
    parts it did not finish, stay uncovered)."""

    indexed_seconds: float = 0.0
    seconds: float = 0.0
    pages: int = 0
    orders: int = 0
    missed_seconds: float = 0.0
    error: GraphError | None = None
    rekeyed: bool = False  # the index had been built with another search key, and was dropped first
    busy: bool = False  # another scan held the lock past the longest wait: ``missed_seconds`` were not read


@dataclass(frozen=True)
class FindResult:
    """The matching order ids, most recently updated first, and how the window was searched: ``scanned`` says how
    much earlier scans had covered and what was read from Meta now; ``recent_seconds`` (the part since the last
    scan, shorter than :data:`MIN_SCAN_SECONDS`) was searched in the index alone."""

    matches: list[str]
    window_seconds: int
    scanned: Scanned = field(default_factory=Scanned)

    @property
    def recent_seconds(self) -> float:
        scanned = self.scanned
        return max(0.0, self.window_seconds - scanned.indexed_seconds - scanned.seconds - scanned.missed_seconds)


def uncovered(spans: Sequence[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The parts of ``[start, end)`` outside the (sorted, non-overlapping) ``spans``, newest first."""
    gaps: list[tuple[float, float]] = []
    position = start
    for low, high in sorted(spans):
        if low > position:
            gaps.append((position, min(low, end)))
        position = max(position, high)
    if position < end:
        gaps.append((position, end))
    return [gap for gap in reversed(gaps) if gap[1] > gap[0]]


def scan_span(
    graph: GraphClient,
    store: FindStore,
    start: float,
    end: float | None,
    *,
    on_page: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Read every page of the orders last updated in ``[start, end)`` (``end`` None: up to Meta's now) with their
    buyer fields, indexing each page as it arrives (one short write transaction per page, never held across a Graph
    round trip): ``(pages, orders)``.

    Meta does not document whether its time filters include their bounds, so the request reaches one second past
    each end; the extra orders are indexed like the rest. The newest part of a window is asked with no upper bound,
    so a clock at Meta running ahead of orderdesk's cannot hide an order updated just now. ``on_page`` hears the
    count of pages read so far. A :class:`GraphError` stops the scan and propagates: the caller records as covered
    only spans read to the end.
    """
    params: dict[str, Any] = {
        "state": SCAN_STATES,
        "updated_after": math.floor(start) - 1,
        "updated_before": None if end is None else math.ceil(end) + 1,
        "fields": SCAN_FIELDS,
        "limit": SCAN_PAGE_SIZE,
    }
    path = f"{graph.page_id}/commerce_orders"
    pages = orders = 0
    while True:
        body = graph.send("GET", path, params)
        data = [order for order in body.get("data") or [] if isinstance(order, dict) and "id" in order]
        store.upsert_orders(data)
        pages += 1
        orders += len(data)
        if on_page is not None:
            on_page(pages)
        paging = body.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not paging.get("next") or not after:
            return pages, orders
        params["after"] = after


def forget_if_rekeyed(store: FindStore, key: str) -> bool:
    """Drop the hashes and the coverage when they were made with another key than ``key`` (they match nothing
    now, and the coverage would stop searches from reading those orders again), and record ``key`` as the index's
    key: True when something was dropped. An index that never recorded its key is taken to be this key's. The
    caller holds :data:`SCAN_LOCK`, as every change of the coverage does."""
    recorded = store.get_state(KEY_CHECK_STATE)
    if recorded == key_check(key):
        return False
    if recorded is None:
        store.set_state(KEY_CHECK_STATE, key_check(key))
        return False
    _drop(store, key)
    log.warning("find: ORDERDESK_SEARCH_KEY changed: the buyer index was dropped and is rebuilt from Meta")
    return True


def drop_buyer_index(store: FindStore, key: str) -> int:
    """Drop every hash and covered span, and record ``key`` as the one the index is rebuilt with: how many orders
    had hashes. Holds :data:`SCAN_LOCK` (waiting for a scan in progress), so a scan cannot record as covered a
    span whose hashes were dropped while it read it."""
    with store.run_lock(SCAN_LOCK):
        return _drop(store, key)


def rebuild_buyer_index(
    graph: GraphClient | None,
    store: FindStore,
    start: float,
    end: float,
    *,
    key: str,
    dropped: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scanned:
    """``orderdesk reindex``: drop the index (``dropped`` hears how many orders had hashes) and read
    ``[start, end)`` from Meta again with ``key``, all under one hold of :data:`SCAN_LOCK`, so no search's scan
    runs between the drop and the re-read. ``graph`` None: drop only."""
    with store.run_lock(SCAN_LOCK):
        count = _drop(store, key)
        if dropped is not None:
            dropped(count)
        if graph is None:
            return Scanned()
        return _cover(graph, store, start, end, key=key, min_seconds=0, progress=progress)


def _drop(store: FindStore, key: str) -> int:
    dropped = store.forget_buyer_index()
    store.set_state(KEY_CHECK_STATE, key_check(key))
    return dropped


def take_scan_lock(
    store: FindStore,
    *,
    waiting: Callable[[], None] | None = None,
    notice_after: float = SCAN_WAIT_NOTICE_SECONDS,
    max_wait: float = MAX_SCAN_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AbstractContextManager[None] | None:
    """:data:`SCAN_LOCK`, entered (the caller exits it), or None when another scan held it for ``max_wait``
    seconds. ``waiting`` is called once, when the wait passes ``notice_after`` seconds."""
    started = clock()
    told = False
    while True:
        lock = store.run_lock(SCAN_LOCK, wait=False)
        try:
            lock.__enter__()
        except RunLockBusy:
            waited = clock() - started
            if waited >= max_wait:
                return None
            if not told and waited >= notice_after:
                told = True
                if waiting is not None:
                    waiting()
            sleep(SCAN_LOCK_POLL_SECONDS)
            continue
        return lock


def cover_window(
    graph: GraphClient,
    store: FindStore,
    start: float,
    end: float,
    *,
    key: str,
    min_seconds: float = MIN_SCAN_SECONDS,
    progress: Callable[[int], None] | None = None,
    waiting: Callable[[], None] | None = None,
    max_wait: float = MAX_SCAN_WAIT_SECONDS,
) -> Scanned:
    """Read from Meta the parts of ``[start, end)`` the index does not cover (those of at least ``min_seconds``),
    newest first, and remember each as covered once all its pages are indexed. One scan at a time per database
    (:data:`SCAN_LOCK`): a search arriving during another's scan waits for it (``waiting`` hears when that takes
    more than a few seconds) and then reads only what is left; after ``max_wait`` seconds it reads nothing and
    the result says so (``busy``, the uncovered parts in ``missed_seconds``). An index built with another search
    key than ``key`` is dropped first (:func:`forget_if_rekeyed`). ``progress`` hears the pages read so far."""
    lock = take_scan_lock(store, waiting=waiting, max_wait=max_wait)
    if lock is None:
        spans = store.covered_spans(start, end)
        indexed = sum(high - low for low, high in spans)
        gaps = [gap for gap in uncovered(spans, start, end) if gap[1] - gap[0] >= min_seconds]
        log.warning("find: another scan of Meta held the lock for %.0f s; answering from the index", max_wait)
        return Scanned(indexed_seconds=indexed, missed_seconds=sum(high - low for low, high in gaps), busy=True)
    with ExitStack() as stack:
        stack.push(lock)
        scanned = _cover(graph, store, start, end, key=key, min_seconds=min_seconds, progress=progress)
    if scanned.pages:
        log.info(
            "find: read %d pages (%d orders) from Meta, %.0f s of timeline",
            scanned.pages,
            scanned.orders,
            scanned.seconds,
        )
    return scanned


def _cover(
    graph: GraphClient,
    store: FindStore,
    start: float,
    end: float,
    *,
    key: str,
    min_seconds: float,
    progress: Callable[[int], None] | None,
) -> Scanned:
    """:func:`cover_window`'s reading, with :data:`SCAN_LOCK` held by the caller."""
    scanned = Scanned()

    def page_read(pages_of_span: int) -> None:
        if progress is not None:
            progress(scanned.pages + pages_of_span)

    scanned.rekeyed = forget_if_rekeyed(store, key)
    spans = store.covered_spans(start, end)
    scanned.indexed_seconds = sum(high - low for low, high in spans)
    gaps = [gap for gap in uncovered(spans, start, end) if gap[1] - gap[0] >= min_seconds]
    for number, (low, high) in enumerate(gaps):
        try:
            pages, orders = scan_span(graph, store, low, None if high >= end else high, on_page=page_read)
        except GraphError as error:
            scanned.error = error
            scanned.missed_seconds = sum(gap[1] - gap[0] for gap in gaps[number:])
            log.warning("find: reading Meta stopped: %s (Graph code %s)", type(error).__name__, error.code)
            break
        store.add_covered_span(low, high)
        scanned.seconds += high - low
        scanned.pages += pages
        scanned.orders += orders
    return scanned


def find_orders(
    store: FindStore,
    graph: GraphClient,
    key: str,
    request: FindRequest,
    *,
    now: float,
    user_id: str,
    team_id: str | None,
    progress: Callable[[int], None] | None = None,
    waiting: Callable[[], None] | None = None,
    max_wait: float = MAX_SCAN_WAIT_SECONDS,
) -> FindResult:
    """Cover the window (reading Meta where needed), match, and write the search's audit row. ``waiting`` hears
    when the search waits more than a few seconds for another's scan (:func:`cover_window`)."""
    start, end = math.floor(now) - request.since_seconds, math.floor(now)
    scanned = cover_window(graph, store, start, end, key=key, progress=progress, waiting=waiting, max_wait=max_wait)
    hashes = query_hashes(key, request.kind, request.text)
    matches = store.buyers_matching(request.kind, hashes, since=start, limit=MAX_MATCHES)
    store.add_audit(
        action=FIND_ACTION,
        order_id=None,
        user_id=user_id,
        team_id=team_id,
        outcome="succeeded" if scanned.error is None and not scanned.busy else "partial",
        detail=f"query={request.kind} since={window_words(request.since_seconds)} results={len(matches)}",
    )
    return FindResult(matches, request.since_seconds, scanned)
