"""A faithful local simulator of Meta's Commerce Order Management API (the Graph sandbox).

Built rule by rule from Meta's Order Management API reference (developers.facebook.com/docs/commerce-platform)
so that code tested against it behaves the same against ``graph.facebook.com``. It is a WSGI app: tests reach it
in-process through :meth:`GraphSandbox.transport` or over real HTTP through :meth:`GraphSandbox.serve`;
``orderdesk sandbox`` serves it on a port.

Graph surface (any ``/v{N}.{M}/`` version prefix; the token as ``Authorization: Bearer`` or ``access_token``;
parameters as a query string, a form body with nested values JSON-encoded, or a JSON body):

- ``GET /{page-id}/commerce_orders`` (also on ``/{cms-id}``): ``state`` OR-list (default ``CREATED``), ``filters``
  AND-list (case-insensitive), each comma-separated or a JSON array; ``updated_after`` / ``updated_before`` in unix
  seconds, both exclusive, on ``last_updated``; ``fields``; ``limit`` (at most 25); opaque ``after``/``before``
  cursors. Orders come newest ``created`` first (ties: higher id first), a stable order while paging. Pages are
  deliberately ragged, as Meta's may be: after the first page, every 4th page is half the limit and every 9th is
  empty (with a ``next``); ``next`` appears only when more orders exist. Like Graph, ``next``/``previous`` links
  repeat ``access_token`` when the request carried it as a parameter (a client should follow cursors instead).
- ``GET /{order-id}`` and ``GET /{order-id}/items|shipments|cancellations|refunds``: default fields ``id,
  order_status, created, last_updated``; ``fields`` replaces them (``id`` always comes back), with nested
  ``edge{sub}`` / ``edge.limit(n){sub}`` expansion, edges as ``{data, paging}`` (25 per page by default). Unknown
  ids: 400 ``GraphMethodException`` code 100 subcode 33; unknown fields: code 100.
- ``POST /{order-id}/acknowledge_order``, ``/{page-id}/acknowledge_orders`` (at most 100, per-order
  ``error_code``/``error_message``, 2361003 for unknown ids, 2361009 for orders not CREATED), and the writes after
  acknowledgement: ``/{order-id}/shipments``, ``/update_shipment``, ``/cancellations``, ``/refunds``, each answering
  ``{"success": true}``. Their request shapes and every rule they enforce (carrier codes, one tracking number per
  shipment, 2382045, ``external_shipment_id``, cancel only open units, refund only shipped ones by quantity or
  pre-tax amount, FB_PROCESSING after 24 h, amounts in the currency's minor units, the 11.3 commerce codes) are
  listed in :mod:`bot.sandbox.graph_orders`. Read them back at ``GET /{order-id}/shipments`` (default fields ``id,
  items, tracking_info, created``; ask for ``external_shipment_id``), ``/cancellations`` (``id, items,
  cancel_reason, created``; ``restock_items`` on request) and ``/refunds`` (``id, items, refund_reason,
  refund_amount, created``), or nested in the order (``shipments{...}``). Item ``status`` is Meta's object of
  quantities ``{"in_progress", "fulfilled", "cancelled"}``.
- Every POST needs ``idempotency_key`` matching ``[A-Za-z0-9_-]{1,100}`` (else code 100). The same key with the
  same request (a canonical fingerprint of route and parameters, token and encoding excluded) replays the stored
  status and body, failures included, with no second effect; the same key with a different request gets HTTP
  400, ``OAuthException``, code 100 and ``error_subcode`` :data:`IDEMPOTENCY_CONFLICT_SUBCODE` (9000001). **That
  subcode is this sandbox's own**: Meta documents only that such a request "throws an error". Keys are scoped to
  the sandbox (one app, one Page), across routes: a key used for a shipment and then for a refund is a conflict.
- Every response carries ``X-Business-Use-Case-Usage`` (keyed by the Page id) and ``X-App-Usage``; every error is a
  Graph envelope (``error_subcode`` and the user title/message only when there is one, as Graph does).

Test controls under ``/_sandbox/`` are the sandbox's own, not Meta's; they need no token and speak JSON:
``GET /_sandbox/`` (description), ``GET|DELETE /_sandbox/calls`` (``?since=seq``), ``POST /_sandbox/orders``,
``GET /_sandbox/orders/{id}`` (``POST /_sandbox/orders`` takes order fields plus ``state`` and ``currency``),
``POST /_sandbox/orders/{id}/advance`` (``{"to", "merchant_order_reference"}``),
``GET|POST /_sandbox/faults``, ``POST /_sandbox/reset``. Fault specs (``POST /_sandbox/faults``), each optionally
scoped by ``{"match": {"method": "POST", "path": "substring"}}``: ``{"latency_ms": 300}`` (until changed),
``{"status": 500|503, "count": N}``, ``{"throttle": N, "regain_minutes": M}`` (code 80001, the usage header at
100%), ``{"drop_after_commit": N}`` (the next N matching POSTs are applied, then the connection is dropped),
``{"invalid_token": true}`` (190), ``{"revoke_permission": true}`` (200), ``{"transient_code": 2361081, "count":
N}``, ``{"clear": true}``. Faults and latency apply per request outside the state lock, so latency never
serializes concurrent requests; the state lock covers each check-and-apply, so concurrent identical POSTs make
one change. The call record never holds the token.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from bot.sandbox.graph_data import STATES, IdMint, new_order
from bot.sandbox.graph_fields import (
    ORDER,
    ORDER_EDGES,
    PAGE,
    Field,
    FieldError,
    NodeType,
    fields_text,
    parse_fields,
    render,
    render_all,
)
from bot.sandbox.graph_orders import (
    CANCEL_REASONS,
    FILTERS,
    REFUND_REASONS,
    ApiError,
    Entry,
    IndexKey,
    OrderBook,
    index_key,
    invalid,
    not_found,
)
from bot.sandbox.server import DropConnection, DroppingWSGITransport, ServerThread

SANDBOX_TOKEN = "sandbox-page-token"  # noqa: S105 - the offline sandbox's well-known default, not a secret
IDEMPOTENCY_CONFLICT_SUBCODE = 9000001  # the sandbox's own subcode (Meta documents none)
MAX_LIMIT = 25  # orders per page, and the default page of an edge
MAX_EDGE_LIMIT = 100  # items per page of an edge (the sandbox's choice; Meta documents none)
_VERSION = re.compile(r"v\d+\.\d+")
_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")
_NESTED = frozenset({"orders", "items", "tracking_info", "cancel_reason", "shipping", "deductions", "fulfillment"})
_TRANSIENT_TITLES = {2361081: "Pending Action", 2361050: "Concurrent Order Modification"}
_GENERIC = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "Application request limit reached",
}
_FAULT_KEYS = frozenset(
    {
        "latency_ms",
        "status",
        "count",
        "throttle",
        "regain_minutes",
        "drop_after_commit",
        "invalid_token",
        "revoke_permission",
        "transient_code",
        "match",
        "clear",
    }
)


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, Any]  # access_token removed
    token: str | None
    token_in_params: bool
    base: str  # scheme://host, for absolute paging links
    version: str = ""


@dataclass
class _Fault:
    kind: str  # latency | drop | invalid_token | revoke_permission | throttle | status | transient
    value: int = 0
    remaining: int | None = None  # None: until changed
    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (self.path is None or self.path in path)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class _Plan:
    """What the faults decided for one request, taken before it runs."""

    latency: float = 0.0
    error: ApiError | None = None
    regain_minutes: int | None = None
    drop: bool = False
    names: list[str] = field(default_factory=list)


class _Faults:
    """Fault rules with their own small lock: taking one never waits behind the order book."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Fault] = []

    def configure(self, spec: Mapping[str, Any]) -> None:
        unknown = set(spec) - _FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(_FAULT_KEYS)}")
        match = spec.get("match") or {}
        scope = {"method": match.get("method"), "path": match.get("path")}
        count = int(spec.get("count", 1))
        new: list[_Fault] = []
        if "status" in spec:
            if not 500 <= int(spec["status"]) <= 599:
                raise ValueError("status must be a 5xx code")
            new.append(_Fault("status", int(spec["status"]), count, **scope))
        if "throttle" in spec:
            new.append(_Fault("throttle", int(spec.get("regain_minutes", 5)), int(spec["throttle"]), **scope))
        if "drop_after_commit" in spec:
            drop_scope = {**scope, "method": scope["method"] or "POST"}
            new.append(_Fault("drop", 0, int(spec["drop_after_commit"]), **drop_scope))
        if "transient_code" in spec:
            new.append(_Fault("transient", int(spec["transient_code"]), count, **scope))
        persistent = {
            "latency_ms": "latency",
            "invalid_token": "invalid_token",
            "revoke_permission": "revoke_permission",
        }
        with self._lock:
            if spec.get("clear"):
                self._rules.clear()
            for key, kind in persistent.items():
                if key in spec:
                    self._rules = [r for r in self._rules if r.kind != kind]
                    if spec[key]:
                        self._rules.append(_Fault(kind, int(spec[key]), None, **scope))
            self._rules.extend(new)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(self, method: str, path: str) -> _Plan:
        """Consume the faults this request meets: latency adds up, one error at most, a drop for POSTs."""
        plan = _Plan()
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.kind == "latency":
                    plan.latency += rule.value / 1000
                    plan.names.append(rule.kind)
                    continue
                if rule.kind == "drop":
                    if plan.drop:
                        continue
                    plan.drop = True
                elif plan.error is None:
                    plan.error = _fault_error(rule)
                    plan.regain_minutes = rule.value if rule.kind == "throttle" else None
                else:
                    continue
                plan.names.append(rule.kind)
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
        return plan


def _fault_error(rule: _Fault) -> ApiError:
    if rule.kind == "invalid_token":
        return ApiError("Error validating access token: Session has expired.", code=190, subcode=463)
    if rule.kind == "revoke_permission":
        message = "(#200) Requires commerce_account_manage_orders permission to manage the object"
        return ApiError(message, code=200, status=403)
    if rule.kind == "throttle":
        message = (
            "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, "
            "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
        )
        return ApiError(message, code=80001, transient=True)
    if rule.kind == "status":
        code = 1 if rule.value == 500 else 2
        return ApiError(_GENERIC[code], code=code, status=rule.value, transient=True)
    if rule.value in _GENERIC or rule.value < 10_000:
        return ApiError(
            f"(#{rule.value}) {_GENERIC.get(rule.value, 'Temporary error')}", code=rule.value, transient=True
        )
    title = _TRANSIENT_TITLES.get(rule.value, "Temporary error")
    detail = "another request is updating this order right now; retry"
    return ApiError(
        f"(#100) {title}: {detail}", code=100, subcode=rule.value, title=title, user_msg=detail, transient=True
    )


@dataclass(frozen=True)
class _Stored:
    fingerprint: str
    status: int
    body: bytes


class GraphSandbox:
    """WSGI app simulating the Order Management API for one Page. Thread-safe (one lock around state)."""

    def __init__(
        self,
        *,
        page_id: str = "1122334455",
        token: str = SANDBOX_TOKEN,
        orders: int = 50,
        seed: int = 7,
        now: float | None = None,
        ragged_pages: bool = True,
    ) -> None:
        self.page_id, self.token, self.seed, self.ragged_pages = page_id, token, seed, ragged_pages
        self.cms_id = str(random.Random(page_id).randrange(10**14, 10**15))
        self._orders_count = orders
        started = time.time()
        self._now = int(started if now is None else now)
        self._offset = self._now + 1 - started  # seeded data ends at `now`; later writes come strictly after it
        self._lock = threading.Lock()
        self._faults = _Faults()
        self._seeded()

    def _seeded(self) -> None:
        self._rng = random.Random(self.seed)
        self._book = OrderBook(IdMint(self._rng))
        self._book.seed(self._rng, self._orders_count, self._now)
        self._idempotency: dict[str, _Stored] = {}
        self._calls: list[dict[str, Any]] = []
        self._seq = 0

    def _clock(self) -> int:
        return int(time.time() + self._offset)

    def transport(self) -> httpx.BaseTransport:
        """In-process transport; a dropped connection surfaces as ``httpx.RemoteProtocolError``."""
        return DroppingWSGITransport(app=self)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
        """The sandbox on a real port (0: any free one), already started: call ``.stop()`` when done.

        For a ``with`` block use ``ServerThread(sandbox)`` instead (entering it starts it, which may happen once).
        """
        return ServerThread(self, host, port).start()

    def add_order(self, **fields: Any) -> dict[str, Any]:
        """Add an order (default CREATED, created now); generated values fill what ``fields`` leaves out.

        ``state`` picks the state (later states are reached through the state machine, so an IN_PROGRESS order
        is acknowledged and a COMPLETED one shipped); ``items`` may be a count or partial items; dict fields such
        as ``buyer_details`` are merged into generated ones; ``created`` is unix seconds.
        """
        state = fields.pop("state", None) or (fields.pop("order_status", None) or {}).get("state") or "CREATED"
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        with self._lock:
            now = self._clock()
            created = int(fields.pop("created", now))
            data = new_order(self._rng, self._book.mint, created=created, overrides=fields)
            entry = self._book.add(data, created, "FB_PROCESSING" if state == "FB_PROCESSING" else "CREATED")
            if state in ("IN_PROGRESS", "COMPLETED"):
                self._book.advance(entry.id, state, None, max(now, created))
            return render_all(entry.data, ORDER)

    def advance(
        self, order_id: str, to: str | None = None, merchant_order_reference: str | None = None
    ) -> dict[str, Any]:
        """Move an order forward (default: the next state), as Meta or Commerce Manager would."""
        with self._lock:
            entry = self._book.advance(order_id, to, merchant_order_reference, self._clock())
            return render_all(entry.data, ORDER)

    def ship(self, order_id: str, units: Mapping[str, int], tracking_number: str | None = None) -> dict[str, Any]:
        """Ship ``units`` (item id → quantity) of an acknowledged order as another tool would, under Meta's rules
        (``POST /{order-id}/shipments`` without recording a call): a partly shipped order for tests and the demo."""
        params = {
            "items": [{"item_id": item_id, "quantity": quantity} for item_id, quantity in units.items()],
            "tracking_info": {"carrier": "UPS", "tracking_number": tracking_number or f"1Z{self._book.mint()}"},
        }
        with self._lock:
            self._book.ship(order_id, params, self._clock())
        return self.order(order_id)

    def set_faults(self, **faults: Any) -> None:
        """The same settings as ``POST /_sandbox/faults`` (see the module docstring)."""
        self._faults.configure(faults)

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.describe()

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        """A copy of the call record (requests with ``seq`` > ``since``); never holds the token."""
        with self._lock:
            return copy.deepcopy([c for c in self._calls if c["seq"] > since])

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Back to the seeded state: orders regenerated, idempotency keys, faults and calls cleared."""
        self._faults.configure({"clear": True})
        with self._lock:
            self._seeded()

    def order(self, order_id: str) -> dict[str, Any]:
        """The full stored order (every field, edges unpaged); ``KeyError`` if unknown."""
        with self._lock:
            entry = self._book.find(order_id)
            if entry is None:
                raise KeyError(order_id)
            return render_all(entry.data, ORDER)

    def order_ids(self, state: str | None = None, *, with_reference: bool | None = None) -> list[str]:
        """Ids newest first, optionally in one state and with (or without) a merchant reference."""
        with self._lock:
            return [
                e.id
                for e in self._book.newest_first()
                if (state is None or e.state == state)
                and (with_reference is None or ("merchant_order_id" in e.data) == with_reference)
            ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            status, payload = self._control(environ["REQUEST_METHOD"], path, environ)
            body = json.dumps(payload).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        else:
            status, body, headers = self._graph(environ)
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _graph(self, environ: dict[str, Any]) -> tuple[int, bytes, list[tuple[str, str]]]:
        method, path = environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO") or "/"
        plan = self._faults.take(method, path)
        if plan.latency:
            time.sleep(plan.latency)  # outside every lock: slow requests run side by side
        with self._lock:
            self._seq += 1
            seq = self._seq
        trace = base64.urlsafe_b64encode(
            hashlib.blake2b(f"{self.seed}:{seq}".encode(), digest_size=8).digest()
        ).decode()[:11]
        params: dict[str, Any] = {}
        try:
            request = _read_request(environ)
            params = request.params
            if plan.error is not None:
                raise plan.error
            self._authenticate(request)
            status, body = self._route(request, trace)
        except ApiError as exc:
            status, body = exc.status, _dumps(exc.envelope(trace))
        key = params.get("idempotency_key") if method == "POST" else None
        record = {
            "seq": seq,
            "method": method,
            "path": path,
            "params": copy.deepcopy(params),
            "idempotency_key": key if isinstance(key, str) else None,
            "status": status,
            "ts": time.time(),
            "faults": plan.names,
        }
        with self._lock:
            self._calls.append(record)
            usage = min(90, len(self._calls) // 100)
        if plan.drop:
            raise DropConnection  # the POST was applied and recorded; the client never hears back
        return status, body, self._headers(body, trace, usage, plan.regain_minutes)

    def _headers(self, body: bytes, trace: str, usage: int, regain: int | None) -> list[tuple[str, str]]:
        pct = 100 if regain is not None else usage
        buc = {
            self.page_id: [
                {
                    "type": "pages",
                    "call_count": pct,
                    "total_cputime": pct // 2 if regain is None else 100,
                    "total_time": pct // 2 if regain is None else 100,
                    "estimated_time_to_regain_access": regain or 0,
                }
            ]
        }
        app = {"call_count": pct, "total_time": pct // 2, "total_cputime": pct // 2}
        return [
            ("Content-Type", "application/json; charset=UTF-8"),
            ("Content-Length", str(len(body))),
            ("X-Business-Use-Case-Usage", json.dumps(buc, separators=(",", ":"))),
            ("X-App-Usage", json.dumps(app, separators=(",", ":"))),
            ("x-fb-trace-id", trace),
        ]

    def _authenticate(self, request: _Request) -> None:
        if request.token is None:
            raise ApiError("An active access token must be used to query information about the current user.", code=190)
        if request.token != self.token:
            raise ApiError("Invalid OAuth access token - Cannot parse access token", code=190)

    def _route(self, request: _Request, trace: str) -> tuple[int, bytes]:
        parts = [p for p in request.path.split("/") if p]
        if not 2 <= len(parts) <= 3 or not _VERSION.fullmatch(parts[0]):
            raise ApiError(f"Unknown path components: {request.path}", code=2500)
        request.version = parts[0]
        node, edge = parts[1], (parts[2] if len(parts) == 3 else None)
        if request.method == "POST":
            return self._post(request, node, edge, trace)
        if request.method != "GET":
            raise not_found(node, request.method)
        with self._lock:
            return 200, _dumps(self._get(request, node, edge))

    def _is_page(self, node: str) -> bool:
        return node in (self.page_id, self.cms_id, "me")

    def _get(self, request: _Request, node: str, edge: str | None) -> dict[str, Any]:
        selection = _selection(request.params.get("fields"))
        if self._is_page(node):
            if edge is None:
                page: dict[str, Any] = {"id": self.page_id, "name": "Sandbox Shop", "category": "Shopping & retail"}
                page["commerce_merchant_settings"] = {"id": self.cms_id, "display_name": "Sandbox Shop"}
                return _rendered(page, PAGE, selection, self._edge_renderer(request))
            if edge == "commerce_orders":
                return self._list(request, selection)
            if edge == "permissions":  # what the token was granted, as Graph lists it
                granted = ("commerce_account_manage_orders", "commerce_manage_accounts", "pages_read_engagement")
                return {"data": [{"permission": name, "status": "granted"} for name in granted]}
            raise invalid(f"Tried accessing nonexisting field ({edge}) on node type (Page)")
        entry = self._book.get(node)
        if edge is None:
            return _rendered(entry.view(), ORDER, selection, self._edge_renderer(request))
        if edge not in ORDER_EDGES:
            raise invalid(f"Tried accessing nonexisting field ({edge}) on node type (CommerceOrder)")
        params = request.params
        limit = _limit(params, cap=MAX_EDGE_LIMIT)
        after, before = _edge_cursor(params.get("after")), _edge_cursor(params.get("before"))
        edge_field = Field(edge, selection, limit)
        return self._edge_page(request, entry.id, ORDER_EDGES[edge], entry.view()[edge], edge_field, after, before)

    def _edge_renderer(self, request: _Request) -> Callable[[str, str, NodeType, list[dict[str, Any]], Field], Any]:
        def edge(owner: str, name: str, kind: NodeType, values: list[dict[str, Any]], f: Field) -> dict[str, Any]:
            return self._edge_page(
                request, owner, kind, values, Field(name, f.sub, min(f.limit or MAX_LIMIT, MAX_EDGE_LIMIT)), None, None
            )

        return edge

    def _edge_page(
        self,
        request: _Request,
        owner: str,
        kind: NodeType,
        values: list[dict[str, Any]],
        f: Field,
        after: int | None,
        before: int | None,
    ) -> dict[str, Any]:
        """One page of an edge (items, shipments, ...), nested or at ``/{order-id}/{edge}``; index cursors."""
        limit = f.limit or MAX_LIMIT
        start = max(0, before - limit) if before is not None else (after + 1 if after is not None else 0)
        end = min(len(values), before if before is not None else start + limit)
        data = [render(v, kind, f.sub, self._edge_renderer(request)) for v in values[start:end]]
        if not data:
            return {"data": []}
        cursors = {"before": _encode(["e", start]), "after": _encode(["e", end - 1])}
        paging: dict[str, Any] = {"cursors": cursors}
        query = {"limit": limit, **({"fields": fields_text(f.sub)} if f.sub is not None else {})}
        path = f"/{request.version}/{owner}/{f.name}"
        if end < len(values):
            paging["next"] = self._link(request, path, {**query, "after": cursors["after"]})
        if start > 0:
            paging["previous"] = self._link(request, path, {**query, "before": cursors["before"]})
        return {"data": data, "paging": paging}

    def _list(self, request: _Request, selection: tuple[Field, ...] | None) -> dict[str, Any]:
        params = request.params
        states = _list_param(params, "state") or ["CREATED"]
        for i, state in enumerate(states):
            if state not in STATES:
                raise invalid(f"Param state[{i}] must be one of {{{', '.join(STATES)}}}")
        filters = [f.lower() for f in _list_param(params, "filters") or []]
        for i, name in enumerate(filters):
            if name not in FILTERS:
                raise invalid(f"Param filters[{i}] must be one of {{{', '.join(sorted(FILTERS))}}}")
        updated_after, updated_before = _int_param(params, "updated_after"), _int_param(params, "updated_before")
        limit = _limit(params)
        after, before = _order_cursor(params.get("after")), _order_cursor(params.get("before"))

        def match(entry: Entry) -> bool:
            return (
                entry.state in states
                and all(FILTERS[name](entry) for name in filters)
                and (updated_after is None or entry.updated > updated_after)
                and (updated_before is None or entry.updated < updated_before)
            )

        page_no = after[1] + 1 if after else 0
        size = limit if before else self._page_size(page_no, limit)
        found, more_after, more_before = self._book.page(
            match, size, after=after[0] if after else None, before=before[0] if before else None
        )
        renderer = self._edge_renderer(request)
        data = [_rendered(entry.view(), ORDER, selection, renderer) for entry in found]
        if found:
            first, last = (
                _encode([found[0].created, found[0].id, page_no]),
                _encode([found[-1].created, found[-1].id, page_no]),
            )
        elif after and more_after:  # a deliberately empty page: the position moves on, so the next one differs
            first = last = _encode([-after[0][0], str(-after[0][1]), page_no])
        else:
            return {"data": []}
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        query = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items() if k not in ("after", "before")
        }
        query["limit"] = str(limit)
        path = f"/{request.version}/{request.path.strip('/').split('/', 1)[1]}"
        if more_after:
            paging["next"] = self._link(request, path, {**query, "after": last})
        if more_before:
            paging["previous"] = self._link(request, path, {**query, "before": first})
        return {"data": data, "paging": paging}

    def _page_size(self, page_no: int, limit: int) -> int:
        """Ragged but deterministic pages after the first: Meta's page sizes vary, clients must cope."""
        if not self.ragged_pages or page_no == 0:
            return limit
        if page_no % 9 == 7:
            return 0
        return (limit + 1) // 2 if page_no % 4 == 2 else limit

    def _link(self, request: _Request, path: str, query: Mapping[str, Any]) -> str:
        if request.token_in_params and request.token is not None:
            query = {**query, "access_token": request.token}  # as Graph does; never recorded by the sandbox
        return f"{request.base}{path}?{urlencode(query)}"

    def _post(self, request: _Request, node: str, edge: str | None, trace: str) -> tuple[int, bytes]:
        key = request.params.get("idempotency_key")
        if key in (None, ""):
            raise invalid("The parameter idempotency_key is required")
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise invalid("Param idempotency_key must be 1 to 100 characters from A-Z, a-z, 0-9, '_' and '-'")
        fingerprint = _fingerprint(f"{node}/{edge}", request.params)
        with self._lock:  # check-and-apply as one step: concurrent identical retries make one change
            action = self._action(node, edge)  # an unknown route is refused before any key is stored
            stored = self._idempotency.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ApiError(
                        f"(#100) This idempotency key was already used for a different request: {key}",
                        code=100,
                        subcode=IDEMPOTENCY_CONFLICT_SUBCODE,
                        title="Idempotency key reused",
                        user_msg="Use a new idempotency key for a different request.",
                    )
                return stored.status, stored.body
            try:
                status, body = 200, _dumps(action(_decoded(request.params), self._clock()))
            except ApiError as exc:
                status, body = exc.status, _dumps(exc.envelope(trace))
            self._idempotency[key] = _Stored(fingerprint, status, body)
            return status, body

    def _action(self, node: str, edge: str | None) -> Callable[[dict[str, Any], int], dict[str, Any]]:
        book = self._book
        if self._is_page(node):
            if edge == "acknowledge_orders":
                return lambda params, now: book.acknowledge_many(params.get("orders"), now)
            raise not_found(node, "POST")
        actions: dict[str | None, Callable[[dict[str, Any], int], dict[str, Any]]] = {
            "acknowledge_order": lambda p, now: book.acknowledge(
                node, _opt_str(p.get("merchant_order_reference")), now
            ),
            "shipments": lambda p, now: book.ship(node, p, now),
            "update_shipment": lambda p, now: book.update_shipment(node, p, now),
            "cancellations": lambda p, now: book.cancel(node, p, now),
            "refunds": lambda p, now: book.refund(node, p, now),
        }
        if edge not in actions:
            raise not_found(node, "POST")
        return actions[edge]

    def _control(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, Any]:
        route = path.removeprefix("/_sandbox").strip("/").split("/")
        try:
            body = _read_json(environ)
            if method == "GET" and route == [""]:
                return 200, self._describe()
            if route == ["calls"] and method in ("GET", "DELETE"):
                if method == "DELETE":
                    self.clear_calls()
                    return 200, {"ok": True}
                return 200, self.calls(int(dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("since", 0)))
            if route == ["orders"] and method == "POST":
                return 201, self.add_order(**body)
            if len(route) == 2 and route[0] == "orders" and method == "GET":
                return 200, self.order(route[1])
            if len(route) == 3 and route[0] == "orders" and route[2] == "advance" and method == "POST":
                return 200, self.advance(route[1], body.get("to"), body.get("merchant_order_reference"))
            if route == ["faults"] and method in ("GET", "POST"):
                if method == "POST":
                    self.set_faults(**body)
                return 200, self.faults()
            if route == ["reset"] and method == "POST":
                self.reset()
                return 200, {"ok": True}
        except KeyError as exc:
            return 404, {"error": {"message": f"no order {exc.args[0]}"}}
        except (ValueError, TypeError) as exc:
            return 400, {"error": {"message": str(exc)}}
        return 404, {"error": {"message": f"no sandbox control {method} {path}; see GET /_sandbox/"}}

    def _describe(self) -> dict[str, Any]:
        return {
            "sandbox": "Meta Commerce Order Management API simulator (orderdesk); /_sandbox/ is its own, not Meta's",
            "page_id": self.page_id,
            "cms_id": self.cms_id,
            "orders": len(self._book),
            "seed": self.seed,
            "idempotency_conflict_subcode": IDEMPOTENCY_CONFLICT_SUBCODE,
            "controls": {
                "GET /_sandbox/calls?since=N": "requests received (no token); DELETE clears",
                "POST /_sandbox/orders": (
                    "add an order (JSON fields, default state CREATED; currency: ISO 4217, default USD; "
                    "created: unix seconds)"
                ),
                "GET /_sandbox/orders/{id}": "the full stored order",
                "POST /_sandbox/orders/{id}/advance": '{"to": STATE, "merchant_order_reference": ...}',
                "GET|POST /_sandbox/faults": sorted(_FAULT_KEYS),
                "POST /_sandbox/reset": "back to the seeded state",
            },
            "writes": {
                "POST /{order-id}/shipments": (
                    "IN_PROGRESS only; items [{item_id|retailer_id, quantity}] (omitted: every open unit); "
                    "tracking_info {carrier: an uppercase code of Meta's list or OTHER, tracking_number: one, "
                    "shipping_method_name?}; external_shipment_id [A-Za-z0-9_]+; a tracking number already on "
                    "the order: 2382045"
                ),
                "POST /{order-id}/update_shipment": (
                    "external_shipment_id or shipment_id, tracking_info (the same rules as shipments)"
                ),
                "POST /{order-id}/cancellations": (
                    f"cancel_reason {{reason_code: {'|'.join(sorted(CANCEL_REASONS))}, reason_description}}, "
                    "restock_items, items [{item_id|retailer_id, quantity}] of open units (omitted: all); "
                    "CREATED, IN_PROGRESS, FB_PROCESSING after 24 h"
                ),
                "POST /{order-id}/refunds": (
                    f"reason_code {'|'.join(sorted(REFUND_REASONS))}, reason_text, items [{{item_id|retailer_id, "
                    "item_refund_quantity | item_refund_amount {amount, currency}}}] of shipped units (omitted: "
                    "all that is left), shipping {shipping_refund}, deductions [{deduction_type: RETURN_SHIPPING, "
                    "deduction_amount}]; over-refund: 2382023 (items), 2382022 (shipping)"
                ),
            },
            "currencies": "amounts are decimal strings in the currency's minor units (JPY none, KWD three)",
        }


def _read_request(environ: Mapping[str, Any]) -> _Request:
    params: dict[str, Any] = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if raw and "json" in environ.get("CONTENT_TYPE", ""):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object")
        params.update(body)
    elif raw:
        params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    param_token = params.pop("access_token", None)
    scheme, _, credentials = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    header_token = credentials.strip() if scheme.lower() in ("bearer", "oauth") else None
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return _Request(
        method=str(environ["REQUEST_METHOD"]).upper(),
        path=environ.get("PATH_INFO") or "/",
        params=params,
        token=str(param_token) if param_token is not None else header_token,
        token_in_params=param_token is not None,
        base=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
    )


def _read_json(environ: Mapping[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _selection(value: Any) -> tuple[Field, ...] | None:
    try:
        return parse_fields(value)
    except FieldError as exc:
        raise ApiError(str(exc), code=100) from exc


def _rendered(
    node: Mapping[str, Any], kind: NodeType, selection: tuple[Field, ...] | None, edge: Any
) -> dict[str, Any]:
    try:
        return render(node, kind, selection, edge)
    except FieldError as exc:
        raise ApiError(str(exc), code=100) from exc


def _list_param(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A list parameter, comma-separated or a JSON array (what Meta's SDK sends)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise invalid(f"Param {name} must be an array") from exc
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part).strip() for part in value]
    raise invalid(f"Param {name} must be an array")


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise invalid(f"Param {name} must be a unix timestamp in seconds") from None


def _limit(params: Mapping[str, Any], *, cap: int = MAX_LIMIT) -> int:
    value = params.get("limit")
    if value is None or value == "":
        return min(cap, MAX_LIMIT)
    if isinstance(value, bool) or not str(value).isdigit() or int(str(value)) < 1:
        raise invalid(f"Param limit must be a positive integer, got {value!r}")
    return min(int(str(value)), cap)


def _encode(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(value: Any) -> list[Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(value) + "=" * (-len(str(value)) % 4)))
    except (ValueError, binascii.Error):
        decoded = None
    if not isinstance(decoded, list):
        raise invalid("Invalid cursor")
    return decoded


def _order_cursor(value: Any) -> tuple[IndexKey, int] | None:
    """A list cursor: the position (index key of an order) and the page number it was handed out on."""
    if value in (None, ""):
        return None
    decoded = _decode_cursor(value)
    if len(decoded) != 3 or not str(decoded[1]).isdigit():
        raise invalid("Invalid cursor")
    return index_key(int(decoded[0]), str(decoded[1])), int(decoded[2])


def _edge_cursor(value: Any) -> int | None:
    if value in (None, ""):
        return None
    decoded = _decode_cursor(value)
    if len(decoded) != 2 or decoded[0] != "e" or not isinstance(decoded[1], int):
        raise invalid("Invalid cursor")
    return decoded[1]


def _decoded(params: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """Parameters with nested values parsed: a form body carries them as JSON-encoded strings.

    Not ``strict`` (for fingerprints), a malformed value stays a string: the request fails the same way on replay.
    """
    out = dict(params)
    for name in _NESTED & out.keys():
        if isinstance(out[name], str):
            try:
                out[name] = json.loads(out[name])
            except ValueError:
                if strict:
                    raise invalid(f"Param {name} must be JSON-encoded") from None
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return "" if value is None else str(value)


def _fingerprint(route: str, params: Mapping[str, Any]) -> str:
    """What makes two POSTs "the same request": route and parameters, whatever their encoding; not the key."""
    decoded = _decoded(params, strict=False)
    body = {k: _canonical(v) for k, v in decoded.items() if k != "idempotency_key"}
    return json.dumps([route, body], sort_keys=True, separators=(",", ":"))


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def main(argv: list[str]) -> int:
    """``orderdesk sandbox``: serve the Graph sandbox until Ctrl-C, printing what to put in ``.env``."""
    parser = argparse.ArgumentParser(prog="orderdesk sandbox", description="Serve the Order Management API sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8801, help="0 picks a free port")
    parser.add_argument("--orders", type=int, default=200, help="seeded orders")
    parser.add_argument("--seed", type=int, default=7, help="seed of the seeded orders (default 7)")
    parser.add_argument("--page-id", default="1122334455", help="the Page whose orders it serves (FB_PAGE_ID)")
    parser.add_argument("--token", default=SANDBOX_TOKEN, help="the Page token it accepts (FB_PAGE_ACCESS_TOKEN)")
    args = parser.parse_args(argv)
    sandbox = GraphSandbox(page_id=args.page_id, token=args.token, orders=args.orders, seed=args.seed)
    server = ServerThread(sandbox, args.host, args.port)
    print(f"Graph sandbox serving {args.orders} orders (seed {args.seed}) at {server.url}", flush=True)
    print(f"  FB_GRAPH_URL={server.url}", flush=True)
    print(f"  FB_PAGE_ID={args.page_id}", flush=True)
    print(f"  FB_PAGE_ACCESS_TOKEN={args.token}", flush=True)
    print(f"  test controls: {server.url}/_sandbox/   (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
