"""Slack's per-channel lanes: each channel's writes in order on their own thread, paced and waiting out 429s.

A lane (its own thread, never one of the listeners' work threads) makes at most one call per ``pace`` seconds and
waits out 429s for as long as ``Retry-After`` says. Other failures are retried with exponential backoff, up to the
job's attempts, then raised to the job as :class:`bot.notify.ports.NotifyError`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.notify.ports import NotifyError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # per Slack call, 429s not counted: those are waited out
BACKOFF_CAP_SECONDS = 30.0

Send = Callable[..., Any]
Job = Callable[[Send], object]
OnError = Callable[[str], None]
# A queued job: the job, its future, where its failures go, its attempts per call, and whether it is urgent.
_Queued = tuple[Job, Future[object], OnError, int, bool]


def ignore(_: str) -> None:
    pass


def call(method: str, send: Send, **kwargs: Any) -> object:
    """A lane job of one call (``partial(call, "chat_update", channel=..., ...)``)."""
    return send(method, **kwargs)


class Lane:
    """One channel's outbound queue: jobs run in order on this lane's thread, each Slack call paced and retried.

    An ``urgent`` job (a card a person is looking at) runs before the queued ones and is not held back by the pace,
    only by a ``Retry-After`` or a backoff; its calls still count towards the pace of the calls after it.
    """

    def __init__(self, client: WebClient, channel: str, pace: float, sleep: Callable[[float], None]) -> None:
        self._client = client
        self._pace = pace
        self._sleep = sleep
        self._next_call = 0.0  # the pace: no paced call before this
        self._hold_until = 0.0  # Retry-After or backoff: no call at all before this
        self._on_error: OnError = ignore
        self._attempts = MAX_ATTEMPTS
        self._urgent = False
        self._order = itertools.count()
        self._jobs: queue.PriorityQueue[tuple[int, int, _Queued | None]] = queue.PriorityQueue()
        self._thread = threading.Thread(target=self._run, name=f"orderdesk-lane-{channel}", daemon=True)
        self._thread.start()

    def submit(
        self, job: Job, on_error: OnError = ignore, attempts: int = MAX_ATTEMPTS, *, urgent: bool = False
    ) -> Future[object]:
        """Queue ``job``; each failed call is reported to ``on_error``, and a call fails after ``attempts``."""
        future: Future[object] = Future()
        self._jobs.put((0 if urgent else 1, next(self._order), (job, future, on_error, attempts, urgent)))
        return future

    def __len__(self) -> int:
        return self._jobs.qsize()

    def close(self) -> None:
        """Finish the queued jobs, then end the thread."""
        self._jobs.put((2, next(self._order), None))
        self._thread.join()

    def _run(self) -> None:
        while (item := self._jobs.get()[2]) is not None:
            job, future, self._on_error, self._attempts, self._urgent = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job(self.send))
                except Exception as exc:
                    future.set_exception(exc)

    def send(self, method: str, **kwargs: Any) -> Any:
        """One Web API call (``chat_postMessage``, ...), at most one per ``pace`` seconds on this lane.

        A 429 waits ``Retry-After`` and tries again, without counting as an attempt; other failures back off
        exponentially, up to the job's attempts, then raise :class:`NotifyError` to the job.
        """
        attempt = 0
        while True:
            start = self._hold_until if self._urgent else max(self._next_call, self._hold_until)
            self._sleep(max(0.0, start - time.monotonic()))
            self._hold_until = 0.0  # waited out
            self._next_call = time.monotonic() + self._pace
            try:
                return getattr(self._client, method)(**kwargs)
            except SlackApiError as error:
                if error.response.status_code == 429:
                    wait = _retry_after(error.response.headers)
                    log.warning("slack %s rate limited; waiting %.0fs as Retry-After says", method, wait)
                    self._next_call = self._hold_until = time.monotonic() + wait
                    continue
                failure = f"slack {method} failed: {error.response.get('error')}"
            except (SlackClientError, OSError) as error:
                failure = f"slack {method} failed: {type(error).__name__}: {error}"
            attempt += 1
            self._on_error(failure)
            if attempt >= self._attempts:
                raise NotifyError(failure)
            wait = min(BACKOFF_CAP_SECONDS, 2.0 ** (attempt - 1))
            log.warning("%s (attempt %d); retrying in %.0fs", failure, attempt, wait)
            self._next_call = self._hold_until = time.monotonic() + wait


def _retry_after(headers: Mapping[str, Any]) -> float:
    values = [v for k, v in headers.items() if k.lower() == "retry-after"]
    try:
        return max(0.0, float(values[0] if values else 1))
    except ValueError:
        return 1.0


class Lanes:
    """One lane per channel, created on first use; closing waits for every queued job."""

    def __init__(self, client: WebClient, pace: float, sleep: Callable[[float], None]) -> None:
        self._client, self._pace, self._sleep = client, pace, sleep
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()

    def submit(
        self, channel: str, job: Job, on_error: OnError = ignore, attempts: int = MAX_ATTEMPTS, *, urgent: bool = False
    ) -> Future[object]:
        with self._lock:
            lane = self._lanes.get(channel)
            if lane is None:
                lane = self._lanes[channel] = Lane(self._client, channel, self._pace, self._sleep)
        return lane.submit(job, on_error, attempts, urgent=urgent)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(lane) for lane in self._lanes.values())

    def close(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.close()
