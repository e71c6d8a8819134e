"""``later``: how a listener hands its slow part to a pool of its own, after ``ack()``.

Listeners run in the request's thread (Bolt's ``process_before_response=True``) and return as soon as they have
called ``ack()`` and handed the rest to ``later``: the HTTP answer, which is the ack, leaves when the listener
returns. The slow part (Meta, sqlite, answers through the response URL) runs in the work pool
(:mod:`bot.runtime.later`, which the runtime builds and hands to each request's ``Later``).

Why not Bolt's own ways. Its default runs the whole listener in its pool while the request thread polls every
10 ms for the ack: each ack then waits for a pool thread to wake up and get the GIL, which under load took
seconds (the load benchmark measured 0.3 to 1.6 s between handing the listener over and its first line). Its lazy
listeners deep-copy each request (our services with it) and log a failure instead of telling the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import BoltContext

log = logging.getLogger(__name__)

OnError = Callable[..., object]
Admit = Callable[[BoltContext], bool]


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
