"""Single-runner locks across replicas: a PostgreSQL session advisory lock on a connection of its own.

The lock lives as long as the session that took it, so it is taken on a dedicated connection (outside the pool,
whose connections serve every thread in turn) and released by closing it. A replica killed with ``kill -9`` has
its socket closed by its kernel, and the server ends the session at once; a host that vanishes without closing
its socket is noticed by TCP keepalives within seconds on both ends (:data:`SERVER_KEEPALIVES` on the server's,
``bot.storage.postgres.db.KEEPALIVES`` on ours), and the lock is free for another replica's next turn.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg

from bot.storage.ports import RunLockBusy
from bot.storage.postgres.db import PostgresDatabase, advisory_key, connect

# The server probes the holder's host too (the connection's own keepalives only let this side notice a dead
# server): a host that vanished without closing its socket has its session, and its locks, ended after
# 5 + 2 * 3 = 11 s. Per session, so no server setting is needed.
SERVER_KEEPALIVES = (
    b"SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; "
    b"SET tcp_user_timeout = 11000"
)


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a run lock's name."""
    return advisory_key(f"run_lock.{name}")


class AdvisoryLock:
    """A held (once entered) advisory lock and the connection that holds it."""

    def __init__(self, url: str, scope: str, name: str, *, wait: bool) -> None:
        self._url = url
        self._scope = scope
        self.name = name
        self._wait = wait
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> None:
        conn = connect(self._url, application_name=f"orderdesk run lock {self.name}")
        try:
            conn.execute(SERVER_KEEPALIVES)
            key = lock_key(self.name)
            if self._wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not row or not row[0]:
                    raise RunLockBusy(self.name, self._scope)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def held(self) -> bool:
        """True while the session holding the lock is alive (asked of the server; False once the connection
        broke, when another replica may have taken the lock)."""
        conn = self._conn
        if conn is None or conn.closed:
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
        if conn is not None:
            conn.close()  # ending the session releases its advisory locks


class PostgresRunLocks(PostgresDatabase):
    """Run locks per database (the :class:`bot.storage.ports.RunLock` port)."""

    def run_lock(self, name: str, *, wait: bool = True) -> AdvisoryLock:
        """One holder at a time of the lock ``name`` on this database, across replicas."""
        return AdvisoryLock(self.url, self.path, name, wait=wait)
