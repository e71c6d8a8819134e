"""``orderdesk doctor``'s checks of what the bot reads and writes besides Slack: Meta's Graph API (the Page
token, its permissions and Page role) and the database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bot.cli.checks import Check, failed, ok, skipped
from bot.config import Settings, setting_variable
from bot.domain import problems
from bot.graph.client import GraphClient
from bot.graph.errors import GraphError
from bot.storage.sqlite.store import DatabaseUnusable, Store, database_path_problem, in_memory


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
