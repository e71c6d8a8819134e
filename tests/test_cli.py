"""The ``orderdesk`` command as a user meets it at the terminal: run as a real process, read as printed.

Covers start-up with an ``ORDERDESK_DB`` that cannot be used: one line naming the variable, the path and the
problem, exit status 2, never sqlite's traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.store import Store

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


# --- an unusable ORDERDESK_DB ----------------------------------------------------------------------------------


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
