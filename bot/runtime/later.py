"""``later``: how a listener hands its slow part to a pool of its own, after ``ack()``.

Listeners run in the request's thread (Bolt's ``process_before_response=True``) and return as soon as they have
called ``ack()`` and handed the rest to ``later``: the HTTP answer, which is the ack, leaves when the listener
returns. The slow part (Meta, sqlite, answers through the response URL) runs in the work pool.

Why not Bolt's own ways. Its default runs the whole listener in its pool while the request thread polls every
10 ms for the ack: each ack then waits for a pool thread to wake up and get the GIL, which under load took
seconds (the load benchmark measured 0.3 to 1.6 s between handing the listener over and its first line). Its lazy
listeners deep-copy each request (our services with it) and log a failure instead of telling the user.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from slack_bolt import BoltContext

from bot import logs
from bot.config import Settings

_T = TypeVar("_T")

log = logging.getLogger(__name__)

OnError = Callable[..., object]
Admit = Callable[[BoltContext], bool]


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


class Later:
    """``later(fn, *args, **kwargs)``: run ``fn`` in the work pool, after the listener's ``ack()`` went out.
    ``later.now(fn, ...)``: the same in a lane of its own that never waits behind the pool's slow work, for what
    Slack lets expire (a ``trigger_id`` is good for 3 seconds after the click: ``views.open`` goes there).

    A failure there ends where a listener's own failure does, in the app's error handler (``on_error``): logged
    with a reference, and the user told that reference, never left without an answer. ``admit``, when given,
    runs first in the work thread and may refuse the request (it tells the user why); then nothing runs.
    """

    def __init__(
        self,
        work: Executor,
        context: BoltContext,
        on_error: OnError,
        *,
        urgent: Executor | None = None,
        admit: Admit | None = None,
    ) -> None:
        self._work = work
        self._urgent = urgent or work
        self._context = context
        self._on_error = on_error
        self._admit = admit

    def __call__(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        self._work.submit(self._run, fn, *args, **kwargs)

    def now(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` at once in the urgent lane: only short calls there (one Slack call), or the lane fills up."""
        self._urgent.submit(self._run, fn, *args, **kwargs)

    def _run(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        try:
            if self._admit is not None and not self._admit(self._context):
                return
            fn(*args, **kwargs)
        except Exception as error:
            context = self._context
            try:
                self._on_error(error, context, context.respond, context.client, None)
            except Exception:
                # A future nobody reads would swallow this: the log is the last place it can go.
                log.exception("the error handler failed on a listener's work")
