"""The ``orderdesk`` command.

Each subcommand lives in its own module with its own ``main(argv) -> int``; this file only dispatches, so
modules can grow their options without touching one another. It also turns the one start-up failure every
subcommand that opens the database shares, an unusable ``ORDERDESK_DB``, into one line and exit status 2, the
status of every other settings error.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

from bot.config import setting_variable
from bot.storage.postgres.store import PostgresUnusable
from bot.storage.sqlite.store import DatabaseUnusable

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("bot.runtime.serve:main", "run the bot (Socket Mode or HTTP), with the poller and the ledger sweeper"),
    "sandbox": ("bot.sandbox.graph:main", "serve the Order Management API sandbox on 127.0.0.1"),
    "slack-sandbox": ("bot.sandbox.slack:main", "serve the Slack Web API sandbox on 127.0.0.1"),
    "demo": ("bot.cli.demo:main", "run everything offline: sandboxes, bot and the browser console"),
    "sync": ("bot.cli.sync:main", "one notification poll now (use --since to backfill)"),
    "status": ("bot.cli.status:main", "show the poller's watermark, queue and last error"),
    "doctor": ("bot.cli.doctor:main", "check settings, tokens, scopes, database and channel"),
    "reindex": ("bot.cli.reindex:main", "rebuild /order find's buyer index after ORDERDESK_SEARCH_KEY changed"),
    "migrate": ("bot.cli.migrate:main", "apply the database's migrations; --from-sqlite copies a sqlite file"),
}


def _usage() -> str:
    lines = ["usage: orderdesk [--version] <command> [options]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `orderdesk <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 for help and the version; 2 for no command, an unknown one, or an unusable database; else the
    subcommand's own status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        # Like argparse with a required argument: a bare `orderdesk` in a script is a mistake, not a success.
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if args[0] in {"-V", "--version"}:
        print(f"orderdesk {version('orderdesk')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"orderdesk: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, func_name = COMMANDS[name][0].partition(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        result: int = func(rest)
    except DatabaseUnusable as error:
        variable = setting_variable("database_url" if isinstance(error, PostgresUnusable) else "db_path")
        print(f"orderdesk {name}: {error.for_setting(variable)}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
