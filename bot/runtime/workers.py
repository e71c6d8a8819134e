"""The background work of a running bot, and the registry that starts it.

:class:`Running` is a started bot whichever way it serves (Socket Mode, HTTP, the demo): it owns the background
workers and the ``/healthz`` sections they add, and stops everything in order. :data:`BACKGROUND_JOBS` lists what
every way of running starts, so none of them can forget one: a new background job is one function that takes the
:class:`Running` and adds its worker (and status, if it has one), listed there.

One runner per job across replicas: a worker runs its job only while it holds the job's run lock (a
:class:`JobLease`: on PostgreSQL an advisory lock on a connection of its own, on sqlite a lock file). The replica
that first takes it keeps it from turn to turn; the others try again at each of their turns, so when the runner
dies (its lock goes with its session) another one takes the job over within one interval. ``/healthz`` (``jobs``)
says which jobs this replica runs, and ``orderdesk status`` which runner took each.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, Self, runtime_checkable

from slack_bolt import App

from bot.notify.bands import BandRefresher
from bot.notify.health import WorkerRecorder
from bot.notify.poller import Notifier
from bot.notify.reminders import Reminders
from bot.notify.summary import DailySummary
from bot.runtime.services import Services, backend_name
from bot.slack.home import HOME_EVERY_SECONDS, HomePublisher
from bot.storage.ports import KeyValue, RunLock, RunLockBusy

log = logging.getLogger(__name__)

Status = Callable[[], Mapping[str, Any]]

JOBS_STATE = "jobs"  # the names of the single-runner jobs, for `orderdesk status`
RUNNER = f"{socket.gethostname()} pid {os.getpid()}"  # who this process is, in `orderdesk status`


@runtime_checkable
class Losable(Protocol):
    """A held run lock that can be lost while its holder lives (a database session that broke): it says so."""

    def held(self) -> bool: ...


class LeaseStore(RunLock, KeyValue, Protocol):
    """What a lease needs of the store: the run lock, and somewhere to say who runs the job."""


class JobLease:
    """Whether this process runs the single-runner job ``name``: it holds the job's run lock between turns.

    :meth:`take` is asked before each turn: true while the lock is still held (a PostgreSQL lock is checked with
    the server, since a broken connection loses it), or when it could be taken now; false while another runner
    holds it. Taking it records the runner under ``jobs.<name>`` for ``orderdesk status``.
    """

    def __init__(self, store: LeaseStore, name: str) -> None:
        self.name = name
        self.lock_name = "job_" + re.sub(r"\W", "_", name)
        self._store = store
        self._held: AbstractContextManager[None] | None = None
        self._mutex = threading.Lock()

    def take(self) -> bool:
        with self._mutex:
            if self._held is not None:
                if not isinstance(self._held, Losable) or self._held.held():
                    return True
                log.warning("lost the %s run lock (its database session ended); trying to take it again", self.name)
                self._let_go()
            lock = self._store.run_lock(self.lock_name, wait=False)
            try:
                lock.__enter__()
            except RunLockBusy:
                return False
            self._held = lock
        log.info("running the %s job on this replica", self.name)
        self._store.set_state(
            f"{JOBS_STATE}.{self.name}",
            json.dumps({"runner": RUNNER, "since": datetime.now(UTC).isoformat(timespec="seconds")}),
        )
        return True

    @property
    def runs_here(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        with self._mutex:
            self._let_go()

    def _let_go(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            try:
                held.__exit__(None, None, None)
            except Exception:  # a lock whose session already broke: nothing is held any more
                log.debug("releasing the %s run lock failed", self.name, exc_info=True)


def stored_jobs(store: KeyValue) -> dict[str, Any]:
    """Who took each single-runner job last (readable by another process: ``orderdesk status``)."""
    names = json.loads(store.get_state(JOBS_STATE) or "[]")
    return {name: json.loads(store.get_state(f"{JOBS_STATE}.{name}") or "null") for name in names}


class Worker:
    """Calls ``fn`` now and then every ``interval_seconds`` in its own thread until stopped.

    An exception is logged and the worker carries on at the next interval: one bad poll must not end the poller.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[[], object],
        interval_seconds: float,
        on_run: Callable[[str, BaseException | None], None] | None = None,
        *,
        lease: JobLease | None = None,
    ) -> None:
        self.name = name
        self._fn = fn
        self._on_run = on_run
        self._interval = interval_seconds
        self.lease = lease
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orderdesk-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            error: BaseException | None = None
            ran = False
            try:
                if self.lease is None or self.lease.take():
                    ran = True
                    self._fn()
            except Exception as failure:
                error = failure
                log.exception("background worker %s failed; retrying in %ss", self.name, self._interval)
            if ran or error is not None:
                self._record(error)
            self._stopping.wait(self._interval)
        if self.lease is not None:
            self.lease.release()

    def _record(self, error: BaseException | None) -> None:
        if self._on_run is None:
            return
        try:
            self._on_run(self.name, error)
        except Exception:
            log.exception("could not record the run of background worker %s", self.name)

    def stop(self) -> None:
        """Lets a run in progress finish (it may be mid-transaction), then ends the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()


class Running:
    """A started bot: background workers, health sections, and an ordered :meth:`stop`."""

    def __init__(
        self, app: App, services: Services, close_frontend: Callable[[], None], work: Executor | None = None
    ) -> None:
        self.app = app
        self.services = services
        self._close_frontend = close_frontend
        self.work = work  # the listeners' work pool (None for a bare Bolt app): stopped with the bot
        self._workers: list[Worker] = []
        self._runs = WorkerRecorder(services.store)  # each worker's last run, for /order status
        self._statuses: dict[str, Status] = {}
        self._stopped = False

    def add_worker(
        self, name: str, fn: Callable[[], object], interval_seconds: float, *, one_runner: bool = True
    ) -> None:
        """Run ``fn`` now and every ``interval_seconds`` until :meth:`stop` (e.g. the poller, the sweeper).

        ``one_runner`` (the default): across every process sharing the database, only the holder of the job's
        run lock runs it (see :class:`JobLease`); ``False`` for work every replica does for itself.
        """
        lease = JobLease(self.services.store, name) if one_runner else None
        worker = Worker(name, fn, interval_seconds, self._runs, lease=lease)
        self._workers.append(worker)
        self._runs.started([w.name for w in self._workers])
        if lease is not None:
            names = sorted({w.name for w in self._workers if w.lease is not None})
            self.services.store.set_state(JOBS_STATE, json.dumps(names))
        worker.start()

    def jobs(self) -> dict[str, str]:
        """Each single-runner job of this process: ``running here``, or ``standby`` while another runner has it."""
        return {
            worker.name: "running here" if worker.lease.runs_here else "standby (another process runs it)"
            for worker in self._workers
            if worker.lease is not None
        }

    def add_status(self, name: str, fn: Status) -> None:
        """Add a section to ``/healthz`` (e.g. ``poller``: last poll, watermark, queue length, last error)."""
        self._statuses[name] = fn

    def statuses(self) -> dict[str, Any]:
        jobs = self.jobs()
        sections: dict[str, Any] = {"jobs": jobs} if jobs else {}
        for name, fn in self._statuses.items():
            try:
                sections[name] = dict(fn())
            except Exception:
                log.exception("health section %s failed", name)
                sections[name] = {"error": "status unavailable"}
        return sections

    def stop(self) -> None:
        """Stop taking requests, finish those in flight and the listener work they started, then the workers.

        The services stay open: whoever opened them closes them, after this returns.
        """
        if self._stopped:
            return
        self._stopped = True
        self._close_frontend()
        if self.work is not None:
            self.work.shutdown(wait=True)
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def attach_notifier(running: Running) -> Notifier | None:
    """Run the poller (when ``ORDERDESK_NOTIFY_CHANNEL`` is set) and report it in /healthz."""
    services = running.services
    settings = services.settings
    if not settings.notify_channel:
        return None
    if services.publisher is None:
        raise ValueError("the poller needs the services' publisher to announce into Slack")
    notifier = Notifier(settings, services.graph, services.store, services.publisher)
    running.add_status("poller", notifier.status)
    running.add_worker("poller", notifier.poll_in_service, settings.poll_seconds)
    return notifier


def attach_sweeper(running: Running) -> None:
    """Finishes acknowledgements a crash left pending, and retries those Meta did not answer: now, then every
    ``sweep_seconds``."""
    acks = running.services.acks
    if acks is not None:
        running.add_worker("ack-sweeper", acks.sweep, running.services.settings.sweep_seconds)


def attach_band_refresher(running: Running) -> None:
    """Redraws posted cards whose deadline band changed (later → soon → overdue): the poller's announcements and
    digests, and cards agents shared in channels, which exist without a notify channel too."""
    services = running.services
    if services.publisher is None:
        return
    bands = BandRefresher(services.store, services.publisher, services.settings.zone)
    running.add_worker("card-bands", bands.run_in_service, min(60, services.settings.poll_seconds))


def attach_reminders(running: Running) -> None:
    """Reminders that escalate, in the announcements' threads, when the poller posts announcements."""
    services = running.services
    settings = services.settings
    if not settings.notify_channel or services.publisher is None:
        return
    reminders = Reminders(settings, services.store, services.publisher)
    every = max(1, min(60, settings.remind_after_seconds // 4))
    running.add_worker("reminders", reminders.run_in_service, every)


def attach_daily_summary(running: Running) -> None:
    """The daily summary at ORDERDESK_SUMMARY_AT in the notify channel, when both are set."""
    services = running.services
    settings = services.settings
    if not settings.summary_at or not settings.notify_channel or services.publisher is None:
        return
    summary = DailySummary(settings, services.store, services.publisher)
    running.add_worker("daily-summary", summary.run_in_service, 30)


def attach_home_refresher(running: Running) -> None:
    """App Home redrawn for the users who opened it in the last day when the queue changes (at most once every
    few seconds each)."""
    services = running.services
    if services.publisher is None:
        return
    home = HomePublisher(services.settings, services.store, services.publisher.client)
    running.add_worker("app-home", home.refresh_in_service, HOME_EVERY_SECONDS)


def attach_action_sweeper(running: Running) -> None:
    """Finishes card actions (shipments, tracking updates, cancellations) a crash left pending, and re-sends those
    Meta did not answer: now, then every ``sweep_seconds``."""
    actions = running.services.order_actions
    if actions is not None:
        running.add_worker("action-sweeper", actions.sweep, running.services.settings.sweep_seconds)


def attach_approvals(running: Running) -> None:
    """Expires refund approval requests past ``ORDERDESK_APPROVAL_TTL`` (the request message is edited and the
    requester told) and sends approved refunds whose process died: now, then every ``sweep_seconds``."""
    approvals = running.services.approvals
    if approvals is not None:
        running.add_worker("approvals", approvals.work, running.services.settings.sweep_seconds)


BACKGROUND_JOBS: tuple[Callable[[Running], object], ...] = (
    attach_notifier,  # the new-order poller, when ORDERDESK_NOTIFY_CHANNEL is set
    attach_sweeper,
    attach_band_refresher,
    attach_reminders,
    attach_daily_summary,
    attach_home_refresher,
    attach_action_sweeper,
    attach_approvals,
)


def attach_workers(running: Running) -> None:
    """Start every background job of :data:`BACKGROUND_JOBS` on ``running``."""
    log.info("storage: %s", backend_name(running.services.settings))
    for attach in BACKGROUND_JOBS:
        attach(running)
