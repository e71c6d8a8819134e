"""Fixtures of the storage tests: a store per backend and a settable clock.

The contract suite (test_contract*.py) runs once per entry of ``BACKENDS``: a new backend adds its name there and a
branch in ``open_store`` that opens a fresh, empty database of that kind, and must then pass the whole suite.
PostgreSQL runs on this worker's throwaway cluster (``tests/postgres.py``), a fresh database per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postgres import Cluster, postgres_cluster, postgres_url
from storage_samples import SEARCH_KEY, Clock

from bot.storage.ports import Storage
from bot.storage.postgres.store import PostgresStore
from bot.storage.sqlite.store import Store

__all__ = ["postgres_cluster", "postgres_url"]  # the cluster fixtures, for the tests of this folder

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(
    backend: str, tmp_path: Path, clock: Clock, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Storage]]:
    """Open a store on this test's database; each call opens another one on the same database, standing for
    another process. All are closed at the end of the test."""
    opened: list[Store | PostgresStore] = []
    url: str | None = None
    if backend == "postgres":
        cluster: Cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.new_database()

    def open_one() -> Storage:
        store: Store | PostgresStore
        if backend == "sqlite":
            store = Store(tmp_path / "orderdesk.db", clock=clock, search_key=SEARCH_KEY)
        elif backend == "postgres" and url is not None:
            store = PostgresStore(url, clock=clock, search_key=SEARCH_KEY, pool_size=4)
        else:
            raise AssertionError(f"no such storage backend: {backend}")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Storage]) -> Storage:
    return open_store()
