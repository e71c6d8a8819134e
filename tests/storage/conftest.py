"""Fixtures of the storage tests: a store per backend and a settable clock.

The contract suite (test_contract*.py) runs once per entry of ``BACKENDS``: a new backend adds its name there and a
branch in ``open_store`` that opens a fresh, empty database of that kind, and must then pass the whole suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from storage_samples import SEARCH_KEY, Clock

from bot.storage.sqlite.store import Store

BACKENDS = ["sqlite"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(backend: str, tmp_path: Path, clock: Clock) -> Iterator[Callable[[], Store]]:
    """Open a store on this test's database; each call opens another one on the same database, standing for
    another process. All are closed at the end of the test."""
    opened: list[Store] = []

    def open_one() -> Store:
        if backend == "sqlite":
            store = Store(tmp_path / "orderdesk.db", clock=clock, search_key=SEARCH_KEY)
        else:
            raise AssertionError(f"no such storage backend: {backend}")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()
