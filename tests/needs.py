"""What the test suite needs from outside pip: found the way users have it, installed where the machine allows.

``make test`` (and ``make pytest``) runs pytest through this module::

    python tests/needs.py -- .venv/bin/pytest -n auto

Before the command runs, every entry of :data:`NEEDS` is looked for (names on ``PATH``, the distribution's own
paths, then anything else the entry knows, such as Playwright's downloaded browser). What is missing is installed
where the machine allows it (the Debian package as root, otherwise the entry's own installer), and looked for
again. If it is still missing, the run stops before any test with one line naming what is missing and the command
that installs it. Nothing is skipped: the tests receive each path in the entry's environment variable, and a test
started without one looks for itself (:func:`path_for_tests`) and fails with the same line.

Adding an outside part is one more :class:`Need` in :data:`NEEDS`, e.g.::

    Need("PostgreSQL", "TEST_POSTGRES_INITDB", commands=("initdb",),
         paths=("/usr/lib/postgresql/*/bin/initdb",), apt_package="postgresql")
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Command = tuple[str, ...]


class Missing(Exception):
    """An outside part is not on this machine and could not be installed; ``str()`` is the one line to show."""


@dataclass(frozen=True)
class Machine:
    """The facts the policy decides on, injectable so that the decisions can be tested on any machine."""

    which: Callable[[str], str | None]
    is_file: Callable[[str], bool]
    glob: Callable[[str], list[str]]
    is_root: bool
    os_release: Mapping[str, str]

    @classmethod
    def here(cls) -> Machine:
        return cls(
            which=shutil.which,
            is_file=os.path.isfile,
            glob=lambda pattern: sorted(glob.glob(pattern)),
            is_root=hasattr(os, "geteuid") and os.geteuid() == 0,
            os_release=read_os_release(),
        )

    @property
    def is_debian(self) -> bool:
        """Debian or a derivative (``ID_LIKE=debian``): apt-get and Debian's package names apply."""
        return self.os_release.get("ID") == "debian" or "debian" in self.os_release.get("ID_LIKE", "").split()


@dataclass(frozen=True)
class Need:
    """One outside part: where users have it, and how it is installed.

    ``env`` is the variable the tests read its path from. ``commands`` are looked up on ``PATH``, then ``paths``
    (glob patterns) are tried, then ``find_more`` (a path that counts only if the file exists). ``apt_package``
    is installed as root on Debian; ``install`` (shown to people as ``install_hint``) is run everywhere else.
    """

    name: str
    env: str
    commands: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    find_more: Callable[[], str | None] | None = None
    apt_package: str | None = None
    install: Command | None = None
    install_hint: str | None = None


def read_os_release(paths: Sequence[str] = ("/etc/os-release", "/usr/lib/os-release")) -> dict[str, str]:
    """``/etc/os-release`` as a dict (empty where there is none, e.g. macOS)."""
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        return parse_os_release(text)
    return {}


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            parts = shlex.split(value) if value.strip() else [""]
            values[key.strip()] = parts[0] if parts else ""
    return values


def playwright_chromium() -> str | None:
    """Where Playwright keeps the Chromium that ``playwright install chromium`` downloads (it may not be there)."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            return playwright.chromium.executable_path
    except Exception:  # no driver, an unsupported platform: Playwright's browser is then simply not an option
        return None


CHROMIUM = Need(
    "Chromium",
    "TEST_CHROMIUM",
    commands=("chromium", "chromium-browser", "google-chrome"),
    paths=("/usr/bin/chromium",),
    find_more=playwright_chromium,
    apt_package="chromium",
    install=(sys.executable, "-m", "playwright", "install", "chromium"),
    install_hint=".venv/bin/playwright install chromium",
)

POSTGRESQL = Need(
    "PostgreSQL 15 (its initdb and pg_ctl)",
    "TEST_POSTGRES_INITDB",
    commands=("initdb",),
    paths=("/usr/lib/postgresql/15/bin/initdb", "/usr/lib/postgresql/*/bin/initdb"),
    apt_package="postgresql-15",
)
"""The storage contract suite and the replica tests start their own throwaway cluster (``tests/postgres.py``)
with this ``initdb`` and the ``pg_ctl`` beside it."""

NEEDS: tuple[Need, ...] = (CHROMIUM, POSTGRESQL)


def find(need: Need, machine: Machine) -> str | None:
    """The path of ``need`` on this machine, looked for the way users have it; None when it is not there."""
    for command in need.commands:
        found = machine.which(command)
        if found:
            return found
    for pattern in need.paths:
        for path in machine.glob(pattern) if any(c in pattern for c in "*?[") else [pattern]:
            if machine.is_file(path):
                return path
    if need.find_more is not None:
        extra = need.find_more()
        if extra and machine.is_file(extra):
            return extra
    return None


def install_plans(need: Need, machine: Machine) -> list[list[Command]]:
    """What this machine allows to install ``need``, in order of preference: each plan is a list of commands."""
    plans: list[list[Command]] = []
    if need.apt_package and machine.is_debian and machine.is_root:
        plans.append([("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", need.apt_package)])
    if need.install is not None:
        plans.append([need.install])
    return plans


def missing_line(need: Need, machine: Machine) -> str:
    """The one line shown when ``need`` is missing: what, and the command a person runs to install it."""
    hints: list[str] = []
    if need.apt_package and machine.is_debian:
        hints.append(f"{'' if machine.is_root else 'sudo '}apt-get install {need.apt_package}")
    if need.install_hint:
        hints.append(need.install_hint)
    elif need.install:
        hints.append(shlex.join(need.install))
    how = " or ".join(f"`{h}`" for h in hints) if hints else "your system's package manager"
    return f"orderdesk's tests need {need.name}, which is not on this machine: install it with {how}"


def ensure(
    needs: Sequence[Need], machine: Machine, run: Callable[[Command], bool], say: Callable[[str], None]
) -> dict[str, str]:
    """Find every need, installing what is missing where the machine allows; the tests' variables and paths.

    ``run`` runs one command and says whether it succeeded. Raises :class:`Missing` with the one line for the
    first need that is still missing after every allowed install.
    """
    found: dict[str, str] = {}
    for need in needs:
        path = find(need, machine)
        for plan in install_plans(need, machine) if path is None else []:
            say(f"{need.name} not found: installing it ({' && '.join(shlex.join(c) for c in plan)})")
            if all(run(command) for command in plan):
                path = find(need, machine)
            if path is not None:
                break
        if path is None:
            raise Missing(missing_line(need, machine))
        found[need.env] = path
    return found


def path_for_tests(need: Need, environ: Mapping[str, str], machine: Machine) -> str:
    """The path a test uses: the one ``make test`` passed, else found now; raises :class:`Missing` otherwise."""
    given = environ.get(need.env)
    if given and machine.is_file(given):
        return given
    found = find(need, machine)
    if found is None:
        raise Missing(missing_line(need, machine))
    return found


def _run(command: Command) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(command, env=env, check=False).returncode == 0


def _exec(command: Sequence[str], env: dict[str, str]) -> int:
    """Become ``command`` (pytest): its exit status is make's, and Ctrl-C reaches it alone."""
    os.execvpe(command[0], list(command), env)  # noqa: S606 (the command is make's own pytest line)


def _say(line: str) -> None:
    print(f"tests/needs.py: {line}", file=sys.stderr, flush=True)


def main(
    argv: Sequence[str],
    *,
    needs: Sequence[Need] = NEEDS,
    machine: Machine | None = None,
    run: Callable[[Command], bool] = _run,
    execute: Callable[[Sequence[str], dict[str, str]], int] = _exec,
) -> int:
    """``needs.py [-- command …]``: ensure every need, then run the command with their paths in its environment."""
    command = list(argv[argv.index("--") + 1 :] if "--" in argv else argv)
    try:
        found = ensure(needs, machine or Machine.here(), run, _say)
    except Missing as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    if not command:
        for env, path in found.items():
            print(f"{env}={path}")
        return 0
    return execute(command, {**os.environ, **found})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
