"""The buyer search's scan of Meta: which parts of a window it reads, what it remembers, how it stops on a failure,
and that two searches at once read the window once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.lookup.find import (
    MIN_SCAN_SECONDS,
    SCAN_LOCK,
    SCAN_WAIT_NOTICE_SECONDS,
    FindRequest,
    cover_window,
    drop_buyer_index,
    find_orders,
    uncovered,
)
from bot.sandbox.graph import SANDBOX_TOKEN, GraphSandbox
from bot.storage.sqlite.store import Store

KEY = "a-test-search-key-of-some-length"
OLD_KEY = "an-older-search-key-of-some-length"
DAY = 86_400
BUYER = {"name": "Ana Núñez", "email": "ana.nunez@example.org"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        fb_page_id="1122334455",
        fb_page_access_token=SANDBOX_TOKEN,
        fb_graph_url="http://graph.test",
        db_path=str(tmp_path / "orderdesk.db"),
        graph_max_retries=0,
        search_key=KEY,
    )


@pytest.fixture
def sandbox() -> GraphSandbox:
    return GraphSandbox(orders=0)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.db_path, search_key=KEY) as opened:
        yield opened


@pytest.fixture
def graph(settings: Settings, sandbox: GraphSandbox) -> Iterator[GraphClient]:
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as client:
        yield client


def lists(sandbox: GraphSandbox) -> list[dict[str, object]]:
    return [call for call in sandbox.calls() if str(call["path"]).endswith("/commerce_orders")]


def test_the_uncovered_parts_of_a_window_newest_first() -> None:
    assert uncovered([], 0, 100) == [(0, 100)]
    assert uncovered([(0, 100)], 0, 100) == []
    assert uncovered([(20, 30), (60, 70)], 0, 100) == [(70, 100), (30, 60), (0, 20)]
    assert uncovered([(-50, 10), (90, 200)], 0, 100) == [(10, 90)]
    assert uncovered([(20, 60), (40, 80)], 0, 100) == [(80, 100), (0, 20)]


def test_a_search_reads_the_uncovered_window_once_and_matches_from_the_index(
    store: Store, graph: GraphClient, sandbox: GraphSandbox
) -> None:
    order_id = str(sandbox.add_order(buyer_details=BUYER)["id"])
    request = FindRequest("name", "nunez ana", 14 * DAY)
    first = find_orders(store, graph, KEY, request, now=time.time(), user_id="U1", team_id="T1")
    assert first.matches == [order_id]
    assert (first.scanned.pages, first.scanned.orders, first.scanned.indexed_seconds) == (1, 1, 0)
    assert store.covered_spans(0, time.time() + 10)
    sandbox.clear_calls()
    second = find_orders(store, graph, KEY, request, now=time.time() + 30, user_id="U1", team_id="T1")
    assert second.matches == [order_id]
    assert lists(sandbox) == []
    assert second.scanned.pages == 0
    assert 0 < second.recent_seconds < MIN_SCAN_SECONDS  # the half minute since the last scan: index alone
    later = find_orders(store, graph, KEY, request, now=time.time() + 120, user_id="U1", team_id="T1")
    assert later.scanned.pages == 1  # once more than a minute old, the newest part is read
    assert len(lists(sandbox)) == 1


def test_a_failed_read_covers_nothing_it_did_not_finish(
    store: Store, graph: GraphClient, sandbox: GraphSandbox
) -> None:
    sandbox.add_order(buyer_details=BUYER)
    sandbox.set_faults(status=503, count=1, match={"method": "GET", "path": "commerce_orders"})
    now = time.time()
    scanned = cover_window(graph, store, now - DAY, now, key=KEY)
    assert scanned.error is not None
    assert scanned.missed_seconds == pytest.approx(DAY)
    assert store.covered_spans(now - DAY, now) == []
    again = cover_window(graph, store, now - DAY, now, key=KEY)
    assert again.error is None
    assert again.pages == 1


def test_two_searches_at_once_read_the_window_once(settings: Settings, store: Store, sandbox: GraphSandbox) -> None:
    for _ in range(30):
        sandbox.add_order()
    sandbox.set_faults(latency_ms=100, match={"method": "GET", "path": "commerce_orders"})
    now = time.time()
    results = []

    def search() -> None:
        with GraphClient.from_settings(settings, transport=sandbox.transport()) as client:
            results.append(cover_window(client, store, now - DAY, now, key=KEY))

    threads = [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.pages for result in results) == [0, 2]
    assert len(lists(sandbox)) == 2


def test_an_index_built_with_another_key_is_dropped_and_read_again(
    settings: Settings, graph: GraphClient, sandbox: GraphSandbox
) -> None:
    order_id = str(sandbox.add_order(buyer_details=BUYER)["id"])
    request = FindRequest("email", BUYER["email"], 14 * DAY)
    with Store(settings.db_path, search_key=OLD_KEY) as old:
        assert find_orders(old, graph, OLD_KEY, request, now=time.time(), user_id="U1", team_id=None).matches == [
            order_id
        ]
    sandbox.clear_calls()
    with Store(settings.db_path, search_key=KEY) as new:
        found = find_orders(new, graph, KEY, request, now=time.time(), user_id="U1", team_id=None)
        assert found.scanned.rekeyed
        assert found.matches == [order_id]
        assert found.scanned.pages == 1  # the window old searches covered is read again, with the new key
        again = find_orders(new, graph, KEY, request, now=time.time(), user_id="U1", team_id=None)
        assert not again.scanned.rekeyed
        assert again.scanned.pages == 0


def test_an_index_dropped_during_a_scan_loses_no_buyer(settings: Settings, sandbox: GraphSandbox) -> None:
    """``orderdesk reindex`` beside a search: the drop waits for the scan in progress, so no span is recorded as
    covered while the hashes of its first pages are gone."""
    for _ in range(60):
        sandbox.add_order()
    sandbox.set_faults(latency_ms=300, match={"method": "GET", "path": "commerce_orders"})
    first_page = threading.Event()
    now = time.time()

    def search() -> None:
        with (
            GraphClient.from_settings(settings, transport=sandbox.transport()) as client,
            Store(settings.db_path, search_key=KEY) as serve,
        ):
            cover_window(client, serve, now - 14 * DAY, now, key=KEY, progress=lambda pages: first_page.set())

    thread = threading.Thread(target=search)
    thread.start()
    assert first_page.wait(10)
    with Store(settings.db_path, search_key=KEY) as cli:
        drop_buyer_index(cli, KEY)
    thread.join()
    sandbox.set_faults()
    with (
        Store(settings.db_path, search_key=KEY) as store,
        GraphClient.from_settings(settings, transport=sandbox.transport()) as graph,
    ):
        for order_id in sandbox.order_ids():  # every buyer, those of the first page included
            request = FindRequest("email", sandbox.order(order_id)["buyer_details"]["email"], 14 * DAY)
            found = find_orders(store, graph, KEY, request, now=time.time(), user_id="U1", team_id=None)
            assert order_id in found.matches


def test_a_search_waits_a_bounded_time_for_another_scan_then_answers_from_the_index(
    settings: Settings, store: Store, graph: GraphClient, sandbox: GraphSandbox
) -> None:
    sandbox.add_order(buyer_details=BUYER)
    told: list[str] = []
    with Store(settings.db_path, search_key=KEY) as other, other.run_lock(SCAN_LOCK):
        request = FindRequest("email", BUYER["email"], 14 * DAY)
        result = find_orders(
            store,
            graph,
            KEY,
            request,
            now=time.time(),
            user_id="U1",
            team_id=None,
            waiting=lambda: told.append("waiting"),
            max_wait=SCAN_WAIT_NOTICE_SECONDS + 0.5,
        )
    assert told == ["waiting"]
    assert result.scanned.busy
    assert result.scanned.pages == 0
    assert result.scanned.missed_seconds == pytest.approx(14 * DAY, abs=2)
    assert lists(sandbox) == []
    assert store.covered_spans(0, time.time() + 10) == []
