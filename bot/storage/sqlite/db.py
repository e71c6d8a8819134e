"""Opening the sqlite database, its connections per thread, transactions, and its health.

Threads. Bolt runs listeners in a thread pool and the HTTP server has its own, so the store is shared between
threads. Each thread gets its own connection (``threading.local``): reads run side by side under WAL and never
wait for a writer. Writes go through :meth:`SqliteDatabase.transaction`, which takes an in-process lock before
``BEGIN IMMEDIATE``: threads of this process queue on the lock instead of polling in SQLite's busy handler,
whose sleeps starve unlucky writers (bench_ledger, 8 threads: worst claim 1.6 s without the lock, 0.13 s with
it), and ``busy_timeout`` only has to cover other processes (``orderdesk sync`` beside ``serve``, a restart).
Connections are opened with ``check_same_thread=False`` solely so that :meth:`SqliteDatabase.close` (and the
reaping of connections whose thread has ended) can close them from another thread; each is used by its own
thread only.

Durability: WAL with ``synchronous=NORMAL`` survives a killed process (the crash the ledger is built for); only a
power loss can drop the last commits.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from os import PathLike
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from bot.per_thread import PerThread
from bot.storage.rows import Row
from bot.storage.sqlite.migrations import MIGRATIONS, SCRUBBING

HEALTH_TABLES = ("orders", "ledger")  # what every lookup and acknowledgement reads: /healthz checks them
CACHE_KIB = 256  # sqlite page cache per connection (one connection per thread)


class DatabaseUnusable(Exception):
    """The database at ``path`` cannot be opened or created, with ``problem`` in words for the operator.

    Raised instead of sqlite's own errors when a Store opens: "file is not a database" or "unable to open database
    file" do not say which file, or what to do. ``problem`` never starts with the path, so a caller can name the
    setting the path came from (:meth:`for_setting`).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def for_setting(self, variable: str) -> str:
        """One line naming the variable, the path and what is wrong: ``ORDERDESK_DB=/x/y.db: the folder /x ...``."""
        return f"{variable}={self.path}: {self.problem}"


def in_memory(path: str) -> bool:
    """True for the paths sqlite does not treat as a file name (``:memory:``, a temporary database, a URI)."""
    return path == ":memory:" or path == "" or path.startswith("file:")


def database_path_problem(path: str | PathLike[str]) -> str | None:
    """What would stop sqlite from opening or creating a database file at ``path``, found without touching it
    (None when nothing does; sqlite may still find the file itself damaged).

    A missing folder is refused, never created: ``ORDERDESK_DB`` with a typo in it would otherwise start the bot
    on a new, empty ledger beside the real one, forgetting the acknowledgements in flight and the cards it keeps
    current, and nobody would notice until an order was acknowledged twice. Creating the folder is one ``mkdir``
    for the operator; the refusal names it.
    """
    text = os.fspath(path)
    if in_memory(text):
        return None
    target = Path(text)
    folder = Path(os.path.abspath(target.parent))
    if target.is_dir():
        return "this is a folder, not a database file"
    if not folder.is_dir():
        if folder.exists():
            return f"{folder} is a file, not a folder"
        return f"the folder {folder} does not exist: create it, or correct the path"
    # sqlite writes the -wal and -shm files beside the database, so the folder must be writable even when the
    # file exists.
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} cannot be written by this user"
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        return "the file cannot be read and written by this user"
    return None


def _sqlite_problem(error: sqlite3.Error) -> str:
    """sqlite's complaint at opening, in words (its message kept in brackets for a search)."""
    message = str(error)
    if "file is not a database" in message:
        return "the file is not an sqlite database (it is damaged, or another kind of file)"
    if "malformed" in message:
        return f"the database is damaged ({message})"
    if "readonly" in message:
        return f"the file is read-only ({message})"
    return f"sqlite cannot open it ({message})"


class SqliteDatabase:
    """One sqlite database file and its connections: what the methods of each aggregate build on
    (:class:`bot.storage.sqlite.store.Store` puts them together).

    Opening enables WAL and applies pending migrations; a path sqlite cannot use raises :class:`DatabaseUnusable`
    saying why, never sqlite's bare error. Close it (or use it as a context manager): that closes every connection
    any thread opened through it.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._write_lock = threading.Lock()
        self._connections = PerThread(self._connect, "the store")
        problem = database_path_problem(self.path)
        if problem is not None:
            raise DatabaseUnusable(self.path, problem)
        try:
            db = self._db()
            db.enable_wal()
            with self.transaction():
                scrubbing = SCRUBBING & {migration.name for migration in MIGRATIONS.pending(db)}
                MIGRATIONS.apply(db)
            if scrubbing:
                self._compact()
        except sqlite3.Error as error:
            self.close()
            raise DatabaseUnusable(self.path, _sqlite_problem(error)) from error

    def _compact(self) -> None:
        """Rewrite the file without its free pages and empty the WAL, so no page keeps data a migration removed."""
        db = self._db()
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _db(self) -> Database:
        """The calling thread's connection (one per thread, closed with the store: ``bot.per_thread``)."""
        return self._connections.get()

    def _connect(self) -> Database:
        # isolation_level=None: no implicit BEGIN; transactions are exactly those of transaction().
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Deleted and overwritten rows are zeroed on disk, not left on free pages: rows may have held buyer data.
        conn.execute("PRAGMA secure_delete = ON")
        # Each of the work pool's threads has its own connection, and sqlite's default cache is 2 MiB per
        # connection: 128 of them would let memory creep up to 256 MiB as caches fill. The OS caches the file for
        # all of them; 256 KiB each keeps the hot pages of a lookup or a claim.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return Database(conn, execute_plugins=False)

    def close(self) -> None:
        """Close every connection opened through this store, in whichever thread; later calls raise."""
        self._connections.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside the block commit together, or not at all.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so two transactions never deadlock upgrading a read
        lock. Nested blocks become savepoints: an inner failure that the caller catches undoes only its writes.
        """
        db = self._db()
        if db.conn.in_transaction:
            with db.atomic():
                yield
            return
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                db.rollback()  # a no-op when the error already ended the transaction
                raise

    def _statement(self) -> AbstractContextManager[None]:
        """The transaction for a single write: the caller's if one is open (a statement is atomic by itself, so
        no savepoint is needed), else a new one. Saves a third of the cost of a claim made inside a transaction.
        """
        return nullcontext() if self._db().conn.in_transaction else self.transaction()

    def _write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement in its own transaction (or the caller's); return the rows it changed."""
        with self._statement():
            return int(self._db().execute(sql, params).rowcount)

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._db().execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _select_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._select(sql, params)
        return rows[0] if rows else None

    def _returning(self, sql: str, params: Sequence[Any]) -> Row | None:
        """An ``UPDATE ... RETURNING`` in a transaction: the changed row, or None when the WHERE did not match."""
        with self._statement():
            return self._select_one(sql, params)

    def ping(self) -> bool:
        """True when the database answers a query."""
        try:
            return self._select_one("SELECT 1 AS ok") == {"ok": 1}
        except sqlite3.Error:
            return False

    def health_problem(self) -> str | None:
        """Why the database cannot serve the bot, in words, or None when it can.

        Asked on a fresh connection to the file at :attr:`path`: the store's own connections keep reading a file
        that was deleted under them, and a thread's new connection would create an empty one. The migrations
        table must be there with every migration applied, and the core tables readable.
        """
        if self.path == ":memory:" or self.path.startswith("file:"):
            return None if self.ping() else "the database does not answer"
        try:
            conn = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=rw", uri=True)
        except sqlite3.Error:
            return f"the database file {self.path} is missing or cannot be opened"
        try:
            db = Database(conn, execute_plugins=False)
            if not db[MIGRATIONS.migrations_table].exists():
                return f"the database {self.path} has no orderdesk tables (was it deleted or replaced?)"
            pending = [m.name for m in MIGRATIONS.pending(db)]
            if pending:
                return f"the database {self.path} lacks migrations {', '.join(pending)}"
            for table in HEALTH_TABLES:
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()  # noqa: S608 - fixed table names
        except sqlite3.Error as error:
            return f"the database {self.path} cannot be read: {error}"
        finally:
            conn.close()
        return None

    def journal_mode(self) -> str:
        return str(self._db().journal_mode)

    def schema_version(self) -> int:
        """How many of orderdesk's migrations this database has applied."""
        return len(MIGRATIONS.applied(self._db()))

    def migrations_current(self) -> bool:
        return not MIGRATIONS.pending(self._db())
