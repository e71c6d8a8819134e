"""The sqlite backend's single-runner locks: an flock on a file beside the database file.

The OS drops an flock when its holder dies, even by ``kill -9``, so a crashed runner never leaves its lock held.
Each use opens the file anew, so the lock is exclusive between threads of one process as well as across processes.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from bot.storage.ports import RunLockBusy
from bot.storage.sqlite.db import SqliteDatabase


@contextmanager
def file_run_lock(database_path: str, name: str, *, wait: bool) -> Iterator[None]:
    """Hold the lock file ``<database_path>.<name>.lock``: wait for it, or raise :class:`RunLockBusy` at once."""
    with open(f"{database_path}.{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RunLockBusy(name, database_path) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SqliteRunLocks(SqliteDatabase):
    """Run locks per database file (the :class:`bot.storage.ports.RunLock` port)."""

    def run_lock(self, name: str, *, wait: bool = True) -> AbstractContextManager[None]:
        """One holder at a time of the lock ``name`` on this database, across processes; see :func:`file_run_lock`.

        ``name`` becomes part of a file name, so it is a plain word (``poller``).
        """
        if not name.isidentifier():
            raise ValueError(f"a run lock's name is a plain word, not {name!r}")
        return file_run_lock(self.path, name, wait=wait)
