"""``orderdesk doctor``'s PostgreSQL checks against a real server: version, migrations, a write, and the warning
for a transaction-pooling proxy, with the URL never shown with its password."""

from __future__ import annotations

from postgres import Cluster

from bot.cli.checks import Status
from bot.cli.doctor_backends import pooling_check, postgres_checks
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
    assert pooling_check(postgres_url).status is Status.OK  # the server itself does not know pool_mode
