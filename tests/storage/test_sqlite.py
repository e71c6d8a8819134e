"""What only the sqlite backend does: WAL, connections per thread, the page cache, migrations, the lock file, and
the file on disk holding no buyer PII."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations
from storage_samples import EMAIL, NAME, PHONE, POSTCODE, STREET, Clock, full_order

from bot.storage.ports import RunLockBusy
from bot.storage.sqlite.db import CACHE_KIB
from bot.storage.sqlite.store import MIGRATIONS, Store


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "orderdesk.db", clock=clock) as s:
        yield s


def test_opening_enables_wal_and_applies_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    versions = []
    for _ in range(2):
        with Store(path) as s:
            assert s.ping()
            assert s.journal_mode() == "wal"
            assert s.migrations_current()
            versions.append(s.schema_version())
    assert versions[0] >= 1
    assert versions[0] == versions[1]  # reopening applies nothing twice


def test_every_connection_keeps_a_small_page_cache(store: Store) -> None:
    sizes: list[int] = []

    def read() -> None:
        sizes.append(store._db().execute("PRAGMA cache_size").fetchone()[0])

    read()
    run_in_threads(1, read)
    assert sizes == [-CACHE_KIB, -CACHE_KIB]


def test_order_index_keeps_no_buyer_name_email_phone_or_street(store: Store, tmp_path: Path) -> None:
    store.upsert_order(full_order("7001"))
    store.upsert_orders([full_order("7002"), full_order("7003")])

    cached = store.get_order("7001")
    assert cached is not None
    assert cached.data["buyer_details"] == {"email_remarketing_option": False}
    assert cached.data["shipping_address"] == {"city": "Cupertino", "state": "CA", "country": "US"}
    store.close()
    with sqlite3.connect(tmp_path / "orderdesk.db") as raw:
        dump = "\n".join(raw.iterdump())
    raw.close()
    assert "Cupertino" in dump
    for secret in (NAME, EMAIL, PHONE, STREET, POSTCODE):
        assert secret not in dump
    assert NAME.encode() not in file_bytes(tmp_path / "orderdesk.db")


def file_bytes(path: Path) -> bytes:
    """Everything on disk for a database: the file and its WAL, free pages included."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def database_before(migration: str, path: Path) -> Database:
    """A database as the versions before ``migration`` left it: every earlier migration applied, no later one."""
    older = Migrations("orderdesk")
    for known in MIGRATIONS._migrations:
        if known.name == migration:
            break
        older(name=known.name)(known.fn)
    db = Database(path)
    older.apply(db)
    return db


def test_the_upgrade_scrubs_the_names_earlier_versions_cached_from_every_page(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = database_before("0005_no_buyer_names_in_the_cache", path)
    earlier = {"buyer_details": {"name": NAME}, "shipping_address": {"name": NAME, "city": "Cupertino"}}
    db["orders"].insert_all(
        {"id": str(7000 + n), "data": json.dumps({"id": str(7000 + n), **earlier}), "seen_at": 1} for n in range(300)
    )
    db.close()
    assert NAME.encode() in file_bytes(path)

    with Store(path) as store:
        cached = store.get_order("7001")
        assert cached is not None
        assert cached.data["shipping_address"] == {"city": "Cupertino"}
    assert NAME.encode() not in file_bytes(path)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[sqlite3.Connection]:
    """Every sqlite connection the store opens."""
    connections: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        connections.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return connections


def run_in_threads(count: int, target: Any) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_close_closes_the_connection_of_every_thread(tmp_path: Path, opened: list[sqlite3.Connection]) -> None:
    store = Store(tmp_path / "db.sqlite")
    done = threading.Event()
    held = threading.Thread(target=lambda: (store.get_state("x"), done.wait(5)))
    held.start()
    run_in_threads(3, lambda: store.set_state("x", "1"))
    store.close()
    done.set()
    held.join()

    assert len(opened) == 5  # the opening thread, one still alive, three ended
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    with pytest.raises(RuntimeError, match="closed"):
        store.get_state("x")


def test_connections_of_ended_threads_are_closed(tmp_path: Path, opened: list[sqlite3.Connection]) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        run_in_threads(3, lambda: store.get_state("x"))
        store.set_state("x", "from the main thread")  # reuses this thread's connection: nothing reaped yet
        assert len(opened) == 4
        run_in_threads(1, lambda: store.get_state("x"))  # a new connection reaps the three ended threads'
        for conn in opened[1:4]:
            with pytest.raises(sqlite3.ProgrammingError, match="closed"):
                conn.execute("SELECT 1")
        assert store.get_state("x") == "from the main thread"


def test_a_run_lock_is_a_file_beside_the_database(store: Store, tmp_path: Path) -> None:
    with store.run_lock("poller", wait=False):
        assert (tmp_path / "orderdesk.db.poller.lock").exists()
        with pytest.raises(RunLockBusy) as busy:
            store.run_lock("poller", wait=False).__enter__()
        assert busy.value.scope == store.path


@pytest.mark.parametrize("name", ["", "../poller", "a b", "x/y"])
def test_a_run_lock_name_is_a_plain_word(store: Store, name: str) -> None:
    with pytest.raises(ValueError, match="plain word"):
        store.run_lock(name)


def test_the_upgrade_frees_orders_that_older_versions_locked_for_good(tmp_path: Path, clock: Clock) -> None:
    """Locks an older version left behind (a refused claim, a forged key's conflict) go; live ones stay."""
    path = tmp_path / "old.db"
    db = database_before("0004_claims_hold_the_locks", path)
    row = {"operation": "acknowledge_order", "params": "{}", "fingerprint": "f", "user_id": "U1"}
    times = {"created_at": 1, "updated_at": 1, "lease_expires_at": 2}
    db["ledger"].insert_all(
        [
            {**row, **times, "key": "refused", "order_id": "7001", "state": "failed", "retryable": 0},
            {**row, **times, "key": "retrying", "order_id": "7002", "state": "failed", "retryable": 1},
            {**row, **times, "key": "done", "order_id": "7003", "state": "succeeded", "retryable": 0},
        ]
    )
    db["ack_order_locks"].insert_all(
        [
            {"order_id": "7001", "key": "refused", "locked_at": 1},
            {"order_id": "7002", "key": "retrying", "locked_at": 1},
            {"order_id": "7003", "key": "done", "locked_at": 1},
            {"order_id": "7004", "key": "done", "locked_at": 1},  # a forged click's lock on another order
        ]
    )
    db.close()
    with Store(path, clock=clock) as store:
        holders = [store.lock_holder(order_id) for order_id in ("7001", "7002", "7003", "7004")]
        assert holders == [None, "retrying", "done", None]
        assert [row["key"] for row in store.ledger_due(now=clock())] == ["retrying"]  # what the sweeper re-drives
