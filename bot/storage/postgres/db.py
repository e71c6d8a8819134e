"""Connecting to PostgreSQL: the connection pool, transactions per thread, migrations at start, and health.

Threads. Listeners, the work pool and the workers share one store. Each statement outside a transaction borrows a
connection from the pool (``psycopg_pool``) for that statement alone, in autocommit: a claim is one
``INSERT … ON CONFLICT DO NOTHING`` that either wins or changes nothing, decided by the server, so any number of
threads of any number of replicas may race on it. :meth:`PostgresDatabase.transaction` pins one pooled connection
to the calling thread for the block, and every statement the thread runs inside it (through any port of the
store) goes through that connection; nested blocks are savepoints.

Connections carry TCP keepalives, so a connection to a server that vanished without closing it fails within
seconds rather than when the kernel gives up after hours.

NUL characters. PostgreSQL refuses U+0000 in ``text`` and ``jsonb`` (sqlite keeps it), and one order from Meta
whose product name held one would fail every poll for good. Every connection adapts values through
:data:`ADAPTERS`, which drops NUL from every string and every JSON document written, in parameters and ``COPY``
alike, so no port has to think of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown
from psycopg_pool import ConnectionPool

from bot.storage.postgres.migrations import MIGRATIONS, migrate, pending
from bot.storage.rows import Row
from bot.storage.sqlite.db import DatabaseUnusable

POOL_SIZE = 20  # connections per replica: each is held for one statement or one transaction, never for a request
CONNECT_TIMEOUT_SECONDS = 10
# A dead peer is noticed after idle + interval * count seconds: 5 + 2 * 3 = 11 s.
KEEPALIVES: Mapping[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 11_000,
}
HEALTH_TABLES = ("orders", "ledger")
STREAM_ROWS = 500  # rows per network read when streaming (an export of any size holds this many at a time)

Params = Sequence[Any] | Mapping[str, Any]

NUL = "\x00"


def without_nul(value: Any) -> Any:
    """``value`` with NUL dropped from every string in it, keys of mappings included (what PostgreSQL stores)."""
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


class _TextDumper(StrDumperUnknown):
    """psycopg's default for ``str`` (type left to the server), without NUL."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace(NUL, "") if NUL in obj else obj)


class _BinaryTextDumper(StrBinaryDumper):
    """psycopg's binary ``str`` dumper, without NUL."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace(NUL, "") if NUL in obj else obj)


def _json_without_nul(value: Any) -> str:
    return json.dumps(without_nul(value))


ADAPTERS = AdaptersMap(psycopg.adapters)
ADAPTERS.register_dumper(str, _BinaryTextDumper)
ADAPTERS.register_dumper(str, _TextDumper)  # registered last: the one ``%s`` uses, as psycopg's own default
set_json_dumps(_json_without_nul, ADAPTERS)


SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)  # password, sslpassword, …


def redacted(url: str) -> str:
    """The URL without its secrets, fit for logs and messages: the password of its user part and the value of any
    secret-looking query parameter (``password``, ``sslpassword``, …), which libpq accepts too, become ``***``:
    ``postgresql://bot:***@db:5432/orderdesk?password=***``. Hosts, ports and other parameters stay as written."""
    parts = urlsplit(url)
    netloc = parts.netloc
    users, at, hosts = netloc.rpartition("@")
    if at and ":" in users:
        netloc = f"{users.split(':', 1)[0]}:***@{hosts}"
    query = "&".join(_redacted_parameter(item) for item in parts.query.split("&"))
    shown = url.replace(f"//{parts.netloc}", f"//{netloc}", 1) if netloc != parts.netloc else url
    return shown.replace(f"?{parts.query}", f"?{query}", 1) if query != parts.query else shown


def _redacted_parameter(item: str) -> str:
    name, equals, _ = item.partition("=")
    return f"{name}=***" if equals and SECRET_PARAMETER.search(unquote(name)) else item


T = TypeVar("T")


def _rowcount(cursor: psycopg.Cursor[Row]) -> int:
    return cursor.rowcount


def advisory_key(name: str) -> int:
    """An advisory lock's 64-bit key for a name, namespaced so other users of the database do not collide with it."""
    digest = hashlib.sha256(f"orderdesk.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@functools.lru_cache(maxsize=512)
def _encoded(sql: str) -> bytes:
    """The statement as psycopg takes it: bytes (the statements are the modules' constants, encoded once)."""
    return sql.encode()


class PostgresUnusable(DatabaseUnusable):
    """The PostgreSQL database cannot be reached or used; ``path`` is the URL without its password."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(redacted(url), problem)


def _problem(error: psycopg.Error) -> str:
    """psycopg's complaint in one line (its first line is libpq's, the rest is detail)."""
    first = str(error).strip().splitlines()
    return first[0] if first else type(error).__name__


def connect(url: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection of its own (not from the pool), in autocommit, with keepalives."""
    return psycopg.connect(
        url, autocommit=True, context=ADAPTERS, connect_timeout=CONNECT_TIMEOUT_SECONDS, **{**KEEPALIVES, **kwargs}
    )


class PostgresDatabase:
    """One PostgreSQL database and this process's pool of connections to it: what the methods of each aggregate
    build on (:class:`bot.storage.postgres.store.PostgresStore` puts them together).

    Opening applies pending migrations (under an advisory lock, so replicas starting together migrate once) and
    opens the pool; a server that cannot be reached raises :class:`PostgresUnusable` saying why, without the
    password. Close it (or use it as a context manager) to close the pool.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        pool_size: int = POOL_SIZE,
        migrate_now: bool = True,
    ) -> None:
        self.url = url
        self.path = redacted(url)  # what messages name, as the sqlite store names its file
        self._clock = clock
        self._local = threading.local()
        try:
            with connect(url) as conn:
                if migrate_now:
                    migrate(conn)
        except psycopg.Error as error:
            raise PostgresUnusable(url, _problem(error)) from error
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row, "context": ADAPTERS, **KEEPALIVES},
            connection_class=psycopg.Connection[Row],
            name="orderdesk",
            open=True,
        )

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Row]]:
        """The thread's transaction's connection, or one borrowed from the pool for one statement."""
        pinned: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self._pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside the block, through any port of this store, commit together or not at all;
        nested blocks are savepoints, so a caught inner failure undoes only the inner writes."""
        pinned: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if pinned is not None:
            with pinned.transaction():
                yield
            return
        with self._pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A transaction that runs alone among those taking the same ``name``, across replicas (a transaction-scoped
        advisory lock, released at commit or rollback).

        For a read-then-write that must not interleave with another (merging spans, counting then inserting):
        sqlite's writers queue on its one write lock, but PostgreSQL's READ COMMITTED transactions run side by side,
        and each would write what it read before the other committed. A single statement (a claim, a conditional
        ``UPDATE``) needs none of this."""
        with self.transaction():
            self._write("SELECT pg_advisory_xact_lock(%s)", (advisory_key(name),))
            yield

    def _write(self, sql: str, params: Params = ()) -> int:
        """Run one write statement (in the caller's transaction, if any); return the rows it changed."""
        return self._execute(sql, params, _rowcount)

    def _select(self, sql: str, params: Params = ()) -> list[Row]:
        return self._execute(sql, params, psycopg.Cursor.fetchall)

    def _select_one(self, sql: str, params: Params = ()) -> Row | None:
        return self._execute(sql, params, psycopg.Cursor.fetchone)

    def _execute(self, sql: str, params: Params, read: Callable[[psycopg.Cursor[Row]], T]) -> T:
        """One statement on the thread's transaction's connection, or on a pooled one borrowed for it alone, and
        what ``read`` takes from its cursor before the connection goes back. The claim's hot path: the borrowing
        is a plain get and put, without context managers."""
        pinned: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if pinned is not None:
            return read(pinned.execute(_encoded(sql), params))
        conn = self._pool.getconn()
        try:
            return read(conn.execute(_encoded(sql), params))
        finally:
            self._pool.putconn(conn)

    def _stream(self, sql: str, params: Params = ()) -> Iterator[Row]:
        """Rows as the caller iterates, holding one connection until the iteration ends."""
        with self._connection() as conn:
            yield from conn.cursor().stream(sql.encode(), params, size=STREAM_ROWS)

    def ping(self) -> bool:
        try:
            return self._select_one("SELECT 1 AS ok") == {"ok": 1}
        except psycopg.Error:
            return False

    def health_problem(self) -> str | None:
        """Why the database cannot serve the bot, in words, or None when it can: it answers, every migration is
        applied, and the core tables are readable."""
        try:
            with self._pool.connection(timeout=5) as conn:
                names = pending(conn)
                if names:
                    return f"the database {self.path} lacks migrations {', '.join(names)}"
                for table in HEALTH_TABLES:
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1".encode()).fetchall()
        except psycopg.Error as error:
            return f"the database {self.path} cannot be read: {_problem(error)}"
        except Exception as error:  # the pool's timeout: no connection could be had
            return f"the database {self.path} does not answer: {error}"
        return None

    def schema_version(self) -> int:
        """How many of orderdesk's migrations this database has applied."""
        with self._pool.connection() as conn:
            return len(MIGRATIONS) - len(pending(conn))

    def migrations_current(self) -> bool:
        with self._pool.connection() as conn:
            return not pending(conn)

    def server_version(self) -> str:
        """The server's version, e.g. ``15.18``."""
        row = self._select_one("SHOW server_version")
        return str(row["server_version"]).split()[0] if row else "unknown"
