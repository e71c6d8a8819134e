"""One runner per background job across processes sharing a database: the job leases of ``bot.runtime.workers``,
on both backends. Two stores on one database stand for two replicas."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from postgres import Cluster, postgres_cluster

from bot.runtime.workers import JobLease, stored_jobs
from bot.storage.postgres.store import PostgresStore
from bot.storage.sqlite.store import Store

__all__ = ["postgres_cluster"]

Opener = Callable[[], Store | PostgresStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_replica(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[Store | PostgresStore] = []
    url = request.getfixturevalue("postgres_cluster").new_database() if request.param == "postgres" else None

    def open_one() -> Store | PostgresStore:
        store = PostgresStore(url, pool_size=2) if url else Store(tmp_path / "orderdesk.db")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def test_the_first_replica_keeps_the_job_and_the_other_takes_it_once_let_go(open_replica: Opener) -> None:
    first, second = open_replica(), open_replica()
    a, b = JobLease(first, "ack-sweeper"), JobLease(second, "ack-sweeper")
    assert a.take()
    assert not b.take()
    assert a.take()  # turn after turn, the same runner
    assert (a.runs_here, b.runs_here) == (True, False)
    poller = JobLease(second, "poller")
    assert poller.take()  # another job is another lock
    a.release()
    assert b.take()
    assert not a.take()
    second.set_state("jobs", json.dumps(["ack-sweeper", "poller"]))  # as Running.add_worker records them
    taken = stored_jobs(second)
    assert set(taken) == {"ack-sweeper", "poller"}
    assert taken["ack-sweeper"]["runner"].endswith(f"pid {os.getpid()}")
    b.release()
    poller.release()


def test_a_replica_whose_database_session_ended_gives_the_job_up(postgres_cluster: Cluster) -> None:
    """As when a host vanishes: the server ends its session (the keepalives), the lock goes with it, and the
    other replica takes the job at its next turn; the first one, back, finds it taken."""
    url = postgres_cluster.new_database()
    with PostgresStore(url, pool_size=2) as first, PostgresStore(url, pool_size=2) as second:
        a, b = JobLease(first, "poller"), JobLease(second, "poller")
        assert a.take()
        assert not b.take()
        session = first._lock_session._conn  # the first replica's run-lock session
        assert session is not None
        pid = session.info.backend_pid
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # The signal is asynchronous: the lock goes when the backend has exited, as a replica sees at its next turn.
            for _ in range(200):
                if admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is None:
                    break
                time.sleep(0.05)
        assert b.take()
        assert not a.take()
        assert not a.runs_here
        b.release()
