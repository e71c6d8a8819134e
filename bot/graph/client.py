"""The Graph API client: every call orderdesk makes to Meta's Order Management API goes through here.

It runs on an injected ``httpx.Client`` (tests pass a transport, production builds one pooled client with
:meth:`GraphClient.from_settings`) and turns Graph's answers into plain dicts or typed :class:`GraphError`
subclasses, so the layers above decide on *kinds* of failure (token, permission, not found, rate limit, order
state, idempotency conflict, transient) instead of parsing envelopes.

Choices worth knowing:

- The Page token travels only in the ``Authorization: Bearer`` header. Graph also accepts it as an ``access_token``
  parameter (the SDK's habit), but then it lands in URLs, access logs and error messages. Anything the client
  turns into text (errors, log lines) is scrubbed of it anyway.
- POST parameters go as a form body with nested values JSON-encoded, the encoding of Graph's own SDKs and of Meta's
  Magento plugin; it is Graph's native input format and needs no content negotiation. ``json.dumps`` with sorted
  keys makes the body a pure function of the parameters, so a request replayed from the ledger is byte-identical.
- GET list parameters (``state``, ``filters``, ``fields``) are comma-separated, as Meta's reference writes them.
- Retries cover only transient failures and rate limits, with exponential backoff and full jitter, bounded in
  count and in total time. The request is built once and sent again as is: a retried POST carries the same
  ``idempotency_key`` and the same bytes, so Meta treats it as the same request, never a new one.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from bot.config import DEFAULT_GRAPH_VERSION, Settings
from bot.runtime.per_thread import PerThread

log = logging.getLogger(__name__)

MAX_BATCH_ACK = 100
"""Meta's limit on orders in one ``acknowledge_orders`` call."""

ORDER_CARD_FIELDS = ",".join(
    (
        "id",
        "order_status",
        "created",
        "last_updated",
        "channel",
        "merchant_order_id",
        "ship_by_date",
        "buyer_details{name,email,email_remarketing_option,phone_number}",
        "shipping_address{name,street1,street2,city,state,postal_code,country}",
        "estimated_payment_details",
        "selected_shipping_option",
        "items.limit(100){id,retailer_id,product_id,product_name,quantity,price_per_unit}",
        "shipments{id,tracking_info,items}",
        "cancellations{id,cancel_reason,items}",
        "refunds{id,refund_reason,refund_amount,items}",
    )
)
"""Everything an order card shows, with the edges expanded inline, so one card costs one Graph request.

Nested edges come back a page at a time (25 rows by default); ``items.limit(100)`` covers all but the largest
orders in that one request, and the card says "100+" when the edge still has a next page."""

_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 30.0
_ID = re.compile(r"[A-Za-z0-9_-]+")


# --- errors --------------------------------------------------------------------------------------------------


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


# --- the client ----------------------------------------------------------------------------------------------


class ThreadClients(PerThread[httpx.Client]):
    """One ``httpx.Client`` per thread, made by ``factory`` on the thread's first request; thread-safe.

    Why not one client shared by every thread: httpcore 1.0.9's pool rescans all its connections on every request
    and release, quadratically (encode/httpcore#1035, unfixed upstream), and can close a connection it has just
    handed to a waiting thread (encode/httpcore#1110). With the work pool's 128 threads sharing one pool, that
    bookkeeping took a third of the bot's CPU in the load benchmark. Each thread makes one call at a time, so its
    own pool stays at one connection.
    """

    def __init__(self, factory: Callable[[], httpx.Client], base_url: str) -> None:
        super().__init__(factory, "the Graph client")
        self.base_url = base_url


class GraphClient:
    """Meta's Order Management API for one Page. Thread-safe.

    ``http`` is one ``httpx.Client`` (tests), or :class:`ThreadClients` giving each thread its own (production).
    """

    def __init__(
        self,
        http: httpx.Client | ThreadClients,
        *,
        page_id: str,
        token: str,
        version: str = DEFAULT_GRAPH_VERSION,
        max_retries: int = 3,
        retry_budget_seconds: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ValueError("a Graph access token is required")
        if isinstance(http, ThreadClients):
            self._http, self._close_http, self._base_url = http.get, http.close, http.base_url
        else:
            self._http, self._close_http, self._base_url = (lambda: http), http.close, str(http.base_url)
        self.page_id = _segment(page_id)
        self._token = token
        self._version = version
        self._max_retries = max_retries
        self._retry_budget = retry_budget_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock

    def __repr__(self) -> str:
        return f"GraphClient(page_id={self.page_id!r}, version={self._version!r}, base_url={self._base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> GraphClient:
        """The production client: a keep-alive connection per thread, explicit timeouts, one TLS context shared.

        ``transport`` (tests) replaces the network for every thread's client.
        """
        tls = httpx.create_ssl_context()  # loading the CA bundle once, not once per thread

        def new_client() -> httpx.Client:
            return httpx.Client(
                base_url=settings.fb_graph_url,
                timeout=httpx.Timeout(settings.graph_timeout_seconds),
                verify=tls,
                limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
                headers={"User-Agent": "orderdesk"},
                transport=transport,
            )

        return cls(
            ThreadClients(new_client, settings.fb_graph_url),
            page_id=settings.fb_page_id,
            token=settings.fb_page_access_token,
            version=settings.fb_graph_version,
            max_retries=settings.graph_max_retries,
            retry_budget_seconds=settings.graph_retry_budget_seconds,
        )

    def close(self) -> None:
        self._close_http()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- reads -------------------------------------------------------------------------------------------------

    def get_page(self, fields: str = "id,name") -> dict[str, Any]:
        """``GET /{page-id}``: the cheapest call that proves the token, the Page id and the network all work."""
        return self.send("GET", self.page_id, {"fields": fields})

    def get_order(self, order_id: str, fields: str | Sequence[str] | None = None) -> dict[str, Any]:
        """One order; Meta's default fields (id, order_status, created, last_updated) unless ``fields`` is given."""
        return self.send("GET", _segment(order_id), {"fields": fields})

    def iter_orders(
        self,
        *,
        state: Sequence[str] | None = None,
        filters: Sequence[str] | None = None,
        updated_after: int | None = None,
        updated_before: int | None = None,
        fields: str | Sequence[str] | None = None,
        limit: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The Page's orders, page by page, lazily. Meta returns only ``CREATED`` orders when ``state`` is not set.

        ``state`` is OR'ed, ``filters`` AND'ed; ``updated_*`` are unix seconds on the last status change.
        ``max_pages`` bounds the number of requests (a scan for a merchant reference must not walk all history).
        """
        params = {
            "state": state,
            "filters": filters,
            "updated_after": updated_after,
            "updated_before": updated_before,
            "fields": fields,
            "limit": limit,
        }
        return self._paged(f"{self.page_id}/commerce_orders", params, max_pages)

    def list_cancellations(self, order_id: str, fields: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self._paged(f"{_segment(order_id)}/cancellations", {"fields": fields}))

    def list_refunds(self, order_id: str, fields: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self._paged(f"{_segment(order_id)}/refunds", {"fields": fields}))

    def list_shipments(self, order_id: str, fields: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self._paged(f"{_segment(order_id)}/shipments", {"fields": fields}))

    # --- writes (each needs an idempotency key: the same key and parameters make a safe retry) ------------------

    def acknowledge_order(
        self, order_id: str, idempotency_key: str, merchant_order_reference: str | None = None
    ) -> dict[str, Any]:
        """Move a ``CREATED`` order to ``IN_PROGRESS``; answers ``{"id", "state"}``."""
        params = {"idempotency_key": idempotency_key, "merchant_order_reference": merchant_order_reference}
        return self.send("POST", f"{_segment(order_id)}/acknowledge_order", params)

    def acknowledge_orders(self, idempotency_key: str, orders: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
        """Acknowledge up to 100 orders (``{"id", "merchant_order_reference"?}``) in one call.

        Returns Meta's per-order results: ``{"id", "state"}`` or ``{"id", "error": {"error_code",
        "error_message"}}``; one order failing does not fail the call, so callers must read every result.
        """
        if not 0 < len(orders) <= MAX_BATCH_ACK:
            raise ValueError(f"acknowledge_orders takes 1 to {MAX_BATCH_ACK} orders, got {len(orders)}")
        params = {"idempotency_key": idempotency_key, "orders": [dict(order) for order in orders]}
        results = self.send("POST", f"{self.page_id}/acknowledge_orders", params).get("orders")
        if not isinstance(results, list):
            # Without per-order results nobody knows which orders moved: never read that as "none did".
            raise GraphError("acknowledge_orders answered without per-order results", status=200)
        return results

    def cancel_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        reason_code: str,
        reason_description: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        restock_items: bool | None = None,
    ) -> dict[str, Any]:
        """Cancel unshipped quantities: the given ``items`` (``{item_id | retailer_id, quantity}``) or all of them."""
        reason = {"reason_code": reason_code, "reason_description": reason_description}
        params = {
            "idempotency_key": idempotency_key,
            "cancel_reason": {k: v for k, v in reason.items() if v is not None},
            "items": items,
            "restock_items": restock_items,
        }
        return self.send("POST", f"{_segment(order_id)}/cancellations", params)

    def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        reason_code: str,
        reason_text: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Refund shipped items: the given ``items`` (by quantity or amount) or the whole order."""
        params = {"idempotency_key": idempotency_key, "reason_code": reason_code, "reason_text": reason_text}
        return self.send("POST", f"{_segment(order_id)}/refunds", {**params, "items": items})

    def create_shipment(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        tracking_info: Mapping[str, str] | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        external_shipment_id: str | None = None,
        merchant_order_reference: str | None = None,
    ) -> dict[str, Any]:
        """Ship the given ``items`` (or every unshipped quantity) with one tracking number (``carrier``, ...)."""
        params = {
            "idempotency_key": idempotency_key,
            "tracking_info": tracking_info,
            "items": items,
            "external_shipment_id": external_shipment_id,
            "merchant_order_reference": merchant_order_reference,
        }
        return self.send("POST", f"{_segment(order_id)}/shipments", params)

    # --- the one place that talks HTTP ---------------------------------------------------------------------------

    def send(self, method: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``{version}/{path}`` and return the JSON body, retrying transient failures with the same request.

        ``params`` are Graph parameters (``None`` values are left out); the ledger stores them and replays a call
        through here, so the replay is encoded exactly as the original.
        """
        encoded = {name: _encode(value, method) for name, value in params.items() if value is not None}
        is_get = method == "GET"
        request = self._http().build_request(
            method,
            f"{self._version}/{path}",
            params=encoded if is_get else None,
            data=None if is_get else encoded,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(request)
            except GraphError as error:
                wait = self._retry_wait(error, attempt, started)
                _log_failure(request, error, attempt, wait)
                if wait is None:
                    raise
            self._sleep(wait)

    def _attempt(self, request: httpx.Request) -> dict[str, Any]:
        try:
            response = self._http().send(request)
        except httpx.TransportError as exc:
            # Timeouts, refused or dropped connections: no answer, so maybe no effect; a same-key retry is safe.
            raise TransientError(self._scrub(f"{type(exc).__name__}: {exc}")) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and "error" not in body:
            return body
        raise self._error(response, body)

    def _error(self, response: httpx.Response, body: object) -> GraphError:
        envelope = body.get("error") if isinstance(body, dict) else None
        if not isinstance(envelope, dict):
            envelope = {"message": f"HTTP {response.status_code} {response.reason_phrase} without a Graph error"}
        message = self._scrub(str(envelope.get("message") or "Graph error without a message"))
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

    def _retry_wait(self, error: GraphError, attempt: int, started: float) -> float | None:
        """Seconds to wait before resending, or ``None`` to give up now (not retryable, or out of tries or time)."""
        if not error.is_transient or attempt > self._max_retries:
            return None
        wait = error.retry_after_seconds if isinstance(error, RateLimitedError) else None
        if wait is None:
            wait = self._jitter() * min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        remaining = self._retry_budget - (self._clock() - started)
        return wait if wait <= remaining else None

    def _scrub(self, text: str) -> str:
        for secret in {self._token, quote(self._token, safe="")}:
            text = text.replace(secret, "[token]")
        return text

    def _paged(self, path: str, params: Mapping[str, Any], max_pages: int | None = None) -> Iterator[dict[str, Any]]:
        """Follow ``paging.cursors.after`` while ``paging.next`` is present; pages may be short or empty.

        The ``next`` URL itself is not fetched: it names Meta's host (not our base URL) and may embed a token;
        the cursor on our own request keeps every page on this client's pool, header and parameters.
        """
        query = dict(params)
        for _ in range(max_pages) if max_pages is not None else itertools.count():
            body = self.send("GET", path, query)
            yield from body.get("data", [])
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            query["after"] = after


def _segment(object_id: str) -> str:
    """A Graph id as a path segment; refusing anything else keeps user input from reaching another endpoint."""
    if not _ID.fullmatch(object_id):
        raise ValueError(f"not a Graph object id: {object_id!r}")
    return object_id


def _encode(value: object, method: str) -> str:
    """One Graph parameter as text: GET lists comma-separated, nested values JSON with a stable key order."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if method == "GET" and isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _log_failure(request: httpx.Request, error: GraphError, attempt: int, wait: float | None) -> None:
    """One line per failed attempt: enough to quote to Meta support (fbtrace_id), never the token or the body."""
    outcome = f"retrying in {wait:.2f}s" if wait is not None else "giving up"
    level = logging.ERROR if isinstance(error, IdempotencyConflictError) else logging.WARNING
    log.log(
        level,
        "graph %s %s failed (attempt %d, %s): %s status=%s code=%s subcode=%s fbtrace_id=%s: %s",
        request.method,
        request.url.path,
        attempt,
        outcome,
        type(error).__name__,
        error.status,
        error.code,
        error.subcode,
        error.fbtrace_id,
        error.message,
        extra={"fbtrace_id": error.fbtrace_id},  # also a field of its own: the formatter prints it with the others
    )
