"""The throwaway PostgreSQL cluster of the tests (``tests/postgres.py``), for the PostgreSQL benchmarks.

``ORDERDESK_BENCH_DATABASE_URL`` (a database the benchmarks may fill) is used instead when set.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

TESTS = Path(__file__).resolve().parents[1] / "tests"


@contextmanager
def cluster() -> Iterator[Any]:
    """A started cluster (``.url(name)``, ``.execute(sql)``), stopped and removed at the end."""
    sys.path.insert(0, str(TESTS))
    from postgres import Cluster, bindir, cluster_folder  # tests/ is not a package: on the path just above

    folder = cluster_folder("orderdesk-bench-pg-")
    started = Cluster(bindir(), folder)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def database(name: str) -> Iterator[str]:
    """The URL of a new, empty database ``name`` (on ``ORDERDESK_BENCH_DATABASE_URL``'s server, or a throwaway
    cluster)."""
    given = os.environ.get("ORDERDESK_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with cluster() as started:
        with psycopg.connect(started.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        yield started.url(name)
