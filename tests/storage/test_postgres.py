"""What only the PostgreSQL backend does: migrations once across replicas, the URL never shown with its password,
run locks held by a session of their own, and a clear error for a server that cannot be reached."""

from __future__ import annotations

import threading

import psycopg
import pytest
from postgres import Cluster

from bot.config import Settings, _database_url
from bot.storage.ports import RunLockBusy
from bot.storage.postgres.migrations import MIGRATIONS, migrate, pending
from bot.storage.postgres.run_lock import SHARED_SESSION_NAME, AdvisoryLock
from bot.storage.postgres.store import PostgresStore, PostgresUnusable, redacted

CONFIGURED = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "test-secret",
    "FB_PAGE_ID": "1122334455",
    "FB_PAGE_ACCESS_TOKEN": "test-page-token",
}


def test_replicas_starting_together_migrate_once(postgres_cluster: Cluster) -> None:
    postgres_cluster.execute('CREATE DATABASE "empty_for_migrations"')
    url = postgres_cluster.url("empty_for_migrations")
    applied: list[list[str]] = []
    start = threading.Barrier(4)

    def replica() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            start.wait()
            applied.append(migrate(conn))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(applied, key=len) == [[], [], [], [m.name for m in MIGRATIONS]]
    with PostgresStore(url) as store:
        assert store.migrations_current()
        assert store.schema_version() == len(MIGRATIONS)
        assert store.health_problem() is None
        assert store.server_version().split(".")[0].isdigit()


def test_a_database_without_a_migration_is_unhealthy(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM orderdesk_migrations")
        assert pending(conn) == [m.name for m in MIGRATIONS]
    with PostgresStore(postgres_url, migrate_now=False) as store:
        problem = store.health_problem()
        assert problem is not None
        assert "lacks migrations 0001_initial" in problem
        assert not store.migrations_current()


def test_the_url_is_shown_without_its_password() -> None:
    assert redacted("postgresql://bot:s3cret@db.internal:5433/orderdesk?sslmode=require") == (
        "postgresql://bot:***@db.internal:5433/orderdesk?sslmode=require"
    )
    assert redacted("postgresql://db/orderdesk") == "postgresql://db/orderdesk"


def test_a_password_given_as_a_query_parameter_is_hidden_too() -> None:
    assert redacted("postgresql://bot@db/x?password=s3cret") == "postgresql://bot@db/x?password=***"
    assert redacted("postgresql://bot:a@h1:5432,h2:5432/x?sslmode=require&sslpassword=k3y&PassWord=b") == (
        "postgresql://bot:***@h1:5432,h2:5432/x?sslmode=require&sslpassword=***&PassWord=***"
    )
    socket_url = "postgresql:///orderdesk?host=/var/run/postgresql&user=bot"
    assert redacted(socket_url) == socket_url


def test_settings_take_the_urls_libpq_takes_a_unix_socket_among_them(
    postgres_url: str, postgres_cluster: Cluster
) -> None:
    for accepted in (
        "postgresql:///orderdesk?host=/var/run/postgresql",
        "postgresql://%2Fvar%2Frun%2Fpostgresql/orderdesk",
        "postgresql://bot:s3cret@h1:5432,h2:5433/orderdesk?sslmode=require",
        "postgres://[::1]:5432/orderdesk",
    ):
        assert _database_url(accepted) == accepted
    for refused in ("postgresql://db/x?no_such_option=1", "postgresql://h1:5432,h2:x/db", "postgresql://db/"):
        with pytest.raises(ValueError):  # noqa: PT011 - the settings turn it into "is malformed"
            _database_url(refused)
    database = postgres_url.rsplit("/", 1)[1]
    socket_url = f"postgresql:///{database}?host={postgres_cluster.sockets}&port={postgres_cluster.port}&user=postgres"
    settings = Settings.from_env({**CONFIGURED, "ORDERDESK_DATABASE_URL": socket_url}, dotenv_path=None)
    assert settings.database_url is not None
    with PostgresStore(settings.database_url) as store:
        store.set_state("through", "the socket")
        assert store.get_state("through") == "the socket"


def test_an_unreachable_server_is_one_clear_error_without_the_password(postgres_cluster: Cluster) -> None:
    with pytest.raises(PostgresUnusable) as error:
        PostgresStore(f"postgresql://bot:s3cret@127.0.0.1:{postgres_cluster.port}/no_such_database")
    line = error.value.for_setting("ORDERDESK_DATABASE_URL")
    assert line.startswith(f"ORDERDESK_DATABASE_URL=postgresql://bot:***@127.0.0.1:{postgres_cluster.port}/")
    assert "s3cret" not in line
    assert "no_such_database" in line


def sessions(url: str, application_name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid", (application_name,)
        ).fetchall()
    return [int(row[0]) for row in rows]


def terminate(url: str, application_name: str) -> None:
    """The server ends the sessions (as when their host vanished and the keepalives gave up)."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        )


def test_a_run_lock_is_lost_with_its_session_and_another_replica_takes_it(postgres_url: str) -> None:
    first, second = PostgresStore(postgres_url, pool_size=2), PostgresStore(postgres_url, pool_size=2)
    try:
        lock = first.run_lock("poller", wait=False)
        assert isinstance(lock, AdvisoryLock)
        with lock:
            assert lock.held()
            assert lock._conn is not None
            # The server probes this replica's host: a vanished host loses the lock in seconds, not hours.
            settings = [
                lock._conn.execute(f"SHOW {name}").fetchone() for name in ("tcp_keepalives_idle", "tcp_user_timeout")
            ]
            assert settings == [("5",), ("11000",)]
            with pytest.raises(RunLockBusy), second.run_lock("poller", wait=False):
                pytest.fail("two holders")
            with pytest.raises(RunLockBusy), first.run_lock("poller", wait=False):
                pytest.fail("two holders in one process")
            terminate(postgres_url, SHARED_SESSION_NAME)
            assert not lock.held()
            with second.run_lock("poller", wait=False):
                pass
            with first.run_lock("poller", wait=False):  # a new session of the first replica's, after the break
                pass
    finally:
        first.close()
        second.close()


def test_tries_share_one_session_per_replica_however_many_jobs_and_turns(postgres_url: str) -> None:
    """A standby tries every job's lock at every turn, and the runner checks it still holds its own: each is a
    statement on the replica's one lock session, never a new connection."""
    runner, standby = PostgresStore(postgres_url, pool_size=2), PostgresStore(postgres_url, pool_size=2)
    jobs = ["poller", "ack-sweeper", "reminders", "daily-summary", "card-bands"]
    try:
        held = [runner.run_lock(f"job_{job}", wait=False) for job in jobs]
        for lock in held:
            lock.__enter__()
        with pytest.raises(RunLockBusy), standby.run_lock("job_poller", wait=False):
            pytest.fail("two runners")
        before = sessions(postgres_url, SHARED_SESSION_NAME)
        assert len(before) == 2  # one per replica
        for _turn in range(20):
            for job in jobs:
                with pytest.raises(RunLockBusy), standby.run_lock(f"job_{job}", wait=False):
                    pytest.fail("two runners")
                with runner.run_lock(job, wait=False):  # the job's own lock inside its turn
                    pass
            assert all(lock.held() for lock in held)
        assert sessions(postgres_url, SHARED_SESSION_NAME) == before
        for lock in held:
            lock.__exit__(None, None, None)
        with standby.run_lock("job_poller", wait=False):
            pass
    finally:
        runner.close()
        standby.close()
    assert sessions(postgres_url, SHARED_SESSION_NAME) == []


def test_strings_are_still_sent_untyped_and_lose_only_their_nul(postgres_url: str) -> None:
    """Dropping NUL changes nothing else about how a string is sent: untyped, so the server reads it as the type
    its place wants (as psycopg's own default does), in parameters and in binary ones alike."""
    with PostgresStore(postgres_url, pool_size=1) as store:
        assert store._select_one("SELECT %s + 1 AS n", ("41",)) == {"n": 42}
        assert store._select_one("SELECT %s AS t, %b AS b", ("a\x00b", "c\x00d")) == {"t": "ab", "b": "cd"}


def test_exclusive_transactions_of_one_name_run_one_at_a_time(postgres_url: str) -> None:
    """A read-then-write under ``exclusive`` loses no update to another replica doing the same at once."""
    first, second = PostgresStore(postgres_url, pool_size=4), PostgresStore(postgres_url, pool_size=4)
    try:
        first.set_state("counter", "0")

        def add(store: PostgresStore) -> None:
            for _ in range(25):
                with store.exclusive("counter"):
                    value = int(store.get_state("counter") or "0")
                    store.set_state("counter", str(value + 1))

        threads = [threading.Thread(target=add, args=(store,)) for store in (first, second, first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert first.get_state("counter") == "100"
    finally:
        first.close()
        second.close()
