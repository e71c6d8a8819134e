"""The integration's health for whoever is on call: what ``/order status`` and ``orderdesk status`` show.

Everything here is read from the database, so another process (``orderdesk status`` beside ``serve``) sees the
same: the poller's last successful poll and its lag, its last error, the queue of unfinished announcements and
the backlog of waiting orders, Meta's rate-limit headroom from the last ``X-Business-Use-Case-Usage`` header the
Graph client saw (:class:`UsageRecorder`), and each background worker's last run (:class:`WorkerRecorder`).
Pure of Slack: :func:`status_lines` gives the words both surfaces print.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.domain.deadlines import span_words
from bot.notify.poller import stored_status
from bot.notify.queue import waiting_orders
from bot.storage.ports import KeyValue, Storage

log = logging.getLogger(__name__)

USAGE = "graph.usage"
SCOPES = "token.scopes"  # {"slack": words, "meta": words, "at": unix seconds}: both tokens' scopes, as last asked
_NOT_ASKED = "not asked yet (`/order status` asks Slack and Meta)"
SCOPES_MAX_AGE = 600.0  # seconds: the tokens' scopes are asked again at most this often
WORKER_PREFIX = "worker."
WORKER_NAMES = "workers"
USAGE_WRITE_EVERY = 60.0  # seconds: an unchanged usage is written at most this often


def parse_usage(header: str) -> dict[str, Any] | None:
    """Meta's ``X-Business-Use-Case-Usage`` as ``{"used": %, "regain_minutes": n}``: the highest of the call count,
    CPU time and total time percentages over every business object and type (throttling starts at 100)."""
    try:
        data = json.loads(header)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    used, regain = 0.0, 0.0
    for entries in data.values():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            for name in ("call_count", "total_cputime", "total_time"):
                value = entry.get(name)
                if isinstance(value, int | float):
                    used = max(used, float(value))
            wait = entry.get("estimated_time_to_regain_access")
            if isinstance(wait, int | float):
                regain = max(regain, float(wait))
    return {"used": used, "regain_minutes": regain}


class UsageRecorder:
    """The Graph client's ``on_usage``: keeps the last usage in the key/value store, written when it changes and
    otherwise at most once a minute, so a busy poller does not write on every call."""

    def __init__(self, store: KeyValue, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[dict[str, Any], float] | None = None

    def __call__(self, header: str) -> None:
        usage = parse_usage(header)
        if usage is None:
            return
        now = self._clock()
        with self._lock:
            if self._last is not None and self._last[0] == usage and now - self._last[1] < USAGE_WRITE_EVERY:
                return
            self._last = (usage, now)
        self._store.set_state(USAGE, json.dumps({**usage, "at": now}))


class WorkerRecorder:
    """Records each background worker's last run (when, and its error if it failed) for ``/order status``."""

    def __init__(self, store: KeyValue, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def started(self, names: list[str]) -> None:
        self._store.set_state(WORKER_NAMES, json.dumps(sorted(set(names))))

    def __call__(self, name: str, error: BaseException | None) -> None:
        record: dict[str, Any] = {"at": self._clock(), "ok": error is None}
        if error is not None:
            record["error"] = f"{type(error).__name__}: {error}"[:300]
        self._store.set_state(WORKER_PREFIX + name, json.dumps(record))


@dataclass(frozen=True)
class Health:
    """What the on-call lead reads, as values (see :func:`status_lines` for the words)."""

    now: float
    poller: Mapping[str, Any]
    usage: Mapping[str, Any] | None
    workers: dict[str, Mapping[str, Any] | None]
    waiting: int
    overdue: int
    queued: int | None  # Slack writes queued in this process (None: not known to a separate process)
    scopes: Mapping[str, Any] | None = None  # as :func:`refresh_scopes` last kept them
    zone: tzinfo = UTC  # ORDERDESK_TIMEZONE: where times are said


def _loads(value: str | None) -> Any:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def health(store: Storage, *, now: float, zone: tzinfo, queued: int | None = None) -> Health:
    waiting = waiting_orders(store, now, zone)
    names = _loads(store.get_state(WORKER_NAMES)) or []
    return Health(
        now=now,
        poller=stored_status(store),
        usage=_loads(store.get_state(USAGE)),
        workers={str(name): _loads(store.get_state(WORKER_PREFIX + str(name))) for name in names},
        waiting=len(waiting),
        overdue=sum(1 for entry in waiting if entry.clock is not None and entry.clock.band == "overdue"),
        queued=queued,
        scopes=_loads(store.get_state(SCOPES)),
        zone=zone,
    )


def refresh_scopes(
    store: KeyValue, *, now: float, slack: Callable[[], str], meta: Callable[[], str], max_age: float = SCOPES_MAX_AGE
) -> None:
    """Ask for both tokens' scopes (``slack`` and ``meta`` answer in words, failures included) unless they were
    asked less than ``max_age`` ago, and keep the answers: ``/order status`` and ``orderdesk status`` then print
    the same, and neither asks Slack and Meta on every call."""
    kept = _loads(store.get_state(SCOPES))
    if isinstance(kept, Mapping) and isinstance(kept.get("at"), int | float) and now - float(kept["at"]) < max_age:
        return
    store.set_state(SCOPES, json.dumps({"slack": slack(), "meta": meta(), "at": now}))


def meta_scopes(permissions: Mapping[str, Any]) -> str:
    """The granted permissions of a ``GET /me/permissions`` answer, in words."""
    data = permissions.get("data")
    granted = sorted(
        str(entry.get("permission"))
        for entry in (data if isinstance(data, list) else [])
        if isinstance(entry, Mapping) and entry.get("status") == "granted" and entry.get("permission")
    )
    return ", ".join(granted) or "none granted"


def _ago(now: float, then: float) -> str:
    return "just now" if now - then < 60 else f"{span_words(now - then)} ago"


def _at(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _error_words(error: Mapping[str, Any], now: float, zone: tzinfo) -> str:
    """``<what failed> (2 h ago, Tue 01 Dec 09:14 CET)``: when, in words and in the shop's time zone."""
    at = _at(error.get("at"))
    when = f" ({_ago(now, at)}, {datetime.fromtimestamp(at, zone):%a %d %b %H:%M %Z})" if at is not None else ""
    return f"{error.get('error')}{when}"


def status_lines(state: Health, *, poll_seconds: int) -> list[tuple[str, str]]:
    """``(label, words)`` pairs, the same for Slack and the terminal; no ids, tokens or buyer data."""
    now, poller = state.now, state.poller
    last_poll = _at(poller.get("last_successful_poll"))
    if last_poll is None:
        poll = "never (is orderdesk serve running with ORDERDESK_NOTIFY_CHANNEL set?)"
    else:
        late = now - last_poll > 3 * poll_seconds + 60
        poll = _ago(now, last_poll) + (f": late, polls are due every {span_words(poll_seconds)}" if late else "")
    watermark = _at(poller.get("watermark"))
    lag = f"orders changed up to {_ago(now, watermark)} are handled" if watermark is not None else "no watermark yet"
    error = poller.get("last_error")
    errors = _error_words(error, now, state.zone) if isinstance(error, Mapping) else "none"
    queue = f"{poller.get('unfinished', 0)} announcements claimed, not yet posted"
    if state.queued is not None:
        queue += f"; {state.queued} Slack writes queued"
    usage = state.usage
    if usage is None:
        headroom = "not known yet (no answer from Meta recorded)"
    else:
        used = float(usage.get("used", 0))
        headroom = f"{max(0.0, 100 - used):.0f}% left of Meta's rate limit (as of {_ago(now, float(usage['at']))})"
        if used >= 100:
            headroom = f"throttled by Meta: access back in about {usage.get('regain_minutes', 0):.0f} min"
    workers = []
    for name, record in sorted(state.workers.items()):
        if not isinstance(record, Mapping):
            workers.append(f"{name}: not run yet")
        elif record.get("ok"):
            workers.append(f"{name}: ran {_ago(now, float(record['at']))}")
        else:
            workers.append(f"{name}: failed {_ago(now, float(record['at']))}: {record.get('error')}")
    scopes = state.scopes if isinstance(state.scopes, Mapping) else {}
    asked = f" (as of {_ago(now, float(scopes['at']))})" if isinstance(scopes.get("at"), int | float) else ""
    return [
        ("Last successful poll", poll),
        ("Poll lag", lag),
        ("Queue", queue),
        ("Backlog", f"{state.waiting} orders awaiting acknowledgement or shipment, {state.overdue} overdue"),
        ("Last error", errors),
        ("Meta rate limit", headroom),
        ("Workers", "; ".join(workers) or "none recorded (orderdesk serve not started?)"),
        ("Slack token scopes", f"{scopes['slack']}{asked}" if scopes.get("slack") else _NOT_ASKED),
        ("Meta Page token scopes", f"{scopes['meta']}{asked}" if scopes.get("meta") else _NOT_ASKED),
    ]
