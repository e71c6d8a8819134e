"""``orderdesk migrate``: bring the database to the current schema without starting the bot, or move a sqlite
database's state into PostgreSQL (``--from-sqlite PATH``) before starting replicas on it.

``serve`` migrates at start too (replicas starting together migrate once); running this first, in a deploy step,
keeps schema changes out of the replicas' start-up and shows their outcome on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, setting_variable
from bot.runtime.services import backend_name, open_store
from bot.storage.postgres.from_sqlite import SourceUnusable, TargetNotEmpty, copy_from_sqlite


def main(argv: Sequence[str]) -> int:
    """Exit 0 once migrated (and copied), 2 for bad settings or arguments or a database that cannot be used (one
    line saying why), 1 when the copy is refused because the PostgreSQL database already has orderdesk rows."""
    parser = argparse.ArgumentParser(
        prog="orderdesk migrate",
        description="Apply pending migrations to the configured database (ORDERDESK_DATABASE_URL or ORDERDESK_DB).",
    )
    parser.add_argument(
        "--from-sqlite",
        metavar="PATH",
        type=Path,
        help="copy every table of this sqlite database into the (new, empty) PostgreSQL database",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.from_sqlite is not None:
        return _copy(settings, args.from_sqlite)
    store = open_store(settings)
    try:
        version = store.schema_version()
    finally:
        store.close()
    print(f"{backend_name(settings)}: migrations current (schema version {version})")
    return 0


def _copy(settings: Settings, source: Path) -> int:
    url_variable = setting_variable("database_url")
    if not settings.database_url:
        print(f"orderdesk migrate: --from-sqlite copies into PostgreSQL: set {url_variable}", file=sys.stderr)
        return 2
    if not source.is_file():
        print(f"orderdesk migrate: {source} is not a file (the sqlite database to copy)", file=sys.stderr)
        return 2
    try:
        counts = copy_from_sqlite(source, settings.database_url)
    except TargetNotEmpty as refused:
        print(f"orderdesk migrate: {refused}", file=sys.stderr)
        return 1
    except SourceUnusable as refused:
        print(f"orderdesk migrate: {refused}", file=sys.stderr)
        return 2
    copied = ", ".join(f"{table} {count}" for table, count in counts.items())
    print(f"copied {source} into {backend_name(settings)}: {copied}")
    return 0
