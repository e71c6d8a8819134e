"""Moving to replicas: copy every table of a sqlite database into an empty PostgreSQL one.

The ledger, order locks and waiters, notifications and digests, cards, audit, the orders index and its buyer
hashes, the lookup scan's memory, unfurl reads and the poller's watermark all come across, so the replicas
announce nothing twice, forget no acknowledgement in flight and keep every card current. Rows keep their ids and
their order; the identity sequences continue after the copied ids. The copy is one transaction: it lands whole or
not at all.
"""

from __future__ import annotations

import sqlite3
from os import PathLike

import psycopg

from bot.storage.postgres.db import PostgresUnusable, connect
from bot.storage.postgres.migrations import COPIED_TABLES, migrate
from bot.storage.sqlite.store import Store

IDENTITY_COLUMNS = {"cards": "id", "audit": "id"}  # ids copied as they are: their sequences restart after them


class TargetNotEmpty(Exception):
    """The PostgreSQL database already holds orderdesk state; copying over it would mix two histories."""


def copy_from_sqlite(path: str | PathLike[str], url: str) -> dict[str, int]:
    """Copy the sqlite database at ``path`` (migrated to the current schema first) into the PostgreSQL database
    at ``url`` (migrated, and empty of orderdesk rows): the number of rows copied per table."""
    Store(path).close()  # brings the file to the current schema (its migrations), so every column exists
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with connect(url) as target:
            migrate(target)
            with target.transaction():
                _refuse_unless_empty(target)
                return {table: _copy_table(source, target, table, columns) for table, columns in COPIED_TABLES}
    except psycopg.OperationalError as error:
        raise PostgresUnusable(url, str(error).strip().splitlines()[0]) from error
    finally:
        source.close()


def _refuse_unless_empty(target: psycopg.Connection[tuple[object, ...]]) -> None:
    filled = []
    for table, _ in COPIED_TABLES:
        if target.execute(f"SELECT EXISTS (SELECT 1 FROM {table})".encode()).fetchone() == (True,):
            filled.append(table)
    if filled:
        raise TargetNotEmpty(
            f"the PostgreSQL database already has orderdesk rows (in {', '.join(filled)}): copy into a new, empty "
            "database"
        )


def _copy_table(
    source: sqlite3.Connection, target: psycopg.Connection[tuple[object, ...]], table: str, columns: tuple[str, ...]
) -> int:
    names = ", ".join(columns)
    rows = source.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
    count = 0
    with target.cursor().copy(f"COPY {table} ({names}) FROM STDIN".encode()) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    identity = IDENTITY_COLUMNS.get(table)
    if identity:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'), "
            f"(SELECT COALESCE(MAX({identity}), 0) + 1 FROM {table}), false)".encode()
        )
    return count
