"""Structured logging: one line per event, ``key=value`` fields, the request's fields attached, never a token.

Why this shape:

* **One line per event** (tracebacks included, newlines escaped) so a log shipper never splits an event and
  ``grep order_id=123`` finds everything about one order.
* **Request fields are bound, not repeated.** Bolt's middleware binds ``request_id``, ``team``, ``user`` and
  ``channel`` once per request (:func:`start_request`); services add ``order_id``, ``idempotency_key`` or
  ``fbtrace_id`` with :func:`bound`. Every log line written while they are bound carries them, including Bolt's
  and slack_sdk's own lines. Listeners hand their slow part to a thread pool (``bot.runtime.later``), and a thread
  does not
  inherit the submitting thread's context variables, so that pool is a :class:`ContextThreadPoolExecutor`, which
  carries them across.
* **Secrets are scrubbed at the last moment**, in the formatter, whatever code produced the line: every Slack
  and Meta token shape, plus the exact secrets handed to :func:`configure_logging`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, ParamSpec, TextIO, TypeVar

# Fields a caller may pass through ``extra=`` and that the formatter prints, in this order, after the bound ones.
FIELDS = ("request_id", "team", "user", "channel", "order_id", "idempotency_key", "fbtrace_id", "reference")

# Pairs rather than a dict: a context variable's default must be immutable, it is shared by every context.
_bound: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar("orderdesk_log_fields", default=())

# Slack bot/user/app tokens and Meta access tokens (they start with EAA); the signing secret has no shape, so it
# is scrubbed by value.
_TOKEN_SHAPES = re.compile(r"\b(?:xox[abprse]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|EAA[A-Za-z0-9]{16,})")
_REDACTED = "[redacted]"
_BARE = re.compile(r"^[\w.:/@+-]+$")

_P = ParamSpec("_P")
_T = TypeVar("_T")


def start_request(**fields: str | None) -> None:
    """Bind exactly these fields for the current request, dropping whatever the previous request bound."""
    _bound.set(tuple((k, v) for k, v in fields.items() if v))


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Add fields to every log line written inside the block (and in work handed from it to the work pool)."""
    merged = {**dict(_bound.get()), **{k: v for k, v in fields.items() if v}}
    token = _bound.set(tuple(merged.items()))
    try:
        yield
    finally:
        _bound.reset(token)


def bound_fields() -> dict[str, str]:
    """The fields bound right now."""
    return dict(_bound.get())


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context, so bound log fields follow them."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        return super().submit(partial(contextvars.copy_context().run, fn, *args, **kwargs))


def _quote(value: object) -> str:
    text = str(value)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…" request_id=… …`` on one line, secrets removed."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **dict(_bound.get()),
        }
        fields.update({name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None})
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.redact(" ".join(f"{key}={_quote(value)}" for key, value in fields.items()))

    def redact(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, _REDACTED)
        return _TOKEN_SHAPES.sub(_REDACTED, line)


BOLT_VERIFICATION_LOGGER = "slack_bolt.RequestVerification"


class _WithoutRequestBody(logging.Filter):
    """Bolt's request verification logs each refused request with its whole body at INFO: response URLs, trigger
    ids, message text with a buyer's email and street. That logger says nothing else, so every record of it keeps
    its level and loses its words, whatever Bolt's wording."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "Bolt refused a request: invalid Slack signature (the request is not logged)"
        record.args = None
        record.exc_info = record.exc_text = None
        return True


_WITHOUT_REQUEST_BODY = _WithoutRequestBody()


def drop_bolt_request_dumps() -> None:
    """Keep request bodies out of Bolt's verification log lines, in every process that builds a Bolt app (the
    HTTP router refuses unsigned requests before Bolt sees them; this covers in-process dispatch). Idempotent."""
    logging.getLogger(BOLT_VERIFICATION_LOGGER).addFilter(_WITHOUT_REQUEST_BODY)


def configure_logging(level: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records through one :class:`KeyValueFormatter` handler on the root logger.

    Replaces a handler installed by an earlier call instead of adding a second one (the demo and tests call this
    more than once per process). Returns the handler so a test can remove it again.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "orderdesk", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter(secrets))
    handler.orderdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # slack_sdk's DEBUG lines dump whole request bodies (a contact reveal holds the buyer's email and address) and
    # response URLs, which act as credentials: never below INFO, whatever level the bot's own lines use.
    logging.getLogger("slack_sdk").setLevel(max(root.level, logging.INFO))
    return handler
