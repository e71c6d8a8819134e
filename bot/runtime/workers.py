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

from bot.notify.poller import Notifier
from bot.runtime.services import Services

log = logging.getLogger(__name__)

Status = Callable[[], Mapping[str, Any]]


class Worker:
    """Calls ``fn`` now and then every ``interval_seconds`` in its own thread until stopped.

    An exception is logged and the worker carries on at the next interval: one bad poll must not end the poller.
    """

    def __init__(self, name: str, fn: Callable[[], object], interval_seconds: float) -> None:
        self.name = name
        self._fn = fn
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orderdesk-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._fn()
            except Exception:
                log.exception("background worker %s failed; retrying in %ss", self.name, self._interval)
            self._stopping.wait(self._interval)

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
        self._statuses: dict[str, Status] = {}
        self._stopped = False

    def add_worker(self, name: str, fn: Callable[[], object], interval_seconds: float) -> None:
        """Run ``fn`` now and every ``interval_seconds`` until :meth:`stop` (e.g. the poller, the sweeper)."""
        worker = Worker(name, fn, interval_seconds)
        self._workers.append(worker)
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
    attach_action_sweeper,
    attach_approvals,
)


def attach_workers(running: Running) -> None:
    """Start every background job of :data:`BACKGROUND_JOBS` on ``running``."""
    for attach in BACKGROUND_JOBS:
        attach(running)
