"""``/healthz`` over real HTTP: not ready (503, with words) until Meta was asked once, and not ok when the
database was deleted or damaged under the running bot."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401 (registers the `stack` fixture)
from test_e2e_frame import _health_once_graph_probed

pytestmark = pytest.mark.e2e


def test_healthz_is_503_with_words_until_the_first_graph_probe_answers(stack: Stack) -> None:
    """The first /healthz starts the first probe and answers before it can finish (the probe reports back under
    the lock that answer holds)."""
    response = httpx.get(f"{stack.server.url}/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["graph"] == "unknown"
    assert body["problems"] == ["checking whether Meta's Graph API answers: no answer yet"]
    ready = _health_once_graph_probed(stack)
    assert ready["ok"] is True
    assert "problems" not in ready


def drop_tables(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE ledger")


def delete_files(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("damage", "says"),
    [(delete_files, "is missing or cannot be opened"), (drop_tables, "cannot be read: no such table: ledger")],
    ids=["database files deleted", "ledger table dropped"],
)
def test_healthz_turns_503_with_words_when_the_database_is_damaged_under_the_running_bot(
    stack: Stack, damage: Any, says: str
) -> None:
    assert _health_once_graph_probed(stack)["ok"] is True
    damage(Path(stack.settings.db_path))
    with httpx.Client(base_url=stack.server.url) as client:
        for _ in range(stack.settings.http_workers):  # whichever server thread (and sqlite connection) answers
            response = client.get("/healthz")
            assert response.status_code == 503
            body = response.json()
            assert body["ok"] is False
            assert body["database"] is False
            [problem] = body["problems"]
            assert says in problem
            assert stack.settings.db_path in problem
