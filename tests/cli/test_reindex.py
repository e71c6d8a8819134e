"""``orderdesk reindex`` as an operator runs it, against the Graph sandbox over real HTTP: after the search key
changed, the old hashes and the remembered coverage are dropped and the window is read again with the new key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.buyer_search import query_hashes
from bot.sandbox.graph import SANDBOX_TOKEN, GraphSandbox
from bot.storage.sqlite.store import Store

ORDERDESK = Path(sys.executable).with_name("orderdesk")
OLD_KEY, NEW_KEY = "the-old-search-key-0123456789", "the-new-search-key-9876543210"
DAY = 86_400
BUYER = {"name": "Zebulon Quiñones", "email": "zeb@example.org"}


@pytest.fixture
def graph() -> Iterator[tuple[GraphSandbox, str]]:
    sandbox = GraphSandbox(orders=0)
    server = sandbox.serve()
    try:
        yield sandbox, server.url
    finally:
        server.stop()


def reindex(*args: str, cwd: Path, graph_url: str, key: str | None = NEW_KEY) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-cli-test",
        "SLACK_SIGNING_SECRET": "cli-test-secret",
        "FB_PAGE_ID": "1122334455",
        "FB_PAGE_ACCESS_TOKEN": SANDBOX_TOKEN,
        "FB_GRAPH_URL": graph_url,
        "ORDERDESK_DB": str(cwd / "orderdesk.db"),
        **({"ORDERDESK_SEARCH_KEY": key} if key else {}),
    }
    return subprocess.run(
        [str(ORDERDESK), "reindex", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def names(store: Store, key: str, text: str) -> list[str]:
    return store.buyers_matching("name", query_hashes(key, "name", text), since=0)


def indexed_with_the_old_key(tmp_path: Path, sandbox: GraphSandbox) -> tuple[str, str]:
    """Two orders indexed with the old key (one recent, one long ago), and the recent window covered."""
    recent = sandbox.add_order(buyer_details=BUYER)
    old = sandbox.add_order(buyer_details=BUYER, created=int(time.time()) - 40 * DAY)
    with Store(tmp_path / "orderdesk.db", search_key=OLD_KEY) as store:
        store.upsert_orders([recent, old])
        store.add_covered_span(time.time() - 14 * DAY, time.time())
        assert len(names(store, OLD_KEY, "zebulon")) == 2
    return str(recent["id"]), str(old["id"])


def test_reindex_drops_the_old_hashes_and_reads_the_window_with_the_new_key(
    tmp_path: Path, graph: tuple[GraphSandbox, str]
) -> None:
    sandbox, url = graph
    recent, _ = indexed_with_the_old_key(tmp_path, sandbox)
    for _ in range(30):
        sandbox.add_order()
    sandbox.clear_calls()

    done = reindex(cwd=tmp_path, graph_url=url)

    assert done.returncode == 0, done.stderr
    assert "dropped the search hashes of 2 orders" in done.stdout
    assert "indexed the buyers of 31 orders updated in the last 14d (2 pages read from Meta)" in done.stdout
    lists = [call for call in sandbox.calls() if call["path"].endswith("/commerce_orders")]
    assert len(lists) == 2
    with Store(tmp_path / "orderdesk.db", search_key=NEW_KEY) as store:
        assert names(store, OLD_KEY, "zebulon") == []
        assert names(store, NEW_KEY, "zebulon quinones") == [recent]  # the old order: when a search reaches it
        (span,) = store.covered_spans(0, time.time() + 60)
        assert span[1] - span[0] == pytest.approx(14 * DAY, abs=60)


def test_forget_only_leaves_the_window_to_the_next_search(tmp_path: Path, graph: tuple[GraphSandbox, str]) -> None:
    sandbox, url = graph
    indexed_with_the_old_key(tmp_path, sandbox)
    sandbox.clear_calls()
    done = reindex("--forget-only", cwd=tmp_path, graph_url=url)
    assert done.returncode == 0, done.stderr
    assert "the next /order find reads its window from Meta" in done.stdout
    assert sandbox.calls() == []
    with Store(tmp_path / "orderdesk.db", search_key=NEW_KEY) as store:
        assert names(store, OLD_KEY, "zebulon") == []
        assert store.covered_spans(0, time.time() + 60) == []


def test_without_a_key_or_with_meta_down_reindex_says_so(tmp_path: Path, graph: tuple[GraphSandbox, str]) -> None:
    sandbox, url = graph
    done = reindex(cwd=tmp_path, graph_url=url, key=None)
    assert done.returncode == 2
    assert "set ORDERDESK_SEARCH_KEY" in done.stderr
    sandbox.add_order()
    sandbox.set_faults(invalid_token=True)
    done = reindex(cwd=tmp_path, graph_url=url)
    assert done.returncode == 1
    assert "Meta could not be read after 0 pages" in done.stderr
    assert "run reindex again" in done.stderr
    assert SANDBOX_TOKEN not in done.stderr + done.stdout
