"""The ``orderdesk`` command as a user meets it at the terminal: run as a real process, read as printed.

Covers the dispatcher (no command, ``--version``), the help text of every flag of every subcommand, ``serve``'s
port check, and start-up with an ``ORDERDESK_DB`` that cannot be used: one line naming the variable, the path and
the problem, exit status 2, never sqlite's traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.cli import main as cli
from bot.storage.sqlite.store import Store

ORDERDESK = Path(sys.executable).with_name("orderdesk")
# Valid settings that need no network before the database opens: the database is what these tests are about.
SETTINGS = {
    "SLACK_BOT_TOKEN": "xoxb-cli-test",
    "SLACK_SIGNING_SECRET": "cli-test-secret",
    "FB_PAGE_ID": "1122334455",
    "FB_PAGE_ACCESS_TOKEN": "cli-test-page-token",
    "ORDERDESK_NOTIFY_CHANNEL": "C0ORDERS",  # `sync` refuses to start without it
}


def orderdesk(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed ``orderdesk`` entry point, in ``cwd`` (no stray ``.env``), with only ``env`` set."""
    return subprocess.run(
        [str(ORDERDESK), *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    done = orderdesk(cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: orderdesk")
    assert "doctor" in done.stderr
    assert done.stdout == ""


def test_help_is_not_an_error(tmp_path: Path) -> None:
    done = orderdesk("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: orderdesk")


def test_version_is_the_installed_package_version(tmp_path: Path) -> None:
    done = orderdesk("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"orderdesk {version('orderdesk')}\n", "")


class _Parsed(Exception):
    """Stops a subcommand right after it parsed its arguments: its parser is all this test needs."""


def _parsers(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, as its own ``main`` builds it (each module owns its options)."""
    seen: list[argparse.ArgumentParser] = []

    def parse_args(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        seen.append(self)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_args)
    parsers = {}
    for name, (target, _) in cli.COMMANDS.items():
        module, _, func = target.partition(":")
        main: Callable[[list[str]], int] = getattr(__import__(module, fromlist=[func]), func)
        with pytest.raises(_Parsed):
            main([])
        parsers[name] = seen.pop()
    return parsers


def test_every_flag_of_every_command_has_help(monkeypatch: pytest.MonkeyPatch) -> None:
    parsers = _parsers(monkeypatch)
    assert set(parsers) == set(cli.COMMANDS)
    missing = [
        f"orderdesk {name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in parsers.items()
        for action in parser._actions
        # argparse.SUPPRESS hides a test-only flag from --help on purpose; None is a forgotten help text.
        if not action.help and action.help != argparse.SUPPRESS
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("port", "words"),
    [
        ("99999", "99999 is not a port: use 1-65535, or 0 for any free port"),
        ("65536", "65536 is not a port"),
        ("-1", "-1 is not a port"),
        ("http", "invalid port value: 'http'"),
    ],
)
def test_serve_refuses_a_port_that_is_not_one(tmp_path: Path, port: str, words: str) -> None:
    done = orderdesk("serve", "--mode", "http", "--port", port, cwd=tmp_path, **SETTINGS)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: orderdesk serve")
    assert f"error: argument --port: {words}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "orderdesk.db").exists()  # refused before anything started


def _garbage(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "orderdesk.db"
    path.write_bytes(bytes(range(256)) * 16)  # no sqlite header: what a damaged or wrong file looks like
    return path, "the file is not an sqlite database (it is damaged, or another kind of file)"


def _a_folder(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "orderdesk.db").mkdir()  # as root, permission bits stop nothing; a folder stops sqlite for anyone
    return tmp_path / "orderdesk.db", "this is a folder, not a database file"


def _under_a_file(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "notes.txt").write_text("a regular file, not a folder\n")
    return tmp_path / "notes.txt" / "orderdesk.db", f"{tmp_path / 'notes.txt'} is a file, not a folder"


def _missing_folder(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "no-such-dir"
    return folder / "orderdesk.db", f"the folder {folder} does not exist: create it, or correct the path"


@pytest.mark.parametrize("case", [_garbage, _a_folder, _under_a_file, _missing_folder])
@pytest.mark.parametrize("command", [["serve", "--mode", "http", "--port", "0"], ["sync"], ["status"]])
def test_an_unusable_database_stops_start_up_with_one_line(
    tmp_path: Path, command: list[str], case: Callable[[Path], tuple[Path, str]]
) -> None:
    path, problem = case(tmp_path)
    done = orderdesk(*command, cwd=tmp_path, **SETTINGS, ORDERDESK_DB=str(path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"orderdesk {command[0]}: ORDERDESK_DB={path}: {problem}"]
    assert done.stdout == ""
    assert not (tmp_path / "no-such-dir").exists()  # a missing folder is refused, not created


def test_a_relative_database_path_names_the_missing_folder_absolutely(tmp_path: Path) -> None:
    done = orderdesk("status", cwd=tmp_path, **SETTINGS, ORDERDESK_DB="data/orderdesk.db")
    assert done.returncode == 2
    assert done.stderr == f"orderdesk status: ORDERDESK_DB=data/orderdesk.db: the folder {tmp_path / 'data'} " + (
        "does not exist: create it, or correct the path\n"
    )


def test_a_new_database_in_an_existing_folder_is_created(tmp_path: Path) -> None:
    """The refusals above leave the ordinary first start alone."""
    done = orderdesk("status", cwd=tmp_path, **SETTINGS, ORDERDESK_DB="orderdesk.db")
    assert done.returncode == 0, done.stderr
    assert "last successful poll" in done.stdout
    with Store(tmp_path / "orderdesk.db") as store:
        assert store.migrations_current()
