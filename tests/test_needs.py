"""The install policy for what the suite needs from outside pip (``tests/needs.py``), on fake machines: what is
found where, what is installed when, and the one line shown when nothing works."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import needs
import pytest
from needs import CHROMIUM, Command, Machine, Missing, Need

DEBIAN = {"ID": "debian", "VERSION_ID": "12"}
UBUNTU = {"ID": "ubuntu", "ID_LIKE": "debian"}
FEDORA = {"ID": "fedora"}
PLAYWRIGHTS = "/home/u/.cache/ms-playwright/chromium-1/chrome-linux64/chrome"
APT = [("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", "chromium")]
PLAYWRIGHT_INSTALL = (sys.executable, "-m", "playwright", "install", "chromium")


class FakeMachine:
    """A machine with these programs on PATH and these files; ``installs`` says what a command puts where."""

    def __init__(
        self,
        *,
        path: dict[str, str] | None = None,
        files: Sequence[str] = (),
        root: bool = False,
        os_release: dict[str, str] | None = None,
        installs: dict[Command, str] | None = None,
        fails: Sequence[Command] = (),
    ) -> None:
        self.path = dict(path or {})
        self.files = set(files)
        self.root = root
        self.os_release = os_release if os_release is not None else DEBIAN
        self.installs = installs or {}
        self.fails = set(fails)
        self.ran: list[Command] = []
        self.said: list[str] = []

    def machine(self) -> Machine:
        return Machine(
            which=self.path.get,
            is_file=lambda p: p in self.files,
            glob=lambda pattern: sorted(f for f in self.files if Path(f).match(pattern)),
            is_root=self.root,
            os_release=self.os_release,
        )

    def run(self, command: Command) -> bool:
        self.ran.append(command)
        if command in self.fails:
            return False
        if command in self.installs:
            self.files.add(self.installs[command])
        return True

    def ensure(self, need: Need = CHROMIUM) -> dict[str, str]:
        return needs.ensure([need], self.machine(), self.run, self.said.append)


def chromium(playwright_path: str | None = PLAYWRIGHTS) -> Need:
    """Chromium as the policy knows it, with Playwright's browser at ``playwright_path`` (None: no Playwright)."""
    return Need(
        CHROMIUM.name,
        CHROMIUM.env,
        commands=CHROMIUM.commands,
        paths=CHROMIUM.paths,
        find_more=lambda: playwright_path,
        apt_package=CHROMIUM.apt_package,
        install=CHROMIUM.install,
        install_hint=CHROMIUM.install_hint,
    )


@pytest.mark.parametrize("command", ["chromium", "chromium-browser", "google-chrome"])
def test_a_browser_on_path_is_used_and_nothing_is_installed(command: str) -> None:
    fake = FakeMachine(path={command: f"/opt/bin/{command}"}, root=True)
    assert fake.ensure(chromium()) == {"TEST_CHROMIUM": f"/opt/bin/{command}"}
    assert fake.ran == []


def test_debians_chromium_is_found_off_path() -> None:
    fake = FakeMachine(files=["/usr/bin/chromium"], root=True)
    assert fake.ensure(chromium()) == {"TEST_CHROMIUM": "/usr/bin/chromium"}
    assert fake.ran == []


def test_playwrights_downloaded_browser_counts_only_if_the_file_is_there() -> None:
    assert FakeMachine(files=[PLAYWRIGHTS]).ensure(chromium()) == {"TEST_CHROMIUM": PLAYWRIGHTS}
    assert needs.find(chromium(), FakeMachine().machine()) is None  # Playwright names a path it never downloaded
    assert needs.find(chromium(None), FakeMachine(files=[PLAYWRIGHTS]).machine()) is None


def test_path_wins_over_debians_path_and_playwrights() -> None:
    fake = FakeMachine(path={"google-chrome": "/opt/google/chrome"}, files=["/usr/bin/chromium", PLAYWRIGHTS])
    assert needs.find(chromium(), fake.machine()) == "/opt/google/chrome"


def test_root_on_debian_installs_the_debian_package() -> None:
    fake = FakeMachine(root=True, installs={APT[1]: "/usr/bin/chromium"})
    assert fake.ensure(chromium()) == {"TEST_CHROMIUM": "/usr/bin/chromium"}
    assert fake.ran == APT
    assert fake.said == ["Chromium not found: installing it (apt-get update -qq && apt-get install -y -qq chromium)"]


@pytest.mark.parametrize(
    ("root", "os_release"),
    [(False, DEBIAN), (True, FEDORA), (False, FEDORA), (True, {})],
    ids=["debian-user", "fedora-root", "fedora-user", "no-os-release"],
)
def test_elsewhere_playwright_installs_its_own_browser(root: bool, os_release: dict[str, str]) -> None:
    fake = FakeMachine(root=root, os_release=os_release, installs={PLAYWRIGHT_INSTALL: PLAYWRIGHTS})
    assert fake.ensure(chromium()) == {"TEST_CHROMIUM": PLAYWRIGHTS}
    assert fake.ran == [PLAYWRIGHT_INSTALL]


def test_a_derivative_of_debian_uses_apt_too() -> None:
    assert needs.install_plans(chromium(), FakeMachine(root=True, os_release=UBUNTU).machine())[0] == APT


def test_when_apt_fails_playwright_is_tried_next() -> None:
    fake = FakeMachine(root=True, fails=[APT[0]], installs={PLAYWRIGHT_INSTALL: PLAYWRIGHTS})
    assert fake.ensure(chromium()) == {"TEST_CHROMIUM": PLAYWRIGHTS}
    assert fake.ran == [APT[0], PLAYWRIGHT_INSTALL]  # a failed step ends its plan


def test_an_install_that_succeeds_but_leaves_nothing_behind_is_not_trusted() -> None:
    fake = FakeMachine(root=True)  # every command "works", nothing appears
    with pytest.raises(Missing):
        fake.ensure(chromium())
    assert fake.ran == [*APT, PLAYWRIGHT_INSTALL]


@pytest.mark.parametrize(
    ("root", "os_release", "how"),
    [
        (False, DEBIAN, "`sudo apt-get install chromium` or `.venv/bin/playwright install chromium`"),
        (True, DEBIAN, "`apt-get install chromium` or `.venv/bin/playwright install chromium`"),
        (False, FEDORA, "`.venv/bin/playwright install chromium`"),
    ],
)
def test_nothing_works_stops_with_one_line_naming_it_and_its_install_command(
    root: bool, os_release: dict[str, str], how: str
) -> None:
    fake = FakeMachine(root=root, os_release=os_release, fails=[*APT, PLAYWRIGHT_INSTALL])
    with pytest.raises(Missing) as stopped:
        fake.ensure(chromium())
    line = str(stopped.value)
    assert line == f"orderdesk's tests need Chromium, which is not on this machine: install it with {how}"
    assert "\n" not in line


def test_main_prints_the_line_and_runs_no_test(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeMachine(fails=[PLAYWRIGHT_INSTALL])
    executed: list[Sequence[str]] = []

    def execute(command: Sequence[str], env: dict[str, str]) -> int:
        executed.append(command)
        return 0

    status = needs.main(["--", "pytest"], needs=[chromium()], machine=fake.machine(), run=fake.run, execute=execute)

    assert status == 1
    assert executed == []
    assert capsys.readouterr().err.splitlines()[-1] == needs.missing_line(chromium(), fake.machine())


def test_main_runs_the_command_with_each_path_in_its_variable() -> None:
    fake = FakeMachine(files=["/usr/bin/chromium"])
    seen: list[tuple[Sequence[str], str]] = []

    def execute(command: Sequence[str], env: dict[str, str]) -> int:
        seen.append((command, env["TEST_CHROMIUM"]))
        return 3

    status = needs.main(["--", "pytest", "-x"], needs=[chromium()], machine=fake.machine(), execute=execute)

    assert (status, seen) == (3, [(["pytest", "-x"], "/usr/bin/chromium")])


def test_a_test_started_without_the_make_target_fails_with_the_same_line() -> None:
    fake = FakeMachine(files=["/usr/bin/chromium"])
    machine = fake.machine()
    assert needs.path_for_tests(chromium(), {}, machine) == "/usr/bin/chromium"
    assert needs.path_for_tests(chromium(), {"TEST_CHROMIUM": "/usr/bin/chromium"}, machine) == "/usr/bin/chromium"

    empty = FakeMachine().machine()
    with pytest.raises(Missing) as stopped:
        needs.path_for_tests(chromium(), {"TEST_CHROMIUM": "/gone/chromium"}, empty)
    assert str(stopped.value) == needs.missing_line(chromium(), empty)


def test_another_need_is_one_entry() -> None:
    postgres = Need(
        "PostgreSQL",
        "TEST_POSTGRES_INITDB",
        commands=("initdb",),
        paths=("/usr/lib/postgresql/*/bin/initdb",),
        apt_package="postgresql",
    )
    initdb = "/usr/lib/postgresql/15/bin/initdb"
    fake = FakeMachine(
        root=True, files=["/usr/bin/chromium"], installs={("apt-get", "install", "-y", "-qq", "postgresql"): initdb}
    )

    found = needs.ensure([chromium(), postgres], fake.machine(), fake.run, fake.said.append)

    assert found == {"TEST_CHROMIUM": "/usr/bin/chromium", "TEST_POSTGRES_INITDB": initdb}
    with pytest.raises(Missing, match=r"PostgreSQL.*`sudo apt-get install postgresql`$"):
        FakeMachine().ensure(postgres)


def test_os_release_is_parsed_as_the_shell_would() -> None:
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n# comment\nID_LIKE="ubuntu debian"\nEMPTY=\n'
    assert needs.parse_os_release(text) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
        "ID": "debian",
        "ID_LIKE": "ubuntu debian",
        "EMPTY": "",
    }


DEBIAN_INITDB = "/usr/lib/postgresql/15/bin/initdb"
APT_POSTGRES = [("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", "postgresql-15")]


def test_debians_postgresql_is_found_off_path_and_nothing_is_installed() -> None:
    fake = FakeMachine(files=[DEBIAN_INITDB], root=True)
    assert fake.ensure(needs.POSTGRESQL) == {"TEST_POSTGRES_INITDB": DEBIAN_INITDB}
    assert fake.ran == []


def test_another_postgresql_version_or_one_on_path_counts_too() -> None:
    assert FakeMachine(files=["/usr/lib/postgresql/16/bin/initdb"]).ensure(needs.POSTGRESQL) == {
        "TEST_POSTGRES_INITDB": "/usr/lib/postgresql/16/bin/initdb"
    }
    fake = FakeMachine(path={"initdb": "/opt/homebrew/bin/initdb"})
    assert fake.ensure(needs.POSTGRESQL) == {"TEST_POSTGRES_INITDB": "/opt/homebrew/bin/initdb"}


def test_root_on_debian_installs_postgresql_15() -> None:
    fake = FakeMachine(root=True, installs={APT_POSTGRES[1]: DEBIAN_INITDB})
    assert fake.ensure(needs.POSTGRESQL) == {"TEST_POSTGRES_INITDB": DEBIAN_INITDB}
    assert fake.ran == APT_POSTGRES


@pytest.mark.parametrize(
    ("root", "os_release", "how"),
    [
        (False, DEBIAN, "`sudo apt-get install postgresql-15`"),
        (True, DEBIAN, "`apt-get install postgresql-15`"),
        (False, FEDORA, "your system's package manager"),
    ],
)
def test_missing_postgresql_stops_with_one_line(root: bool, os_release: dict[str, str], how: str) -> None:
    fake = FakeMachine(root=root, os_release=os_release, fails=APT_POSTGRES)
    with pytest.raises(Missing) as stopped:
        fake.ensure(needs.POSTGRESQL)
    assert str(stopped.value) == (
        "orderdesk's tests need PostgreSQL 15 (its initdb and pg_ctl), which is not on this machine: "
        f"install it with {how}"
    )
    assert fake.ran == (APT_POSTGRES[:1] if root and os_release is DEBIAN else [])


def test_make_test_needs_chromium_and_postgresql() -> None:
    assert [need.env for need in needs.NEEDS] == ["TEST_CHROMIUM", "TEST_POSTGRES_INITDB"]
