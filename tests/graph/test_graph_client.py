"""Unit tests of the Graph client against ``httpx.MockTransport``: encoding, paging, error mapping, retries.

Each test scripts Graph's answers and inspects the requests the client made. ``sleep`` is recorded instead of
slept and the clock advances only by those sleeps, so retry tests take no real time and see exact waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from bot.config import Settings
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.graph.errors import (
    GraphError,
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    OrderStateError,
    RateLimitedError,
    TransientError,
)
from bot.graph.pool import ThreadClients

TOKEN = "EAAGsecret+page/token"
PAGE = "1122334455"
ORDER = "7001234567890"

Answer = tuple[int, Any, dict[str, str]] | Exception


def envelope(code: int | None, subcode: int | None = None, message: str = "(#100) failed", **extra: Any) -> Any:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "fbtrace_id": "AbCdEf123", **extra}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def ok(body: Any = None) -> Answer:
    return (200, {"id": ORDER} if body is None else body, {})


def fail(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    return (status, body, headers or {})


@dataclass
class Rig:
    """A client on a scripted transport; the last answer repeats once the script runs out."""

    answers: list[Answer]
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def form(self, index: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[index].content.decode(), keep_blank_values=True).items()}


@pytest.fixture
def rig() -> Iterator[Callable[..., tuple[GraphClient, Rig]]]:
    clients: list[GraphClient] = []

    def make(*answers: Answer, **options: Any) -> tuple[GraphClient, Rig]:
        script = Rig(list(answers) or [ok()])
        http = httpx.Client(transport=httpx.MockTransport(script.handle), base_url="https://graph.test")
        client = GraphClient(
            http,
            page_id=PAGE,
            token=TOKEN,
            sleep=script.sleeps.append,
            jitter=lambda: 1.0,
            clock=lambda: sum(script.sleeps),
            **options,
        )
        clients.append(client)
        return client, script

    yield make
    for client in clients:
        client.close()


def test_token_travels_only_in_the_authorization_header(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok(), ok({"success": True}))
    client.get_order(ORDER, ORDER_CARD_FIELDS)
    client.acknowledge_order(ORDER, "key1", "SO-1")
    for request in script.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "access_token" not in request.url.params
        assert TOKEN not in str(request.url)
        assert TOKEN.encode() not in request.content
    assert TOKEN not in repr(client)


def test_get_order_sends_no_fields_for_meta_defaults(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"id": ORDER, "order_status": {"state": "CREATED"}}))
    assert client.get_order(ORDER) == {"id": ORDER, "order_status": {"state": "CREATED"}}
    request = script.requests[0]
    assert (request.method, request.url.path, dict(request.url.params)) == ("GET", f"/v25.0/{ORDER}", {})


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ("id,merchant_order_id", "id,merchant_order_id"),
        (["id", "items{id,quantity}"], "id,items{id,quantity}"),
        (ORDER_CARD_FIELDS, ORDER_CARD_FIELDS),
    ],
)
def test_fields_are_comma_separated(
    rig: Callable[..., tuple[GraphClient, Rig]], fields: str | list[str], sent: str
) -> None:
    client, script = rig()
    client.get_order(ORDER, fields)
    assert script.requests[0].url.params["fields"] == sent


def test_order_card_fields_expand_every_edge_inline() -> None:
    assert "items.limit(100){" in ORDER_CARD_FIELDS
    for edge in ("shipments{", "cancellations{", "refunds{", "buyer_details{", "shipping_address{"):
        assert edge in ORDER_CARD_FIELDS
    assert ORDER_CARD_FIELDS.startswith("id,order_status,created,last_updated,")


def test_iter_orders_sends_lists_comma_separated(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"data": [], "paging": {"cursors": {}}}))
    orders = client.iter_orders(
        state=["CREATED", "IN_PROGRESS"],
        filters=["has_refunds", "no_shipments"],
        updated_after=1_700_000_000,
        updated_before=1_700_086_400,
        fields=["id", "merchant_order_id"],
        limit=10,
    )
    assert list(orders) == []
    assert script.requests[0].url.path == f"/v25.0/{PAGE}/commerce_orders"
    assert dict(script.requests[0].url.params) == {
        "state": "CREATED,IN_PROGRESS",
        "filters": "has_refunds,no_shipments",
        "updated_after": "1700000000",
        "updated_before": "1700086400",
        "fields": "id,merchant_order_id",
        "limit": "10",
    }


def test_acknowledge_order_posts_a_form(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"id": ORDER, "state": "IN_PROGRESS"}))
    assert client.acknowledge_order(ORDER, "a1b2", "SO-1") == {"id": ORDER, "state": "IN_PROGRESS"}
    request = script.requests[0]
    assert (request.method, request.url.path) == ("POST", f"/v25.0/{ORDER}/acknowledge_order")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert script.form() == {"idempotency_key": "a1b2", "merchant_order_reference": "SO-1"}


def test_acknowledge_order_leaves_out_a_missing_reference(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"id": ORDER, "state": "IN_PROGRESS"}))
    client.acknowledge_order(ORDER, "a1b2")
    assert script.form() == {"idempotency_key": "a1b2"}


def test_acknowledge_orders_sends_json_orders_and_returns_per_order_results(
    rig: Callable[..., tuple[GraphClient, Rig]],
) -> None:
    results = [
        {"id": "1", "state": "IN_PROGRESS"},
        {"id": "2", "error": {"error_code": 2361003, "error_message": "Invalid Order ID"}},
    ]
    client, script = rig(ok({"orders": results}))
    orders = [{"id": "1", "merchant_order_reference": "SO-1"}, {"id": "2"}]
    assert client.acknowledge_orders("batch1", orders) == results
    assert script.requests[0].url.path == f"/v25.0/{PAGE}/acknowledge_orders"
    form = script.form()
    assert form["idempotency_key"] == "batch1"
    assert json.loads(form["orders"]) == orders


def test_acknowledge_orders_without_results_is_an_error(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, _ = rig(ok({"success": True}))
    with pytest.raises(GraphError, match="per-order results"):
        client.acknowledge_orders("k", [{"id": ORDER}])


@pytest.mark.parametrize("count", [0, 101])
def test_acknowledge_orders_refuses_an_empty_or_oversized_batch(
    rig: Callable[..., tuple[GraphClient, Rig]], count: int
) -> None:
    client, script = rig()
    with pytest.raises(ValueError, match="1 to 100"):
        client.acknowledge_orders("k", [{"id": str(n)} for n in range(count)])
    assert script.requests == []


@pytest.mark.parametrize(
    ("call", "path", "form"),
    [
        (
            lambda c: c.cancel_order(ORDER, "k1", reason_code="OUT_OF_STOCK", items=[{"item_id": "9", "quantity": 1}]),
            f"{ORDER}/cancellations",
            {
                "idempotency_key": "k1",
                "cancel_reason": '{"reason_code":"OUT_OF_STOCK"}',
                "items": '[{"item_id":"9","quantity":1}]',
            },
        ),
        (
            lambda c: c.cancel_order(
                ORDER, "k2", reason_code="CUSTOMER_REQUESTED", reason_description="asked", restock_items=True
            ),
            f"{ORDER}/cancellations",
            {
                "idempotency_key": "k2",
                "cancel_reason": '{"reason_code":"CUSTOMER_REQUESTED","reason_description":"asked"}',
                "restock_items": "true",
            },
        ),
        (
            lambda c: c.refund_order(ORDER, "k3", reason_code="DAMAGED_GOODS", reason_text="broken"),
            f"{ORDER}/refunds",
            {"idempotency_key": "k3", "reason_code": "DAMAGED_GOODS", "reason_text": "broken"},
        ),
        (
            lambda c: c.create_shipment(
                ORDER, "k4", tracking_info={"carrier": "ups", "tracking_number": "1Z9"}, external_shipment_id="S1"
            ),
            f"{ORDER}/shipments",
            {
                "idempotency_key": "k4",
                "tracking_info": '{"carrier":"ups","tracking_number":"1Z9"}',
                "external_shipment_id": "S1",
            },
        ),
    ],
)
def test_write_edges_post_nested_values_as_json(
    rig: Callable[..., tuple[GraphClient, Rig]],
    call: Callable[[GraphClient], dict[str, Any]],
    path: str,
    form: dict[str, str],
) -> None:
    client, script = rig(ok({"success": True}))
    assert call(client) == {"success": True}
    assert script.requests[0].method == "POST"
    assert script.requests[0].url.path == f"/v25.0/{path}"
    assert script.form() == form


def test_send_replays_a_stored_call_byte_for_byte(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    """The ledger stores the parameters and replays them through ``send``: the bytes must not change."""
    client, script = rig(ok({"orders": [{"id": ORDER, "state": "IN_PROGRESS"}]}))
    client.acknowledge_orders("k", [{"merchant_order_reference": "SO-1", "id": ORDER}])
    stored = json.loads(
        json.dumps({"idempotency_key": "k", "orders": [{"id": ORDER, "merchant_order_reference": "SO-1"}]})
    )
    client.send("POST", f"{PAGE}/acknowledge_orders", stored)
    first, replay = script.requests
    assert (first.url, first.content) == (replay.url, replay.content)


@pytest.mark.parametrize("bad_id", ["", "../me", "1/acknowledge_order", "12 34", "1?fields=x"])
def test_ids_that_are_not_graph_ids_are_refused(rig: Callable[..., tuple[GraphClient, Rig]], bad_id: str) -> None:
    client, script = rig()
    with pytest.raises(ValueError, match="not a Graph object id"):
        client.get_order(bad_id)
    assert script.requests == []


def test_get_page_reads_the_page(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"id": PAGE, "name": "Shop"}))
    assert client.get_page() == {"id": PAGE, "name": "Shop"}
    assert script.requests[0].url.path == f"/v25.0/{PAGE}"
    assert script.requests[0].url.params["fields"] == "id,name"


def pages(*sizes: int) -> list[Answer]:
    """Graph pages of the given sizes (short and empty ones included); only the last has no ``next``."""
    answers: list[Answer] = []
    number = 0
    for index, size in enumerate(sizes):
        data = [{"id": str(number + n)} for n in range(size)]
        number += size
        paging: dict[str, Any] = {"cursors": {"before": f"b{index}", "after": f"c{index}"}}
        if index < len(sizes) - 1:
            paging["next"] = f"https://graph.facebook.com/v25.0/{PAGE}/commerce_orders?after=c{index}"
        answers.append(ok({"data": data, "paging": paging}))
    return answers


def test_paging_follows_cursors_through_short_and_empty_pages(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(*pages(3, 0, 2, 1))
    ids = [order["id"] for order in client.iter_orders(state=["CREATED"], limit=3)]
    assert ids == ["0", "1", "2", "3", "4", "5"]
    assert [r.url.params.get("after") for r in script.requests] == [None, "c0", "c1", "c2"]
    assert all(r.url.params["state"] == "CREATED" and r.url.params["limit"] == "3" for r in script.requests)
    assert all(r.url.host == "graph.test" for r in script.requests)  # never the host in paging.next


def test_paging_is_lazy_and_stops_at_max_pages(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(*pages(2, 2, 2, 2))
    orders = client.iter_orders(max_pages=2)
    assert script.requests == []
    assert [o["id"] for o in orders] == ["0", "1", "2", "3"]
    assert len(script.requests) == 2


def test_a_page_with_next_but_no_cursor_ends_the_walk(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(ok({"data": [{"id": "1"}], "paging": {"next": "https://graph.facebook.com/x"}}))
    assert list(client.iter_orders()) == [{"id": "1"}]
    assert len(script.requests) == 1


@pytest.mark.parametrize("edge", ["cancellations", "refunds", "shipments"])
def test_order_edges_are_listed_across_pages(rig: Callable[..., tuple[GraphClient, Rig]], edge: str) -> None:
    client, script = rig(*pages(1, 2))
    listed = getattr(client, f"list_{edge}")(ORDER, fields="id")
    assert [row["id"] for row in listed] == ["0", "1", "2"]
    assert [r.url.path for r in script.requests] == [f"/v25.0/{ORDER}/{edge}"] * 2


BUC = {"X-Business-Use-Case-Usage": json.dumps({PAGE: [{"type": "pages", "estimated_time_to_regain_access": 0}]})}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (fail(400, envelope(190, 460)), InvalidTokenError),
        (fail(400, envelope(102)), InvalidTokenError),
        (fail(403, envelope(10)), GraphPermissionError),
        (fail(403, envelope(200)), GraphPermissionError),
        (fail(403, envelope(299)), GraphPermissionError),
        (fail(400, envelope(100, 33, type="GraphMethodException")), NotFoundError),
        (fail(404, envelope(803)), NotFoundError),
        (fail(400, envelope(4)), RateLimitedError),
        (fail(400, envelope(17)), RateLimitedError),
        (fail(400, envelope(32)), RateLimitedError),
        (fail(400, envelope(613)), RateLimitedError),
        (fail(400, envelope(80001), BUC), RateLimitedError),
        (fail(400, envelope(80004)), RateLimitedError),
        (fail(429, "Too Many Requests"), RateLimitedError),
        (fail(400, envelope(100, 2361009)), OrderStateError),
        (fail(400, envelope(2361009)), OrderStateError),
        (fail(400, envelope(100, 1818214)), OrderStateError),
        (fail(400, envelope(1818050)), OrderStateError),
        (fail(400, envelope(100, 9000001)), IdempotencyConflictError),
        (
            fail(400, envelope(100, message="Idempotency key was already used for a different request")),
            IdempotencyConflictError,
        ),
        (fail(500, envelope(1)), TransientError),
        (fail(500, envelope(2)), TransientError),
        (fail(400, envelope(2361081)), TransientError),
        (fail(400, envelope(100, 2361081)), TransientError),
        (fail(400, envelope(100, 2361050)), TransientError),
        (fail(400, envelope(100, 12345, is_transient=True)), TransientError),
        (fail(502, "<html>Bad gateway</html>"), TransientError),
        (fail(503, envelope(None)), TransientError),
        (fail(400, envelope(100)), GraphError),
        (fail(400, envelope(100, 2382045)), GraphError),
        (ok([1, 2]), GraphError),
    ],
)
def test_every_envelope_becomes_its_error_class(
    rig: Callable[..., tuple[GraphClient, Rig]], answer: Answer, expected: type[GraphError]
) -> None:
    client, _ = rig(answer, max_retries=0)
    with pytest.raises(GraphError) as caught:
        client.get_order(ORDER)
    assert type(caught.value) is expected
    assert caught.value.is_transient == (expected in (TransientError, RateLimitedError))


def test_error_carries_the_envelope_fields(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    body = envelope(100, 2361009, message="(#100) Order cannot be acknowledged", error_user_msg="Already shipped")
    client, _ = rig(fail(400, body))
    with pytest.raises(OrderStateError) as caught:
        client.acknowledge_order(ORDER, "k")
    error = caught.value
    assert (error.status, error.code, error.subcode, error.type) == (400, 100, 2361009, "OAuthException")
    assert (error.message, error.fbtrace_id) == ("(#100) Order cannot be acknowledged", "AbCdEf123")
    assert error.user_message == "Already shipped"
    assert (
        str(error) == "(#100) Order cannot be acknowledged (HTTP 400, code 100, subcode 2361009, fbtrace_id AbCdEf123)"
    )


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"X-Business-Use-Case-Usage": json.dumps({PAGE: [{"estimated_time_to_regain_access": 2}]})}, 120.0),
        (
            {
                "X-Business-Use-Case-Usage": json.dumps(
                    {PAGE: [{"estimated_time_to_regain_access": 1}], "99": [{"estimated_time_to_regain_access": 3}]}
                )
            },
            180.0,
        ),
        ({"X-App-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 0.5})}, 30.0),
        ({"X-Business-Use-Case-Usage": json.dumps({PAGE: [{"estimated_time_to_regain_access": 0}]})}, None),
        ({"X-Business-Use-Case-Usage": "not json"}, None),
        ({}, None),
    ],
)
def test_rate_limit_wait_comes_from_the_usage_headers(
    rig: Callable[..., tuple[GraphClient, Rig]], headers: dict[str, str], seconds: float | None
) -> None:
    client, _ = rig(fail(400, envelope(80001), headers), max_retries=0)
    with pytest.raises(RateLimitedError) as caught:
        client.get_order(ORDER)
    assert caught.value.retry_after_seconds == seconds


def test_transport_failures_are_transient_with_status_0(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, _ = rig(httpx.ReadTimeout("timed out"), max_retries=0)
    with pytest.raises(TransientError) as caught:
        client.get_order(ORDER)
    assert caught.value.status == 0
    assert "ReadTimeout" in str(caught.value)


def test_the_token_never_reaches_error_text_or_logs(
    rig: Callable[..., tuple[GraphClient, Rig]], caplog: pytest.LogCaptureFixture
) -> None:
    echoed = envelope(190, message=f"Invalid OAuth access token {TOKEN}")
    client, _ = rig(fail(400, echoed), httpx.ConnectError(f"refused for {TOKEN}"), max_retries=0)
    caplog.set_level(logging.DEBUG)
    errors: list[GraphError] = []
    for _ in range(2):
        with pytest.raises(GraphError) as caught:
            client.get_order(ORDER)
        errors.append(caught.value)
    for error in errors:
        for text in (str(error), repr(error), error.message):
            assert TOKEN not in text
            assert "[token]" in text
    assert TOKEN not in caplog.text


def test_one_log_line_per_failed_attempt_with_the_trace_id(
    rig: Callable[..., tuple[GraphClient, Rig]], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = rig(fail(400, envelope(100, 33)))
    caplog.set_level(logging.WARNING, logger="bot.graph.client")
    with pytest.raises(NotFoundError):
        client.get_order(ORDER)
    [record] = caplog.records
    assert "code=100 subcode=33 fbtrace_id=AbCdEf123" in record.getMessage()
    assert "giving up" in record.getMessage()


def test_retries_resend_the_identical_request(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(fail(503, envelope(2)), httpx.RemoteProtocolError("dropped"), ok({"success": True}))
    client.create_shipment(ORDER, "k", tracking_info={"carrier": "ups", "tracking_number": "1"})
    assert len(script.requests) == 3
    first = script.requests[0]
    for again in script.requests[1:]:
        assert again is first  # built once, sent again: same URL, headers and body bytes
    assert script.sleeps == [0.5, 1.0]  # full jitter at its top: 0.5 * 2**n


def test_retries_stop_at_max_retries(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(fail(400, envelope(100, 2361081)), max_retries=2)
    with pytest.raises(TransientError):
        client.acknowledge_order(ORDER, "k")
    assert len(script.requests) == 3
    assert len(script.sleeps) == 2


def test_retries_stop_at_the_time_budget(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    client, script = rig(fail(500, envelope(1)), max_retries=10, retry_budget_seconds=2.0)
    with pytest.raises(TransientError):
        client.get_order(ORDER)
    assert script.sleeps == [0.5, 1.0]  # the next wait (2.0) would end past the 2 s budget
    assert len(script.requests) == 3


def test_rate_limit_waits_as_long_as_meta_says(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    usage = {"X-Business-Use-Case-Usage": json.dumps({PAGE: [{"estimated_time_to_regain_access": 0.05}]})}
    client, script = rig(fail(400, envelope(80001), usage), ok())
    client.get_order(ORDER)
    assert script.sleeps == [pytest.approx(3.0)]
    assert len(script.requests) == 2


def test_rate_limit_beyond_the_budget_fails_at_once(rig: Callable[..., tuple[GraphClient, Rig]]) -> None:
    usage = {"X-Business-Use-Case-Usage": json.dumps({PAGE: [{"estimated_time_to_regain_access": 5}]})}
    client, script = rig(fail(400, envelope(80001), usage), ok())
    with pytest.raises(RateLimitedError) as caught:
        client.get_order(ORDER)
    assert caught.value.retry_after_seconds == 300.0
    assert (len(script.requests), script.sleeps) == (1, [])


@pytest.mark.parametrize(
    "answer",
    [
        fail(400, envelope(190)),
        fail(403, envelope(200)),
        fail(400, envelope(100, 33)),
        fail(400, envelope(100, 2361009)),
        fail(400, envelope(100, 9000001)),
        fail(400, envelope(100)),
    ],
)
def test_permanent_errors_are_not_retried(rig: Callable[..., tuple[GraphClient, Rig]], answer: Answer) -> None:
    client, script = rig(answer, ok())
    with pytest.raises(GraphError):
        client.acknowledge_order(ORDER, "k")
    assert (len(script.requests), script.sleeps) == (1, [])


def test_from_settings_builds_clients_with_explicit_timeouts() -> None:
    settings = Settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        fb_page_id=PAGE,
        fb_page_access_token=TOKEN,
        fb_graph_url="https://graph.test",
        fb_graph_version="v24.0",
        graph_timeout_seconds=3.5,
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": PAGE, "name": "Shop"})

    with GraphClient.from_settings(settings, transport=httpx.MockTransport(handler)) as client:
        client.get_page()
        client.get_page()
    assert [str(r.url) for r in seen] == [f"https://graph.test/v24.0/{PAGE}?fields=id%2Cname"] * 2
    assert seen[0].extensions["timeout"] == {"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_client_without_a_token_is_refused() -> None:
    with httpx.Client() as http, pytest.raises(ValueError, match="token"):
        GraphClient(http, page_id=PAGE, token="")


def test_each_thread_gets_its_own_client_and_close_closes_them_all() -> None:
    """Production gives every thread its own connection pool (httpcore's shared pool is quadratic; see
    ThreadClients); a thread's client is reused, an ended thread's client is closed when the next one arrives."""
    made: list[httpx.Client] = []

    def factory() -> httpx.Client:
        answer = httpx.MockTransport(lambda r: httpx.Response(200, json={"id": PAGE}))
        made.append(httpx.Client(base_url="https://graph.test", transport=answer))
        return made[-1]

    clients = ThreadClients(factory, "https://graph.test")
    graph = GraphClient(clients, page_id=PAGE, token=TOKEN)
    graph.get_page()
    graph.get_page()
    assert len(made) == 1
    assert clients.get() is made[0]

    def in_a_thread() -> httpx.Client:
        graph.get_page()
        return clients.get()

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(in_a_thread).result()
    assert other is made[1]
    assert other is not made[0]
    assert not other.is_closed
    with ThreadPoolExecutor(max_workers=1) as pool:  # the thread that used `other` has ended by now
        pool.submit(graph.get_page).result()
    assert other.is_closed
    assert len(made) == 3
    graph.close()
    assert all(c.is_closed for c in made)
    with pytest.raises(RuntimeError, match="closed"):
        ThreadPoolExecutor(max_workers=1).submit(clients.get).result()
    assert repr(graph) == f"GraphClient(page_id='{PAGE}', version='v25.0', base_url='https://graph.test')"
