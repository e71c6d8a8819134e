"""What a failed Graph call is: typed :class:`GraphError` subclasses, and the mapping from Graph's error envelopes
to them.

The layers above decide on *kinds* of failure (token, permission, not found, rate limit, order state, idempotency
conflict, transient) instead of parsing envelopes, and only this module knows Meta's numbers. What a kind of
failure means to a person is said elsewhere, once, by whoever shows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx


class GraphError(Exception):
    """A failed Graph call, with the envelope's fields; ``status`` is 0 when no HTTP response arrived.

    The text never contains the access token: the client scrubs every message before building the error.
    """

    is_transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: int | None = None,
        subcode: int | None = None,
        type: str | None = None,
        fbtrace_id: str | None = None,
        user_message: str | None = None,
    ) -> None:
        details = ", ".join(
            f"{name} {value}"
            for name, value in (("HTTP", status), ("code", code), ("subcode", subcode), ("fbtrace_id", fbtrace_id))
            if value is not None
        )
        super().__init__(f"{message} ({details})")
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.type = type
        self.fbtrace_id = fbtrace_id
        self.user_message = user_message  # Meta's error_user_msg: written for people, fit to show in Slack

    @property
    def commerce_code(self) -> int | None:
        """Meta's commerce order-management number (2361009, 1818xxx, 2382045, ...) if the error carries one.

        Meta's error-code page calls these numbers "Code", Meta's Magento plugin reads them from ``error_subcode``
        and its WooCommerce plugin from ``code``: the subcode is taken first, then the code. The sandbox's own
        idempotency-conflict subcode is not one of Meta's numbers.
        """
        for number in (self.subcode, self.code):
            if number is not None and _COMMERCE_LOW <= number <= _COMMERCE_HIGH and number != _SANDBOX_CONFLICT_SUBCODE:
                return number
        return None


class InvalidTokenError(GraphError):
    """The Page token is expired, revoked or wrong (190, 102): someone must issue a new one."""


class GraphPermissionError(GraphError):
    """The token lacks a permission or Page role (10, 200-299): fix the app's setup, retrying cannot help."""


class NotFoundError(GraphError):
    """The object does not exist or is not visible to this token (100 with subcode 33, 803)."""


class RateLimitedError(GraphError):
    """Throttled (4, 17, 32, 613, 80001, 80004). ``retry_after_seconds`` is Meta's estimate, when it gives one."""

    is_transient = True

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after_seconds = retry_after_seconds


class OrderStateError(GraphError):
    """The order's state forbids the operation (2361009, the 1818xxx family): read the order, do not retry."""


class IdempotencyConflictError(GraphError):
    """The idempotency key was already used for a *different* request: a bug or a forged click, never retried."""


class TransientError(GraphError):
    """Meta or the network failed for now (1, 2, 2361081, 2361050, HTTP 5xx, timeouts, dropped connections)."""

    is_transient = True


_TOKEN_CODES = frozenset({190, 102})
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80004})
_TRANSIENT_CODES = frozenset({1, 2})
_TRANSIENT_COMMERCE = frozenset({2361081, 2361050})
_COMMERCE_LOW, _COMMERCE_HIGH = 1_000_000, 9_999_999  # Meta's commerce numbers have seven digits
_SANDBOX_CONFLICT_SUBCODE = 9000001  # the sandbox's own number: Meta documents no code for a reused key
_CONFLICT_WORDING = re.compile(r"idempotency.key.*differ|differ.*idempotency.key", re.IGNORECASE | re.DOTALL)


def _error_class(
    status: int, code: int | None, subcode: int | None, message: str, is_transient: bool
) -> type[GraphError]:
    """Pick the subclass for an envelope. Commerce numbers may sit in ``code`` or ``error_subcode``: check both."""
    numbers = {n for n in (code, subcode) if n is not None}
    if subcode == _SANDBOX_CONFLICT_SUBCODE or _CONFLICT_WORDING.search(message):
        return IdempotencyConflictError
    if code in _TOKEN_CODES:
        return InvalidTokenError
    if code in _RATE_LIMIT_CODES or status == 429:
        return RateLimitedError
    if code is not None and (code == 10 or 200 <= code <= 299):
        return GraphPermissionError
    if (code == 100 and subcode == 33) or code == 803:
        return NotFoundError
    if any(n == 2361009 or 1818000 <= n <= 1818999 for n in numbers):
        return OrderStateError
    if code in _TRANSIENT_CODES or numbers & _TRANSIENT_COMMERCE or status >= 500 or is_transient:
        return TransientError
    return GraphError


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds until Meta lets us call again, from ``X-Business-Use-Case-Usage`` (or ``X-App-Usage``).

    The BUC header maps each business object to a list of usages, ``X-App-Usage`` is one flat usage; the longest
    ``estimated_time_to_regain_access`` (minutes) wins. 0 or none means "unknown": the caller backs off by itself.
    """
    minutes = 0.0
    for name in ("x-business-use-case-usage", "x-app-usage"):
        try:
            usage = json.loads(headers.get(name) or "{}")
        except ValueError:
            continue
        if not isinstance(usage, dict):
            continue
        for entry in [usage, *(e for value in usage.values() if isinstance(value, list) for e in value)]:
            estimate = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
            if isinstance(estimate, int | float):
                minutes = max(minutes, float(estimate))
    return minutes * 60 if minutes > 0 else None


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def error_from_response(response: httpx.Response, body: object, scrub: Callable[[str], str]) -> GraphError:
    """The typed error for a failed answer; ``body`` is its parsed JSON (None when it was not JSON), ``scrub``
    removes the access token from Meta's message before the error carries it anywhere."""
    envelope = body.get("error") if isinstance(body, dict) else None
    if not isinstance(envelope, dict):
        envelope = {"message": f"HTTP {response.status_code} {response.reason_phrase} without a Graph error"}
    message = scrub(str(envelope.get("message") or "Graph error without a message"))
    code, subcode = _optional_int(envelope.get("code")), _optional_int(envelope.get("error_subcode"))
    kind = _error_class(response.status_code, code, subcode, message, envelope.get("is_transient") is True)
    fields: dict[str, Any] = {
        "status": response.status_code,
        "code": code,
        "subcode": subcode,
        "type": _optional_str(envelope.get("type")),
        "fbtrace_id": _optional_str(envelope.get("fbtrace_id")),
        "user_message": _optional_str(envelope.get("error_user_msg")),
    }
    if kind is RateLimitedError:
        return RateLimitedError(message, retry_after_seconds=_retry_after(response.headers), **fields)
    return kind(message, **fields)
