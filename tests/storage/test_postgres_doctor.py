"""``orderdesk doctor``'s PostgreSQL checks against a real server: version, migrations, a write, and the warning
for a transaction-pooling proxy, with the URL never shown with its password."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from postgres import Cluster

from bot.cli.checks import Status
from bot.cli.doctor_backends import pooling_check, postgres_checks, session_kept
from bot.storage.postgres.migrations import MIGRATIONS


def verdicts(url: str) -> dict[str, tuple[Status, str]]:
    return {check.name: (check.status, check.detail) for check in postgres_checks(url)}


def test_a_migrated_database_passes_every_check(postgres_url: str) -> None:
    found = verdicts(postgres_url)
    assert list(found) == ["database url", "postgresql", "migrations", "connection pooling"]
    assert all(status is Status.OK for status, _ in found.values()), found
    assert found["postgresql"][1].startswith("server version 1")
    assert found["migrations"][1].startswith(f"current (schema version {len(MIGRATIONS)})")


def test_pending_migrations_fail_and_say_to_run_migrate(postgres_cluster: Cluster) -> None:
    postgres_cluster.execute('CREATE DATABASE "doctor_unmigrated"')
    checks = postgres_checks(postgres_cluster.url("doctor_unmigrated"))
    migrations = next(check for check in checks if check.name == "migrations")
    assert migrations.status is Status.FAILED
    assert "orderdesk migrate" in migrations.fixes[0]


def test_an_unreachable_server_fails_without_showing_the_password(postgres_cluster: Cluster) -> None:
    url = f"postgresql://bot:s3cret@127.0.0.1:{postgres_cluster.port}/no_such_db"
    checks = postgres_checks(url)
    assert [check.status for check in checks] == [Status.OK, Status.FAILED]
    printed = "\n".join(line for check in checks for line in check.lines())
    assert "s3cret" not in printed
    assert f"ORDERDESK_DATABASE_URL=postgresql://bot:***@127.0.0.1:{postgres_cluster.port}/no_such_db" in printed


def test_a_pgbouncer_url_is_a_warning_that_says_why(postgres_url: str) -> None:
    for url in ("postgresql://bot:pw@db:6432/orderdesk", "postgresql://bot:pw@pgbouncer.internal/orderdesk"):
        check = pooling_check(url)
        assert check.status is Status.WARNING
        assert "session" in check.fixes[0]
        assert "pw" not in check.detail
    direct = pooling_check(postgres_url)
    assert (direct.status, direct.detail) == (
        Status.OK,
        "sessions are kept (direct to the server, or a pool in session mode)",
    )


class TransactionPooled:
    """A client connection behind a transaction-mode pooler, played with real server sessions: each statement
    outside a transaction runs on whichever session is idle, here the next one in turn."""

    def __init__(self, sessions: list[psycopg.Connection[Any]]) -> None:
        self._sessions = itertools.cycle(sessions)
        self._in_transaction: psycopg.Connection[Any] | None = None
        self._all = sessions

    def execute(self, sql: str, params: Any = None) -> psycopg.Cursor[Any]:
        session = self._in_transaction or next(self._sessions)
        return session.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._in_transaction = next(self._sessions)
        try:
            with self._in_transaction.transaction():
                yield
        finally:
            self._in_transaction = None

    def __enter__(self) -> TransactionPooled:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for session in self._all:
            session.close()


def test_a_transaction_pooler_is_found_by_its_behaviour(postgres_url: str) -> None:
    def behind_the_pooler() -> Any:
        return TransactionPooled([psycopg.connect(postgres_url, autocommit=True) for _ in range(2)])

    assert not session_kept(behind_the_pooler)
    check = pooling_check(postgres_url, open_connection=behind_the_pooler)
    assert check.status is Status.WARNING
    assert "transaction pooling" in check.detail
    assert "session" in check.fixes[0]
    assert session_kept(lambda: psycopg.connect(postgres_url, autocommit=True))
