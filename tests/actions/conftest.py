"""Fixtures of the actions engine's tests: an empty Graph sandbox in process and a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Store


@pytest.fixture(name="sandbox")
def sandbox_fixture() -> GraphSandbox:
    return GraphSandbox(orders=0)


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "actions.db") as store:
        yield store
