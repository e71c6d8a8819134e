"""The Graph API client: every call orderdesk makes to Meta's Order Management API goes through here.

It runs on an injected ``httpx.Client`` (tests pass a transport, production builds one pooled client with
:meth:`GraphClient.from_settings`) and turns Graph's answers into plain dicts or the typed errors of
:mod:`bot.graph.errors`; :mod:`bot.graph.wire` writes ids and parameters.

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
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from bot.config import DEFAULT_GRAPH_VERSION, Settings
from bot.graph.errors import (
    GraphError,
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    OrderStateError,
    RateLimitedError,
    TransientError,
    error_from_response,
)
from bot.graph.pool import ThreadClients, thread_clients
from bot.graph.wire import encode, segment

# The error classes are re-exported: callers catch them from here as well as from bot.graph.errors.
__all__ = ["MAX_BATCH_ACK", "ORDER_CARD_FIELDS", "GraphClient", "ThreadClients"]
__all__ += ["GraphError", "GraphPermissionError", "IdempotencyConflictError", "InvalidTokenError", "NotFoundError"]
__all__ += ["OrderStateError", "RateLimitedError", "TransientError"]

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
        self.page_id = segment(page_id)
        self._token = token
        self._version = version
        self._max_retries = max_retries
        self._retry_budget = retry_budget_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        # Called with each response's X-Business-Use-Case-Usage header (Meta's rate-limit usage), when set.
        self.on_usage: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"GraphClient(page_id={self.page_id!r}, version={self._version!r}, base_url={self._base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> GraphClient:
        """The production client: a keep-alive connection per thread, explicit timeouts, one TLS context shared.

        ``transport`` (tests) replaces the network for every thread's client.
        """
        return cls(
            thread_clients(settings, transport),
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

    # Reads.

    def get_page(self, fields: str = "id,name") -> dict[str, Any]:
        """``GET /{page-id}``: the cheapest call that proves the token, the Page id and the network all work."""
        return self.send("GET", self.page_id, {"fields": fields})

    def get_order(self, order_id: str, fields: str | Sequence[str] | None = None) -> dict[str, Any]:
        """One order; Meta's default fields (id, order_status, created, last_updated) unless ``fields`` is given."""
        return self.send("GET", segment(order_id), {"fields": fields})

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
        return list(self._paged(f"{segment(order_id)}/cancellations", {"fields": fields}))

    def list_refunds(self, order_id: str, fields: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self._paged(f"{segment(order_id)}/refunds", {"fields": fields}))

    def list_shipments(self, order_id: str, fields: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self._paged(f"{segment(order_id)}/shipments", {"fields": fields}))

    # Writes: each needs an idempotency key: the same key and parameters make a safe retry.

    def acknowledge_order(
        self, order_id: str, idempotency_key: str, merchant_order_reference: str | None = None
    ) -> dict[str, Any]:
        """Move a ``CREATED`` order to ``IN_PROGRESS``; answers ``{"id", "state"}``."""
        params = {"idempotency_key": idempotency_key, "merchant_order_reference": merchant_order_reference}
        return self.send("POST", f"{segment(order_id)}/acknowledge_order", params)

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
        return self.send("POST", f"{segment(order_id)}/cancellations", params)

    def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        reason_code: str,
        reason_text: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        shipping: Mapping[str, Any] | None = None,
        deductions: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Refund shipped items: the given ``items`` (by quantity or amount) or the whole order, with
        ``shipping`` (``{"shipping_refund": currency_amount}``) and ``deductions``
        (``[{"deduction_type": "RETURN_SHIPPING", "deduction_amount": currency_amount}]``)."""
        params = {"idempotency_key": idempotency_key, "reason_code": reason_code, "reason_text": reason_text}
        extra = {"shipping": shipping, "deductions": deductions}
        return self.send("POST", f"{segment(order_id)}/refunds", {**params, "items": items, **extra})

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
        return self.send("POST", f"{segment(order_id)}/shipments", params)

    # The one place that talks HTTP.

    def send(self, method: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``{version}/{path}`` and return the JSON body, retrying transient failures with the same request.

        ``params`` are Graph parameters (``None`` values are left out); the ledger stores them and replays a call
        through here, so the replay is encoded exactly as the original.
        """
        encoded = {name: encode(value, method) for name, value in params.items() if value is not None}
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
        self._report_usage(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and "error" not in body:
            return body
        raise error_from_response(response, body, self._scrub)

    def _report_usage(self, response: httpx.Response) -> None:
        header = response.headers.get("x-business-use-case-usage")
        if header and self.on_usage is not None:
            try:
                self.on_usage(header)
            except Exception:  # the usage is for /order status: never a reason to fail a call to Meta
                log.exception("could not record Meta's rate-limit usage")

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
