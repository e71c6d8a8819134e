"""``orderdesk doctor``'s checks of what the bot reads and writes besides Slack: Meta's Graph API (the Page
token, its permissions and Page role) and the database."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from bot.cli.checks import Check, failed, ok, skipped, warning
from bot.config import Settings, setting_variable
from bot.domain import problems
from bot.graph.client import GraphClient
from bot.graph.errors import GraphError
from bot.storage.postgres.db import connect
from bot.storage.postgres.store import PostgresStore, PostgresUnusable, redacted
from bot.storage.sqlite.store import DatabaseUnusable, Store, database_path_problem, in_memory

MINIMUM_POSTGRES = 13  # the oldest PostgreSQL release still supported upstream; the suite runs on 15
POOLER_PORT = 6432  # PgBouncer's customary port


def _graph_failure(name: str, error: GraphError, settings: Settings) -> Check:
    fix = problems.for_admin(error, graph_url=settings.fb_graph_url, graph_version=settings.fb_graph_version)
    return failed(name, str(error), fix)


def graph_checks(settings: Settings) -> list[Check]:
    """``GET /{page-id}`` proves the token, the Page id and the network; one page of ``commerce_orders`` proves
    the permissions and the Page role."""
    with GraphClient.from_settings(settings) as graph:
        try:
            page = graph.get_page()
        except GraphError as error:
            return [_graph_failure("graph token", error, settings), skipped("commerce orders", "needs the Page")]
        # A Page token for another Page still reads this Page's public fields; commerce_orders then refuses it.
        token = ok("graph token", f"Page {page.get('name')!r} ({page.get('id')})")
        try:
            list(graph.iter_orders(limit=1, max_pages=1))
        except GraphError as error:
            return [token, _graph_failure("commerce orders", error, settings)]
        return [token, ok("commerce orders", "readable")]


def database_check(settings: Settings) -> Check:
    """Open the Store (which applies migrations and WAL) and write one row: the bot needs exactly that to work.

    A database that does not exist yet is not created (doctor changes nothing a deployment has): its folder is
    checked instead, as the first start will need it."""
    name = "database"
    path = settings.db_path
    variable = setting_variable("db_path")
    fix = f"set {variable} to a file in an existing folder that the user running orderdesk can write to"
    problem = database_path_problem(path)
    if problem is not None:
        return failed(name, f"{variable}={path}: {problem}", fix)
    if not in_memory(path) and not Path(path).exists():
        return ok(name, f"{path} does not exist yet: it will be created at the first start (its folder is writable)")
    try:
        with Store(path) as store:
            store.set_state("doctor.checked_at", str(int(time.time())))
            mode, version, current = store.journal_mode(), store.schema_version(), store.migrations_current()
    except DatabaseUnusable as error:
        return failed(
            name,
            error.for_setting(variable),
            f"move the file away (orderdesk then starts a new, empty database) or restore it from a backup; or {fix}",
        )
    except sqlite3.Error as error:
        return failed(name, f"cannot write {path}: {error}", fix)
    if not current:
        return failed(name, f"schema version {version} has pending migrations", "run orderdesk serve once")
    if mode != "wal":
        return failed(
            name,
            f"journal mode is {mode}, not WAL",
            "put ORDERDESK_DB on a local disk: WAL, which lets lookups read while an acknowledgement writes, "
            "does not work in memory or on network filesystems",
        )
    return ok(name, f"{path} writable, schema version {version}, migrations current, WAL")


def database_checks(settings: Settings) -> list[Check]:
    """The database the settings select: the sqlite file (:func:`database_check`), or PostgreSQL
    (:func:`postgres_checks`) when ``ORDERDESK_DATABASE_URL`` is set."""
    if settings.database_url:
        return postgres_checks(settings.database_url)
    return [database_check(settings)]


def postgres_checks(url: str) -> list[Check]:
    """The URL, the server and its version, the migrations, one write, and whether a transaction-pooling proxy
    stands between the replicas and the server. Doctor migrates nothing: pending migrations are a failure that
    says to run ``orderdesk migrate``."""
    variable = setting_variable("database_url")
    shown = redacted(url)
    checks = [ok("database url", f"{shown} (PostgreSQL; {setting_variable('db_path')} is not used)")]
    try:
        store = PostgresStore(url, migrate_now=False, pool_size=1)
    except PostgresUnusable as error:
        return [
            *checks,
            failed(
                "postgresql",
                error.for_setting(variable),
                "check the host, port, database name, user and password in the URL, and that this host may connect",
            ),
        ]
    with store:
        version = store.server_version()
        major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
        if major < MINIMUM_POSTGRES:
            checks.append(
                failed("postgresql", f"server version {version}", f"use PostgreSQL {MINIMUM_POSTGRES} or later")
            )
        else:
            checks.append(ok("postgresql", f"server version {version}"))
        if not store.migrations_current():
            checks.append(
                failed(
                    "migrations",
                    f"schema version {store.schema_version()}: migrations are pending",
                    "run `orderdesk migrate` once (or start one replica: it migrates at start)",
                )
            )
        else:
            try:
                _write_and_undo(store)
            except psycopg.Error as error:
                checks.append(failed("migrations", f"current, but cannot write: {error}", "grant the user INSERT"))
            else:
                checks.append(ok("migrations", f"current (schema version {store.schema_version()}), writable"))
    checks.append(pooling_check(url))
    return checks


class _Undo(Exception):
    """Rolls back the doctor's test write."""


def _write_and_undo(store: PostgresStore) -> None:
    """One write the bot makes, rolled back: proves the user may write, and leaves no row that would make
    ``orderdesk migrate --from-sqlite`` take the database for one in use."""
    try:
        with store.transaction():
            store.set_state("doctor.checked_at", str(int(time.time())))
            raise _Undo
    except _Undo:
        pass


PROBE_SETTING = "orderdesk.pooling_probe"  # a custom setting, set for the probe's session alone


def pooling_check(url: str, *, open_connection: Callable[[], psycopg.Connection[Any]] | None = None) -> Check:
    """Run locks are session advisory locks: a proxy pooling by transaction (PgBouncer's ``pool_mode =
    transaction``) would hand a lock's session to other clients and lose it. Found from the URL (PgBouncer's
    port, its name), else by behaviour (:func:`session_kept`): a server alone, or a pool in session mode, keeps
    a session's setting from one statement to the next, a transaction pool does not."""
    fix = (
        "point ORDERDESK_DATABASE_URL at the server itself, or at a pool in session mode (pool_mode = session): "
        "one runner per job needs session advisory locks"
    )
    parts = urlsplit(url)
    hints = [parts.hostname or "", parts.path, *(v for vs in parse_qs(parts.query).values() for v in vs)]
    if parts.port == POOLER_PORT or any("pgbouncer" in hint.lower() for hint in hints):
        return warning("connection pooling", f"{redacted(url)} looks like a PgBouncer connection pooler", fix)
    try:
        kept = session_kept(open_connection or (lambda: connect(url, application_name="orderdesk doctor")))
    except psycopg.Error as error:
        return warning(
            "connection pooling", f"could not tell whether a pooler is in between: {_first_line(error)}", fix
        )
    if not kept:
        return warning(
            "connection pooling",
            "a connection pooler hands this client's statements to different server sessions (transaction pooling)",
            fix,
        )
    return ok("connection pooling", "sessions are kept (direct to the server, or a pool in session mode)")


def session_kept(open_connection: Callable[[], psycopg.Connection[Any]]) -> bool:
    """Whether a client keeps its server session between statements. One connection sets a session setting; a
    second, meanwhile, holds a transaction open (a transaction pooler then gives it the first's idle server
    session, setting and all, and the first's next statement another session); the first then reads it back."""
    token = secrets.token_hex(8)
    with open_connection() as first, open_connection() as second:
        first.execute("SELECT set_config(%s, %s, false)", (PROBE_SETTING, token))
        with second.transaction():
            leaked = second.execute("SELECT current_setting(%s, true)", (PROBE_SETTING,)).fetchone()
            read_back = first.execute("SELECT current_setting(%s, true)", (PROBE_SETTING,)).fetchone()
    return read_back == (token,) and leaked != (token,)


def _first_line(error: psycopg.Error) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
