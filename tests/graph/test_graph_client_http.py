"""The Graph client against the Graph sandbox, in-process (WSGI transport) and over real HTTP on 127.0.0.1.

Every test runs in both modes: the in-process one is quick to debug, the HTTP one proves the client's requests
survive a real socket (encoding, keep-alive, dropped connections). The sandbox's call record is the witness of
what the client sent. ``sleep`` is faked, so retries cost no real time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.graph.errors import (
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    OrderStateError,
    RateLimitedError,
    TransientError,
)
from bot.sandbox.graph import GraphSandbox

pytestmark = pytest.mark.e2e

PAGE = "1122334455"
TOKEN = "sandbox-page-token"
ALL_STATES = ["FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED"]
DEFAULT_FIELDS = {"id", "order_status", "created", "last_updated"}


@contextlib.contextmanager
def connect(sandbox: GraphSandbox, mode: str) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` that reaches the sandbox in process or through a real server on a free port."""
    if mode == "in-process":
        with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test") as http:
            yield http
        return
    server = sandbox.serve()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["in-process", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def shared() -> GraphSandbox:
    return GraphSandbox(page_id=PAGE, token=TOKEN, orders=60, seed=7)


@pytest.fixture(scope="module")
def http(shared: GraphSandbox, mode: str) -> Iterator[httpx.Client]:
    """One server and one pooled client per mode for the whole module: tests reset the sandbox, not the socket."""
    with connect(shared, mode) as client:
        yield client


@pytest.fixture
def sandbox(shared: GraphSandbox) -> GraphSandbox:
    shared.reset()  # seeded orders again; idempotency keys, faults and the call record cleared
    return shared


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client_for(http: httpx.Client, sleeps: list[float], *, token: str = TOKEN, **options: Any) -> GraphClient:
    return GraphClient(
        http, page_id=PAGE, token=token, sleep=sleeps.append, clock=lambda: sum(sleeps), jitter=lambda: 0.5, **options
    )


@pytest.fixture
def graph(http: httpx.Client, sandbox: GraphSandbox, sleeps: list[float]) -> GraphClient:
    return client_for(http, sleeps)


def created_order(sandbox: GraphSandbox) -> str:
    return sandbox.order_ids("CREATED")[0]


def unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def test_default_fields(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    order = graph.get_order(order_id)
    assert set(order) == DEFAULT_FIELDS
    assert (order["id"], order["order_status"]) == (order_id, {"state": "CREATED"})
    assert sandbox.calls()[-1]["params"] == {}


def test_fields_override_keeps_the_id(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("IN_PROGRESS", with_reference=True)[0]
    order = graph.get_order(order_id, ["channel", "merchant_order_id"])
    assert set(order) == {"id", "channel", "merchant_order_id"}
    assert order["merchant_order_id"] == sandbox.order(order_id)["merchant_order_id"]


def test_a_full_order_card_comes_in_one_request(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = next(i for i in sandbox.order_ids("COMPLETED") if sandbox.order(i)["shipments"]["data"])
    stored = sandbox.order(order_id)
    before = len(sandbox.calls())
    order = graph.get_order(order_id, ORDER_CARD_FIELDS)
    assert len(sandbox.calls()) == before + 1
    assert sandbox.calls()[-1]["params"] == {"fields": ORDER_CARD_FIELDS}
    assert order["buyer_details"]["name"] == stored["buyer_details"]["name"]
    assert order["shipping_address"]["city"] == stored["shipping_address"]["city"]
    assert [i["id"] for i in order["items"]["data"]] == [i["id"] for i in stored["items"]["data"]]
    assert all({"product_name", "quantity", "price_per_unit"} <= set(i) for i in order["items"]["data"])
    assert [s["id"] for s in order["shipments"]["data"]] == [s["id"] for s in stored["shipments"]["data"]]
    assert {"estimated_payment_details", "selected_shipping_option", "cancellations", "refunds"} <= set(order)


def test_paging_1000_orders_yields_each_once_in_order_and_stops_at_the_last_page(
    mode: str, sleeps: list[float]
) -> None:
    sandbox = GraphSandbox(page_id=PAGE, token=TOKEN, orders=1000, seed=11)
    with connect(sandbox, mode) as http:
        graph = client_for(http, sleeps)
        ids = [order["id"] for order in graph.iter_orders(state=ALL_STATES, fields="id")]
        calls = sandbox.calls()
        last_page = http.get(f"/v25.0/{PAGE}/commerce_orders", params=calls[-1]["params"], headers=_bearer()).json()
    assert ids == sandbox.order_ids()
    assert len(ids) == len(set(ids)) == 1000
    assert all(c["path"] == f"/v25.0/{PAGE}/commerce_orders" and c["status"] == 200 for c in calls)
    cursors = [c["params"].get("after") for c in calls]
    assert cursors[0] is None
    assert len(set(cursors)) == len(cursors)  # no page asked for twice
    assert "next" not in last_page.get("paging", {})  # the walk ended on the page without `next`


def test_short_limits_and_max_pages(graph: GraphClient, sandbox: GraphSandbox) -> None:
    ids = [order["id"] for order in graph.iter_orders(state=ALL_STATES, limit=7, max_pages=3)]
    assert ids == sandbox.order_ids()[: len(ids)]
    assert len(sandbox.calls()) == 3
    assert {c["params"]["limit"] for c in sandbox.calls()} == {"7"}


def test_state_and_filters(graph: GraphClient, sandbox: GraphSandbox) -> None:
    wanted = {"IN_PROGRESS", "COMPLETED"}
    found = [o["id"] for o in graph.iter_orders(state=sorted(wanted), filters=["has_cancellations"])]
    expected = [
        i
        for i in sandbox.order_ids()
        if sandbox.order(i)["order_status"]["state"] in wanted and sandbox.order(i)["cancellations"]["data"]
    ]
    assert found == expected
    assert expected  # the seeded data has such orders, so the filter was exercised
    assert sandbox.calls()[0]["params"]["state"] == "COMPLETED,IN_PROGRESS"
    assert sandbox.calls()[0]["params"]["filters"] == "has_cancellations"


def test_default_state_is_created(graph: GraphClient, sandbox: GraphSandbox) -> None:
    assert [o["id"] for o in graph.iter_orders()] == sandbox.order_ids("CREATED")


def test_time_window(graph: GraphClient, sandbox: GraphSandbox) -> None:
    updated = {i: unix(sandbox.order(i)["last_updated"]) for i in sandbox.order_ids()}
    times = sorted(set(updated.values()))
    after, before = times[10] + 1, times[40] - 1  # strictly between stored times: no boundary ties
    found = {o["id"] for o in graph.iter_orders(state=ALL_STATES, updated_after=after, updated_before=before)}
    assert found == {i for i, t in updated.items() if after < t < before}
    assert 0 < len(found) < len(updated)


def test_edges_list_their_rows(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = next(i for i in sandbox.order_ids("COMPLETED") if sandbox.order(i)["shipments"]["data"])
    stored = sandbox.order(order_id)
    for edge in ("shipments", "cancellations", "refunds"):
        listed = getattr(graph, f"list_{edge}")(order_id)
        assert [row["id"] for row in listed] == [row["id"] for row in stored[edge]["data"]]


def test_get_page(graph: GraphClient) -> None:
    assert graph.get_page() == {"id": PAGE, "name": "Sandbox Shop"}


def test_acknowledge_with_a_merchant_reference(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    assert graph.acknowledge_order(order_id, "key-1", "SO-1") == {"id": order_id, "state": "IN_PROGRESS"}
    assert graph.get_order(order_id, "merchant_order_id")["merchant_order_id"] == "SO-1"


def test_acknowledge_orders_reports_each_order(graph: GraphClient, sandbox: GraphSandbox) -> None:
    first, second = sandbox.order_ids("CREATED")[:2]
    shipped = sandbox.order_ids("IN_PROGRESS")[0]
    results = graph.acknowledge_orders(
        "batch-1", [{"id": first, "merchant_order_reference": "SO-1"}, {"id": second}, {"id": shipped}]
    )
    assert results[:2] == [{"id": first, "state": "IN_PROGRESS"}, {"id": second, "state": "IN_PROGRESS"}]
    assert results[2]["id"] == shipped
    assert results[2]["error"]["error_code"] == 2361009


def test_shipment_then_its_edge(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    graph.acknowledge_order(order_id, "ack-1")
    tracking = {"carrier": "UPS", "tracking_number": "1Z999"}
    assert graph.create_shipment(order_id, "ship-1", tracking_info=tracking) == {"success": True}
    [shipment] = graph.list_shipments(order_id)
    assert shipment["tracking_info"] == {"carrier": "ups", "tracking_number": "1Z999"}  # Meta reads it back lowercase


def test_cancellation_then_its_edge(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    graph.acknowledge_order(order_id, "ack-1")
    graph.cancel_order(order_id, "cancel-1", reason_code="OUT_OF_STOCK", restock_items=True)
    [cancellation] = graph.list_cancellations(order_id)
    assert cancellation["cancel_reason"]["reason_code"] == "OUT_OF_STOCK"
    assert graph.get_order(order_id)["order_status"]["state"] == "COMPLETED"


def test_refund_of_a_shipped_order(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    graph.acknowledge_order(order_id, "ack-1")
    graph.create_shipment(order_id, "ship-1", tracking_info={"carrier": "USPS", "tracking_number": "94001"})
    assert graph.refund_order(order_id, "refund-1", reason_code="DAMAGED_GOODS") == {"success": True}
    assert len(graph.list_refunds(order_id)) == 1


def test_unknown_order_is_not_found(graph: GraphClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        graph.get_order("999000111")
    assert (caught.value.status, caught.value.code, caught.value.subcode) == (400, 100, 33)
    assert caught.value.fbtrace_id


def test_wrong_token_is_invalid(http: httpx.Client, sleeps: list[float], sandbox: GraphSandbox) -> None:
    graph = client_for(http, sleeps, token="not-the-token")
    with pytest.raises(InvalidTokenError):
        graph.get_page()
    assert sleeps == []
    assert "not-the-token" not in json.dumps(sandbox.calls())


@pytest.mark.parametrize(
    ("fault", "expected"),
    [({"invalid_token": True}, InvalidTokenError), ({"revoke_permission": True}, GraphPermissionError)],
)
def test_auth_faults(
    graph: GraphClient, sandbox: GraphSandbox, fault: dict[str, Any], expected: type[Exception]
) -> None:
    sandbox.set_faults(**fault)
    with pytest.raises(expected):
        graph.get_page()
    assert len(sandbox.calls()) == 1


def test_acknowledging_twice_with_new_keys_is_an_order_state_error(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    graph.acknowledge_order(order_id, "first")
    with pytest.raises(OrderStateError) as caught:
        graph.acknowledge_order(order_id, "second")
    assert 2361009 in (caught.value.code, caught.value.subcode)


def test_reusing_a_key_for_a_different_request_is_a_conflict(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    graph.acknowledge_order(order_id, "key-1", "SO-1")
    with pytest.raises(IdempotencyConflictError):
        graph.acknowledge_order(order_id, "key-1", "SO-2")
    assert len(sandbox.calls()) == 2


def test_throttle_longer_than_the_budget_fails_at_once(graph: GraphClient, sandbox: GraphSandbox) -> None:
    sandbox.set_faults(throttle=1, regain_minutes=5)
    with pytest.raises(RateLimitedError) as caught:
        graph.get_order(created_order(sandbox))
    assert caught.value.retry_after_seconds == 300
    assert len(sandbox.calls()) == 1


def test_throttle_without_an_estimate_backs_off_and_retries(
    graph: GraphClient, sandbox: GraphSandbox, sleeps: list[float]
) -> None:
    sandbox.set_faults(throttle=1, regain_minutes=0)
    graph.get_order(created_order(sandbox))
    assert [c["status"] for c in sandbox.calls()] == [400, 200]
    assert sleeps == [0.25]


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_retries_resend_the_identical_request(graph: GraphClient, sandbox: GraphSandbox, sleeps: list[float]) -> None:
    order_id = created_order(sandbox)
    sandbox.set_faults(status=503, count=2)
    assert graph.acknowledge_order(order_id, "key-1", "SO-1") == {"id": order_id, "state": "IN_PROGRESS"}
    calls = sandbox.calls()
    assert [c["status"] for c in calls] == [503, 503, 200]
    assert all(
        (c["method"], c["path"], c["params"], c["idempotency_key"])
        == ("POST", calls[0]["path"], calls[0]["params"], "key-1")
        for c in calls
    )
    assert calls[0]["params"] == {"idempotency_key": "key-1", "merchant_order_reference": "SO-1"}
    assert len(sleeps) == 2


@pytest.mark.parametrize("code", [2361081, 2361050])
def test_commerce_transient_codes_are_retried(graph: GraphClient, sandbox: GraphSandbox, code: int) -> None:
    order_id = created_order(sandbox)
    sandbox.set_faults(transient_code=code, count=1)
    graph.acknowledge_order(order_id, "key-1")
    assert [c["status"] for c in sandbox.calls()] == [400, 200]


def test_retries_stop_at_the_bound(http: httpx.Client, sleeps: list[float], sandbox: GraphSandbox) -> None:
    graph = client_for(http, sleeps, max_retries=2)
    sandbox.set_faults(status=500, count=10)
    with pytest.raises(TransientError) as caught:
        graph.get_order(created_order(sandbox))
    assert caught.value.status == 500
    assert [c["status"] for c in sandbox.calls()] == [500, 500, 500]


def test_a_dropped_connection_after_commit_is_retried_with_the_same_key(
    graph: GraphClient, sandbox: GraphSandbox
) -> None:
    """Meta applied the acknowledgement but the answer was lost: the same-key retry gets the stored answer."""
    order_id = created_order(sandbox)
    sandbox.set_faults(drop_after_commit=1)
    assert graph.acknowledge_order(order_id, "key-1", "SO-1") == {"id": order_id, "state": "IN_PROGRESS"}
    calls = sandbox.calls()
    assert len(calls) == 2
    assert calls[0]["params"] == calls[1]["params"]
    assert sandbox.order(order_id)["merchant_order_id"] == "SO-1"


def test_a_dead_server_is_transient_with_status_0(sleeps: list[float]) -> None:
    server = GraphSandbox(page_id=PAGE, token=TOKEN, orders=1).serve()
    server.stop()  # nothing listens on this port any more
    with httpx.Client(base_url=server.url, timeout=2) as http:
        graph = client_for(http, sleeps, max_retries=1)
        with pytest.raises(TransientError) as caught:
            graph.get_page()
    assert caught.value.status == 0
    assert len(sleeps) == 1


def test_no_recorded_call_carries_the_token(graph: GraphClient, sandbox: GraphSandbox) -> None:
    order_id = created_order(sandbox)
    list(graph.iter_orders(state=ALL_STATES, max_pages=3))
    graph.get_order(order_id, ORDER_CARD_FIELDS)
    graph.acknowledge_order(order_id, "key-1", "SO-1")
    with contextlib.suppress(OrderStateError):
        graph.acknowledge_order(order_id, "key-2")
    assert len(sandbox.calls()) == 6
    assert TOKEN not in json.dumps(sandbox.calls())


def test_from_settings_over_real_http() -> None:
    sandbox = GraphSandbox(page_id=PAGE, token=TOKEN, orders=5)
    server = sandbox.serve()
    settings = Settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        fb_page_id=PAGE,
        fb_page_access_token=TOKEN,
        fb_graph_url=server.url,
    )
    try:
        with GraphClient.from_settings(settings) as graph:
            assert graph.get_page()["id"] == PAGE
            assert [o["id"] for o in graph.iter_orders(state=ALL_STATES)] == sandbox.order_ids()
    finally:
        server.stop()
