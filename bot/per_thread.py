"""One resource per thread: what the store (sqlite connections) and the Graph client (httpx clients) both need.

A sqlite connection must not be shared by threads that write at once, and httpcore's shared pool does not scale to
the work pool's threads (see ``bot.graph.client.ThreadClients``); so each thread gets its own, made on its first use.
Threads come and go (the work pool's, tests', the workers'), so what an ended thread left behind is closed when
the next one is made, and everything is closed with the owner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class _Closeable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closeable)


class PerThread(Generic[T]):
    """``get()`` returns the calling thread's ``T``, made by ``factory`` the first time; thread-safe.

    After :meth:`close`, ``get()`` raises ``RuntimeError("<what> is closed")`` in every thread.
    """

    def __init__(self, factory: Callable[[], T], what: str) -> None:
        self._factory = factory
        self._what = what
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: dict[threading.Thread, T] = {}
        self._closed = False

    def get(self) -> T:
        if self._closed:
            raise RuntimeError(f"{self._what} is closed")
        made: T | None = getattr(self._local, "made", None)
        if made is None:
            made = self._local.made = self._new()
        return made

    def _new(self) -> T:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._what} is closed")
            for thread in [t for t in self._made if not t.is_alive()]:
                self._made.pop(thread).close()
            made = self._made[threading.current_thread()] = self._factory()
            return made

    def close(self) -> None:
        """Close what every thread made, from whichever thread; later ``get()`` calls raise."""
        with self._lock:
            self._closed = True
            for made in self._made.values():
                made.close()
            self._made.clear()
