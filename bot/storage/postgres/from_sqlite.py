"""Moving to replicas: copy every table of a sqlite database into an empty PostgreSQL one.

The ledger, order locks and waiters, notifications and digests, cards, audit, the orders index and its buyer
hashes, the lookup scan's memory, unfurl reads and the poller's watermark all come across, so the replicas
announce nothing twice, forget no acknowledgement in flight and keep every card current. Rows keep their ids and
their order; the identity sequences continue after the copied ids. The copy is one transaction: it lands whole or
not at all, and two copies started at once into one database take turns (an advisory lock), the second finding the
first's rows and refusing in words.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from os import PathLike

import psycopg
from psycopg.types.json import Jsonb

from bot.storage.postgres.db import PostgresUnusable, _problem, advisory_key, connect
from bot.storage.postgres.migrations import COPIED_TABLES, migrate
from bot.storage.sqlite.store import DatabaseUnusable, Store

IDENTITY_COLUMNS = {"cards": "id", "audit": "id"}  # ids copied as they are: their sequences restart after them
JSONB_COLUMNS = {"orders": "data"}  # JSON text in sqlite, jsonb here
COPY_LOCK = "migrate.from_sqlite"
# Written by `orderdesk doctor` before it stopped leaving rows behind: not state worth refusing a copy for.
IGNORED_STATE = ("doctor.checked_at",)


class CopyRefused(Exception):
    """The copy cannot be made; the message says why in words, for the operator."""


class TargetNotEmpty(CopyRefused):
    """The PostgreSQL database already holds orderdesk state; copying over it would mix two histories."""


class SourceUnusable(CopyRefused):
    """The file to copy from is not a usable sqlite database."""


def copy_from_sqlite(path: str | PathLike[str], url: str) -> dict[str, int]:
    """Copy the sqlite database at ``path`` (migrated to the current schema first) into the PostgreSQL database
    at ``url`` (migrated, and empty of orderdesk rows): the number of rows copied per table."""
    try:
        Store(path).close()  # brings the file to the current schema (its migrations), so every column exists
    except DatabaseUnusable as error:
        raise SourceUnusable(f"--from-sqlite {path}: {error.problem}") from error
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with connect(url) as target:
            migrate(target)
            with target.transaction():
                target.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(COPY_LOCK),))
                _refuse_unless_empty(target)
                return {table: _copy_table(source, target, table, columns) for table, columns in COPIED_TABLES}
    except psycopg.Error as error:
        raise PostgresUnusable(url, _problem(error)) from error
    finally:
        source.close()


def _refuse_unless_empty(target: psycopg.Connection[tuple[object, ...]]) -> None:
    target.execute("DELETE FROM state WHERE name = ANY(%s)", (list(IGNORED_STATE),))
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
        json_at = columns.index(JSONB_COLUMNS[table]) if table in JSONB_COLUMNS else None
        for row in rows:
            copy.write_row(row if json_at is None else _with_json(row, json_at))
            count += 1
    identity = IDENTITY_COLUMNS.get(table)
    if identity:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'), "
            f"(SELECT COALESCE(MAX({identity}), 0) + 1 FROM {table}), false)".encode()
        )
    return count


def _with_json(row: Sequence[object], at: int) -> Sequence[object]:
    """The row with its JSON text at ``at`` as a document when it holds an escaped NUL (``\\u0000``), which
    ``jsonb`` refuses: adapted as a document, the NUL is dropped like in every other write."""
    value = row[at]
    if not isinstance(value, str) or "\\u0000" not in value:
        return row
    return [*row[:at], Jsonb(json.loads(value)), *row[at + 1 :]]
