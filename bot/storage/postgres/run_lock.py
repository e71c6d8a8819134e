"""Single-runner locks across replicas: PostgreSQL session advisory locks on a connection of their own.

A session lock lives as long as the session that took it, so it is never taken on a pooled connection (those serve
every thread in turn). Locks tried without waiting (every background job's, at every turn, on every replica) share
one dedicated connection per store, :class:`LockSession`: a standby's try is one statement on a connection that is
already open, not a new connection, and a runner's check that it still holds its lock is another. A lock that waits
takes a connection of its own for as long as it waits and holds, so it never blocks the others' tries.

A replica killed with ``kill -9`` has its socket closed by its kernel, and the server ends the session at once; a
host that vanishes without closing its socket is noticed by TCP keepalives within seconds on both ends
(:data:`SERVER_KEEPALIVES` on the server's, ``bot.storage.postgres.db.KEEPALIVES`` on ours), and the locks are
free for another replica's next turn. When the shared connection breaks, every lock taken on it is lost (each says
so through :meth:`AdvisoryLock.held`), and the next try opens a new one.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

import psycopg

from bot.storage.ports import RunLockBusy
from bot.storage.postgres.db import PostgresDatabase, advisory_key, connect

log = logging.getLogger(__name__)

# The server probes the holder's host too (the connection's own keepalives only let this side notice a dead
# server): a host that vanished without closing its socket has its session, and its locks, ended after
# 5 + 2 * 3 = 11 s. Per session, so no server setting is needed.
SERVER_KEEPALIVES = (
    b"SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; "
    b"SET tcp_user_timeout = 11000"
)
SHARED_SESSION_NAME = "orderdesk run locks"


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a run lock's name."""
    return advisory_key(f"run_lock.{name}")


def _lock_connection(url: str, application_name: str) -> psycopg.Connection[Any]:
    conn = connect(url, application_name=application_name)
    try:
        conn.execute(SERVER_KEEPALIVES)
    except BaseException:
        conn.close()
        raise
    return conn


class LockSession:
    """This store's one connection for the locks tried without waiting, opened at the first try and again after
    it broke. Session advisory locks are re-entrant on the server, so the keys held here are kept too: a second
    try of a held key in this process is refused like one from another process."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._mutex = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._held: set[int] = set()

    def try_lock(self, key: int) -> psycopg.Connection[Any] | None:
        """Take ``key`` if free: the connection that holds it (what :meth:`held` and :meth:`unlock` are asked
        with), or None while another holder has it."""
        with self._mutex:
            conn = self._open()
            if key in self._held:
                return None
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            except psycopg.OperationalError:
                self._lost(conn)
                conn = self._open()  # the session broke since the last try: once more on a new one
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not row or not row[0]:
                return None
            self._held.add(key)
            return conn

    def held(self, key: int, conn: psycopg.Connection[Any]) -> bool:
        """Whether ``key``, taken on ``conn``, is still held: that session is this store's current one, and the
        server still answers on it."""
        with self._mutex:
            if conn is not self._conn or conn.closed or key not in self._held:
                return False
            try:
                conn.execute("SELECT 1")
            except psycopg.Error:
                self._lost(conn)
                return False
            return True

    def unlock(self, key: int, conn: psycopg.Connection[Any]) -> None:
        with self._mutex:
            if conn is not self._conn or key not in self._held:
                return  # taken on a session that has ended since: released with it
            self._held.discard(key)
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                self._lost(conn)

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._lost(self._conn, closing=True)

    def _open(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._lost(self._conn)
            self._conn = _lock_connection(self._url, SHARED_SESSION_NAME)
        return self._conn

    def _lost(self, conn: psycopg.Connection[Any], *, closing: bool = False) -> None:
        """The session ended (or is being ended): every lock it held is gone with it."""
        if self._held and not closing:
            log.warning("the run-lock session to the database ended: its %d run lock(s) are released", len(self._held))
        self._held.clear()
        self._conn = None
        try:
            conn.close()
        except psycopg.Error:
            log.debug("closing a broken run-lock session failed", exc_info=True)


class AdvisoryLock:
    """A held (once entered) advisory lock and the session that holds it: the store's shared one when taken
    without waiting, else a connection of its own."""

    def __init__(self, url: str, scope: str, name: str, *, wait: bool, session: LockSession) -> None:
        self._url = url
        self._scope = scope
        self.name = name
        self._wait = wait
        self._session = session
        self._key = lock_key(name)
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> None:
        if not self._wait:
            conn = self._session.try_lock(self._key)
            if conn is None:
                raise RunLockBusy(self.name, self._scope)
            self._conn = conn
            return
        conn = _lock_connection(self._url, f"orderdesk run lock {self.name}")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def held(self) -> bool:
        """True while the session holding the lock is alive (asked of the server; False once the connection
        broke, when another replica may have taken the lock)."""
        conn = self._conn
        if conn is None:
            return False
        if not self._wait:
            return self._session.held(self._key, conn)
        if conn.closed:
            return False
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not self._wait:
            self._session.unlock(self._key, conn)
        else:
            conn.close()  # ending the session releases its advisory locks


class PostgresRunLocks(PostgresDatabase):
    """Run locks per database (the :class:`bot.storage.ports.RunLock` port)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock_session = LockSession(self.url)

    def run_lock(self, name: str, *, wait: bool = True) -> AdvisoryLock:
        """One holder at a time of the lock ``name`` on this database, across replicas and threads."""
        return AdvisoryLock(self.url, self.path, name, wait=wait, session=self._lock_session)

    def close(self) -> None:
        self._lock_session.close()
        super().close()
