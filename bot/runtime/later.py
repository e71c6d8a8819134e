"""The work pool behind ``later`` (:mod:`bot.slack.later`): where listeners' slow parts run, after ``ack()``.

It carries each request's log fields to its work, counts what waits and what runs for ``/healthz``, and keeps a
lane of its own for what must start at once (``later.now``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from bot import logs
from bot.config import Settings
from bot.slack.later import Later

# Re-exported: listeners type their ``later`` parameter with it.
__all__ = ["InlineExecutor", "Later", "WorkPool", "urgent_lane", "work_pool", "work_threads"]

_T = TypeVar("_T")


def work_threads(settings: Settings) -> int:
    """Every listener's slow part may be waiting on Meta at once: several threads per server thread."""
    return settings.http_workers * 8


def work_pool(settings: Settings) -> WorkPool:
    """The pool for what listeners hand to ``later``; it carries each request's log fields to its work.

    Its lane for ``later.now`` has a thread per server thread: each lane job is one short Slack call started by a
    request, so the lane only queues when Slack itself is slow.
    """
    return WorkPool(
        max_workers=work_threads(settings), thread_name_prefix="orderdesk-work", urgent_workers=settings.http_workers
    )


class WorkPool(logs.ContextThreadPoolExecutor):
    """The work pool, counting what waits for a thread and what runs, for ``/healthz``.

    When every thread is busy (Meta slow, a burst of clicks) new work waits in memory: acks still go out at once,
    answers come later. ``queued`` growing is the on-call engineer's sign of it.
    """

    def __init__(self, max_workers: int, thread_name_prefix: str = "", *, urgent_workers: int = 2) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        # ``later.now``'s lane: work that must start at once, whatever waits in the pool (opening a modal).
        self.urgent = logs.ContextThreadPoolExecutor(
            max_workers=urgent_workers, thread_name_prefix=f"{thread_name_prefix or 'work'}-urgent"
        )
        self._counts_lock = threading.Lock()
        self._queued = 0
        self._running = 0

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        with self._counts_lock:
            self._queued += 1
        try:
            return super().submit(self._counted, fn, *args, **kwargs)
        except BaseException:
            with self._counts_lock:
                self._queued -= 1
            raise

    def _counted(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        with self._counts_lock:
            self._queued -= 1
            self._running += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._counts_lock:
                self._running -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self.urgent.shutdown(wait=wait, cancel_futures=cancel_futures)

    def status(self) -> dict[str, int]:
        """``{"threads": pool size, "busy": running now, "queued": waiting for a thread}``."""
        with self._counts_lock:
            return {"threads": self._max_workers, "busy": self._running, "queued": self._queued}


class InlineExecutor(Executor):
    """Runs submitted work at once, in the submitting thread: for unit tests that want every answer in the Slack
    sandbox by the time ``dispatch`` returns."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


def urgent_lane(work: Executor) -> Executor:
    """Where ``later.now`` runs work: the work pool's own lane, or ``work`` itself for a plain executor (tests)."""
    return work.urgent if isinstance(work, WorkPool) else work
