"""The background work of a running bot, and the registry that starts it.

:class:`Running` is a started bot whichever way it serves (Socket Mode, HTTP, the demo): it owns the background
workers and the ``/healthz`` sections they add, and stops everything in order. :data:`BACKGROUND_JOBS` lists what
every way of running starts, so none of them can forget one: a new background job is one function that takes the
:class:`Running` and adds its worker (and status, if it has one), listed there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, Self

from slack_bolt import App

from bot.notify.bands import BandRefresher
from bot.notify.health import WorkerRecorder
from bot.notify.poller import Notifier
from bot.notify.reminders import Reminders
from bot.notify.summary import DailySummary
from bot.runtime.services import Services
from bot.slack.home import HOME_EVERY_SECONDS, HomePublisher

log = logging.getLogger(__name__)

Status = Callable[[], Mapping[str, Any]]


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
    ) -> None:
        self.name = name
        self._fn = fn
        self._on_run = on_run
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orderdesk-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            error: BaseException | None = None
            try:
                self._fn()
            except Exception as failure:
                error = failure
                log.exception("background worker %s failed; retrying in %ss", self.name, self._interval)
            self._record(error)
            self._stopping.wait(self._interval)

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

    def add_worker(self, name: str, fn: Callable[[], object], interval_seconds: float) -> None:
        """Run ``fn`` now and every ``interval_seconds`` until :meth:`stop` (e.g. the poller, the sweeper)."""
        worker = Worker(name, fn, interval_seconds, self._runs)
        self._workers.append(worker)
        self._runs.started([w.name for w in self._workers])
        worker.start()

    def add_status(self, name: str, fn: Status) -> None:
        """Add a section to ``/healthz`` (e.g. ``poller``: last poll, watermark, queue length, last error)."""
        self._statuses[name] = fn

    def statuses(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
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
    """Redraws posted cards whose deadline band changed (later → soon → overdue), when the poller posts cards."""
    services = running.services
    if not services.settings.notify_channel or services.publisher is None:
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


BACKGROUND_JOBS: tuple[Callable[[Running], object], ...] = (
    attach_notifier,  # the new-order poller, when ORDERDESK_NOTIFY_CHANNEL is set
    attach_sweeper,
    attach_band_refresher,
    attach_reminders,
    attach_daily_summary,
    attach_home_refresher,
)


def attach_workers(running: Running) -> None:
    """Start every background job of :data:`BACKGROUND_JOBS` on ``running``."""
    for attach in BACKGROUND_JOBS:
        attach(running)
