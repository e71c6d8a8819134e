"""A throwaway PostgreSQL cluster for the tests: started in a temporary folder, on a free port, stopped at the end.

Each pytest worker starts its own cluster once (the session fixture :func:`postgres_cluster`), migrates one
template database, and gives every test a fresh database copied from it (:func:`postgres_url`): ``CREATE
DATABASE … TEMPLATE`` copies files, far faster than migrating again. No test needs a server that is already
running, and none is left behind.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the ``postgres`` user (``runuser``), in a
folder that user owns. The cluster trades durability for speed (``fsync=off``): it lives for one test run.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import needs
import psycopg
import pytest

POSTGRES_USER = "postgres"  # the cluster's superuser, and the OS user that runs it when the tests run as root
TEMPLATE = "orderdesk_template"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster in ``folder`` (data, socket and log), served on 127.0.0.1:``port``."""

    def __init__(self, bindir: Path, folder: Path) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.sockets = folder / "sockets"
        self.log = folder / "server.log"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)

    def _run(self, *command: str) -> None:
        argv: Sequence[str] = command
        if self._as_postgres:
            argv = ["runuser", "-u", POSTGRES_USER, "--", *command]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{log[-2000:]}")

    def start(self) -> None:
        self.sockets.mkdir(parents=True)
        if self._as_postgres:
            shutil.chown(self.folder, POSTGRES_USER)
            shutil.chown(self.sockets, POSTGRES_USER)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", POSTGRES_USER, "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        for attempt in range(5):  # another worker may take the free port between the probe and the start
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
            )
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                          "-w", "-t", "60", "start")  # fmt: skip
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self, template: str = TEMPLATE) -> str:
        """A fresh database copied from ``template``: its URL."""
        name = f"test_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def stop(self) -> None:
        if self.port and (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


POSTGRESQL = needs.POSTGRESQL


def bindir() -> Path:
    """The folder of initdb and pg_ctl: the one ``make test`` found (or installed), else looked for now."""
    initdb = needs.path_for_tests(POSTGRESQL, os.environ, needs.Machine.here())
    return Path(os.path.realpath(initdb)).parent


def cluster_folder(prefix: str) -> Path:
    """A new temporary folder for a cluster. As root the cluster runs as postgres, who must reach the folder: /tmp is
    open to every user, where a TMPDIR under root's home would not be."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if os.geteuid() == 0 else None))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """This worker's cluster, with the template database migrated by the PostgreSQL store."""
    from bot.storage.postgres.store import PostgresStore

    folder = cluster_folder("orderdesk-pg-")
    cluster = Cluster(bindir(), folder)
    try:
        cluster.start()
        cluster.execute(f'CREATE DATABASE "{TEMPLATE}"')
        PostgresStore(cluster.url(TEMPLATE)).close()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A fresh, migrated database of this worker's cluster, for one test."""
    return postgres_cluster.new_database()
