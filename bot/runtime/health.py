"""``/healthz``: whether the bot can work, in numbers for a load balancer and in words for a person.

The answer is 503 while the bot cannot work (its database gone or unreadable) or does not know yet whether Meta
answers (before the first Graph probe has finished). Meta being down is reported (``ok: false``, 200), not a
reason to restart us: a restart would not fix it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

from bot.graph.errors import GraphError
from bot.runtime.services import Services

log = logging.getLogger(__name__)

GRAPH_PROBE_MAX_AGE_SECONDS = 30.0


class GraphProbe:
    """Whether Meta's Graph API answers, for ``/healthz``, without making the health check wait for Meta.

    A check older than ``max_age`` starts a fresh one in the background and reports the last result meanwhile
    (``unknown`` before the first finishes, which keeps ``/healthz`` at 503: ready only once Meta was asked). The
    Graph API is only probed when someone asks, so tests that count Graph requests see none they did not cause,
    unless they call ``/healthz``.
    """

    def __init__(self, services: Services, max_age: float = GRAPH_PROBE_MAX_AGE_SECONDS) -> None:
        self._services = services
        self._max_age = max_age
        self._state = "unknown"
        self._checked_at = -max_age
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderdesk-graph-probe")

    def state(self) -> str:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._max_age:
                self._checked_at = time.monotonic()
                self._executor.submit(self._check)
            return self._state

    def _check(self) -> None:
        try:
            self._services.graph.get_page()
            state = "reachable"
        except GraphError as exc:
            # Meta answered with an error (a bad token, say): reachable; `orderdesk doctor` explains the rest.
            state = "unreachable" if exc.is_transient else "reachable"
        except Exception:
            # Anything else must still end the "unknown" that keeps /healthz at 503.
            log.exception("the Graph probe failed")
            state = "unreachable"
        with self._lock:
            self._state = state

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def health(services: Services, probe: GraphProbe, sections: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of ``/healthz``; ``sections`` are the workers' own (``poller``, ``work``)."""
    database_problem = services.store.health_problem()
    graph = probe.state()
    problems = [database_problem] if database_problem else []
    if graph == "unknown":
        problems.append("checking whether Meta's Graph API answers: no answer yet")
    elif graph == "unreachable":
        problems.append("Meta's Graph API does not answer")
    body: dict[str, Any] = {
        "ok": not problems,
        "version": version("orderdesk"),
        "database": database_problem is None,
        "graph": graph,
        **sections,
    }
    if problems:
        body["problems"] = problems
    return (503 if database_problem or graph == "unknown" else 200), body
