"""``orderdesk migrate`` on PostgreSQL, run as a real process: migrations alone, and ``--from-sqlite`` copying a
populated sqlite database whose state then reads the same through every port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from postgres import Cluster
from storage_samples import SEARCH_KEY, Clock, full_order
from test_contract_approvals import approval_row

from bot.storage.ports import Storage
from bot.storage.postgres.migrations import COPIED_TABLES, MIGRATIONS
from bot.storage.postgres.store import PostgresStore
from bot.storage.sqlite.store import Store

ORDERDESK = Path(sys.executable).with_name("orderdesk")
SETTINGS = {
    "SLACK_BOT_TOKEN": "xoxb-cli-test",
    "SLACK_SIGNING_SECRET": "cli-test-secret",
    "FB_PAGE_ID": "1122334455",
    "FB_PAGE_ACCESS_TOKEN": "cli-test-page-token",
}


def orderdesk(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERDESK), *args],
        env={"PATH": os.environ.get("PATH", ""), **SETTINGS, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def populate(store: Storage, clock: Clock) -> None:
    """Something in every table, the way the bot writes it."""
    store.upsert_order(full_order("7001", merchant_order_id="SO-1"))
    store.upsert_order({"id": "7002", "merchant_order_id": "SO-2"})
    store.set_order_state("7002", "IN_PROGRESS")
    row = {
        "key": "k1", "operation": "acknowledge_order", "order_id": "7001", "params": "{}", "fingerprint": "f",
        "state": "pending", "retryable": 0, "user_id": "U1", "team_id": "T1", "channel_id": "C1",
        "message_ts": "1.1", "reference": "SO-1", "created_at": clock.now, "updated_at": clock.now,
        "lease_expires_at": clock.now + 60, "attempts": 1, "response": None, "error": None,
    }  # fmt: skip
    assert store.ledger_insert(row)
    assert store.ledger_insert({**row, "key": "k2", "order_id": "7002", "state": "succeeded", "response": "{}"})
    assert store.lock_order("7001", "k1", "SO-1")
    store.add_waiter("k1", order_id="7001", user_id="U2", channel="C1", response_url=None)
    assert store.claim_notification("7001", "C1")
    store.complete_notification("7001", "C1", "1.5")
    store.set_notified_state("7001", "C1", "CREATED")
    assert store.claim_notification("7003", "C1")  # claimed, never posted: recovery must find it
    assert store.claim_digest("d1", "C2", ["7004", "7005"]) == ["7004", "7005"]
    store.remember_card("7001", channel="C1", ts="1.5", response_url=None, kind="notification")
    store.remember_card("7001", channel=None, ts=None, response_url="https://hooks/x", kind="lookup")
    store.add_audit(action="acknowledge_order", order_id="7001", user_id="U1", key="k1", outcome="pending")
    store.add_audit(action="show_contact", order_id="7001", user_id="U2", outcome="shown")
    store.record_scan("SO-9", found=False)
    store.set_state("notifier.watermark", "1700000000.0")
    assert store.claim_unfurl_read("7001", within_seconds=60)
    store.add_covered_span(1_699_000_000.0, 1_700_000_000.0)
    store.set_shown_band("7001", "C1", "soon")
    assert store.claim_reminder("7001", "remind", channel="C1", thread_ts="1.5")
    store.snooze("7001", until=clock.now + 900, user_id="U2")
    assert store.claim_summary("2026-12-01", "C1")
    store.home_opened("U2")
    store.set_home_preferences("U2", dm_escalations=True, daily_summary=False)
    assert store.approval_create(approval_row(key="k9"))


def reads(store: Storage) -> dict[str, object]:
    """What the contract's reads return, for comparing two backends."""
    return {
        "orders": [store.get_order(i) for i in ("7001", "7002")],
        "in_progress": store.orders_in_state("IN_PROGRESS"),
        "by_reference": store.find_by_reference("so-1"),
        "ledger": [store.ledger_get("k1"), store.ledger_get("k2")],
        "ledger_for_order": store.ledger_for_order("7001", "acknowledge_order"),
        "holding": store.ledger_holding("7001"),
        "reference_holder": store.reference_holder("so-1"),
        "notifications": store.notifications_for_order("7001"),
        "unfinished": store.unfinished_notifications(),
        "digests": store.unfinished_digests(),
        "cards": [(c.id, c.kind, c.channel, c.ts, c.response_url) for c in store.cards_for_order("7001")],
        "audit": store.audit_for_order("7001"),
        "scanned": store.scanned_recently("SO-9", 60),
        "watermark": store.get_state("notifier.watermark"),
        "buyers": store.buyers_matching("email", ["nope"], since=0),
        "unfurl_again": store.claim_unfurl_read("7001", within_seconds=60),
        "covered": store.covered_spans(0, 2_000_000_000),
        "band": store.shown_band("7001", "C1"),
        "reminders": store.reminders_for("7001"),
        "snoozed": store.snoozed("7001"),
        "summary": store.get_summary("2026-12-01"),
        "home_user": store.home_user("U2"),
        "actions_by_user": store.actions_by_user("U2"),
        "approvals": store.approvals_for_order("7001"),
    }


def test_migrate_alone_applies_the_migrations(postgres_cluster: Cluster, tmp_path: Path) -> None:
    postgres_cluster.execute('CREATE DATABASE "migrate_alone"')
    url = postgres_cluster.url("migrate_alone")
    done = orderdesk("migrate", cwd=tmp_path, ORDERDESK_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"PostgreSQL at {url}: migrations current (schema version {len(MIGRATIONS)})\n"


def test_a_password_in_the_query_is_never_printed(postgres_cluster: Cluster, tmp_path: Path) -> None:
    postgres_cluster.execute('CREATE DATABASE "migrate_query_password"')
    url = postgres_cluster.url("migrate_query_password")  # the test cluster trusts every local user
    done = orderdesk("migrate", cwd=tmp_path, ORDERDESK_DATABASE_URL=f"{url}?password=s3cret-in-query")
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert done.stdout.startswith(f"PostgreSQL at {url}?password=***: migrations current")


def test_from_sqlite_copies_every_table_and_reads_agree(postgres_url: str, tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "orderdesk.db"
    with Store(path, clock=clock, search_key=SEARCH_KEY) as sqlite_store:
        populate(sqlite_store, clock)
        expected = reads(sqlite_store)
        email_hits = sqlite_store.buyers_matching("email", _email_hashes(), since=0)

    done = orderdesk("migrate", "--from-sqlite", str(path), cwd=tmp_path, ORDERDESK_DATABASE_URL=postgres_url)
    assert done.returncode == 0, done.stderr
    assert "orders 2, ledger 2, ack_order_locks 1, ack_waiters 1, notifications 4" in done.stdout
    with psycopg.connect(postgres_url) as conn:
        for table, _ in COPIED_TABLES:  # every table had rows to copy
            count = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()  # noqa: S608 - fixed names
            assert count != (0,), table

    with PostgresStore(postgres_url, clock=clock, search_key=SEARCH_KEY) as copied:
        assert reads(copied) == expected
        assert copied.buyers_matching("email", _email_hashes(), since=0) == email_hits == ["7001"]
        assert copied.take_waiters("k1") == [
            {"order_id": "7001", "user_id": "U2", "channel": "C1", "response_url": None}
        ]
        copied.remember_card("7002", channel="C1", ts="2.2", response_url=None, kind="lookup")
        assert copied.cards_for_order("7002")[0].id == 3  # the ids go on after the copied ones
        assert not copied.claim_notification("7003", "C1")  # announced (claimed) once, before and after the move

    again = orderdesk("migrate", "--from-sqlite", str(path), cwd=tmp_path, ORDERDESK_DATABASE_URL=postgres_url)
    assert again.returncode == 1
    assert "already has orderdesk rows" in again.stderr


def test_migrate_then_doctor_then_from_sqlite_copies(postgres_cluster: Cluster, tmp_path: Path) -> None:
    """The README's move to replicas with a doctor run between: the doctor's write check leaves nothing behind.
    The sqlite state holds an order whose product name has a NUL (which PostgreSQL refuses): it comes across."""
    postgres_cluster.execute('CREATE DATABASE "moving"')
    url = postgres_cluster.url("moving")
    path = tmp_path / "old.db"
    with Store(path) as old:
        old.set_state("notifier.watermark", "1700000000.0")
        old.set_state("doctor.checked_at", "1700000000")  # what the sqlite doctor writes
        old.upsert_order(full_order("7001", items={"data": [{"id": "1", "product_name": "Mug\x00 blue"}]}))
    assert orderdesk("migrate", cwd=tmp_path, ORDERDESK_DATABASE_URL=url).returncode == 0
    offline = {"FB_GRAPH_URL": "http://127.0.0.1:9", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    doctor = orderdesk("doctor", cwd=tmp_path, ORDERDESK_DATABASE_URL=url, **offline)
    assert f"{url} (PostgreSQL" in doctor.stdout + doctor.stderr
    assert "writable" in doctor.stdout + doctor.stderr
    done = orderdesk("migrate", "--from-sqlite", str(path), cwd=tmp_path, ORDERDESK_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    with PostgresStore(url) as copied:
        assert copied.get_state("notifier.watermark") == "1700000000.0"
        order = copied.get_order("7001")
        assert order is not None
        assert order.data["items"]["data"][0]["product_name"] == "Mug blue"


def test_two_copies_at_once_one_copies_the_other_refuses_in_words(postgres_cluster: Cluster, tmp_path: Path) -> None:
    postgres_cluster.execute('CREATE DATABASE "copy_race"')
    url = postgres_cluster.url("copy_race")
    path = tmp_path / "old.db"
    with Store(path) as old:
        for n in range(2000):
            old.add_audit(action="acknowledge_order", order_id=str(n), user_id="U1", outcome="succeeded")
    command = [str(ORDERDESK), "migrate", "--from-sqlite", str(path)]
    env = {"PATH": os.environ.get("PATH", ""), **SETTINGS, "ORDERDESK_DATABASE_URL": url}
    runs = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted((run.wait(60), *run.communicate()) for run in runs)
    assert [code for code, _, _ in outcomes] == [0, 1], outcomes
    assert "audit 2000" in outcomes[0][1]
    assert outcomes[1][2] == (
        "orderdesk migrate: the PostgreSQL database already has orderdesk rows (in audit): copy into a new, "
        "empty database\n"
    )


def test_a_copy_the_server_refuses_is_one_line_in_words(postgres_url: str, tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as old:
        old.add_audit(action="acknowledge_order", order_id="7001", user_id="U1", outcome="succeeded")
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # a rule of this server the copy breaks
        conn.execute("ALTER TABLE audit ADD CONSTRAINT no_acks_here CHECK (action <> 'acknowledge_order')")
    done = orderdesk("migrate", "--from-sqlite", str(path), cwd=tmp_path, ORDERDESK_DATABASE_URL=postgres_url)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"orderdesk migrate: ORDERDESK_DATABASE_URL={postgres_url}: ")
    assert "no_acks_here" in done.stderr
    with PostgresStore(postgres_url) as target:
        assert target.audit_for_order("7001") == []  # nothing half copied


def test_from_sqlite_names_the_option_when_the_file_is_not_sqlite(postgres_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, not a database\n" * 100)
    done = orderdesk("migrate", "--from-sqlite", str(notes), cwd=tmp_path, ORDERDESK_DATABASE_URL=postgres_url)
    assert done.returncode == 2
    assert done.stderr.startswith(f"orderdesk migrate: --from-sqlite {notes}: ")
    assert "ORDERDESK_DB" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_from_sqlite_needs_the_url_and_an_existing_file(tmp_path: Path) -> None:
    done = orderdesk("migrate", "--from-sqlite", str(tmp_path / "x.db"), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "orderdesk migrate: --from-sqlite copies into PostgreSQL: set ORDERDESK_DATABASE_URL\n",
    )
    done = orderdesk(
        "migrate", "--from-sqlite", str(tmp_path / "x.db"), cwd=tmp_path, ORDERDESK_DATABASE_URL="postgresql://h/db"
    )
    assert done.returncode == 2
    assert "is not a file" in done.stderr
    assert not (tmp_path / "x.db").exists()


def _email_hashes() -> list[str]:
    from storage_samples import EMAIL

    from bot.domain.buyer_search import keyed_hash

    return [keyed_hash(SEARCH_KEY, "email", EMAIL)]


def test_status_reads_the_shared_database_and_says_who_runs_each_job(postgres_url: str, tmp_path: Path) -> None:
    with PostgresStore(postgres_url) as store:
        store.set_state("jobs", '["ack-sweeper", "poller"]')
        store.set_state("jobs.poller", '{"runner": "host-b pid 42", "since": "2026-03-01T10:00:00+00:00"}')
        store.set_state("notifier.watermark", "1772359200.0")
    done = orderdesk("status", cwd=tmp_path, ORDERDESK_DATABASE_URL=postgres_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "poller runs on:                   host-b pid 42 (since 2026-03-01T10:00:00+00:00)" in lines
    assert "ack-sweeper runs on:              no runner yet" in lines
    assert any(line.startswith("watermark:") and "2026-03-01" in line for line in lines)


def test_migrate_without_a_url_migrates_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "orderdesk.db"
    done = orderdesk("migrate", cwd=tmp_path, ORDERDESK_DB=str(path))
    assert done.returncode == 0, done.stderr
    with Store(path) as store:
        version = store.schema_version()
    assert done.stdout == f"sqlite file {path}: migrations current (schema version {version})\n"
