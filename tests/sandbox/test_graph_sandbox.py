"""The Graph sandbox behaves like Meta's Order Management API, checked with raw httpx (not the bot's client).

Each rule comes from Meta's Order Management API reference; tests that take the ``graph`` fixture run twice,
in-process and over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bot.sandbox.graph import IDEMPOTENCY_CONFLICT_SUBCODE, GraphSandbox, main

NOW = 1_770_000_000
PAGE = "1122334455"
TOKEN = "sandbox-page-token"
ALL_STATES = "FB_PROCESSING,CREATED,IN_PROGRESS,COMPLETED"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sandbox() -> GraphSandbox:
    return GraphSandbox(orders=60, now=NOW)


@pytest.fixture
def client(sandbox: GraphSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=AUTH) as c:
        yield c


@pytest.fixture(params=["in-process", "http"])
def graph(request: pytest.FixtureRequest, sandbox: GraphSandbox) -> Iterator[httpx.Client]:
    """A client on the sandbox, in-process or over a real loopback socket."""
    if request.param == "in-process":
        with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=AUTH) as c:
            yield c
        return
    with served(sandbox) as url, httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
        yield c


@contextlib.contextmanager
def served(sandbox: GraphSandbox) -> Iterator[str]:
    """``serve()`` hands back a started server: stop it whatever happens."""
    server = sandbox.serve()
    try:
        yield server.url
    finally:
        server.stop()


def list_all(client: httpx.Client, **params: Any) -> tuple[list[str], list[int], int]:
    """Follow ``cursors.after`` while ``next`` exists: (ids, page sizes, requests)."""
    ids: list[str] = []
    sizes: list[int] = []
    query = dict(params)
    while True:
        response = client.get(f"/v25.0/{PAGE}/commerce_orders", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [o["id"] for o in body["data"]]
        sizes.append(len(body["data"]))
        if "next" not in body.get("paging", {}):
            return ids, sizes, len(sizes)
        query["after"] = body["paging"]["cursors"]["after"]


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= body.keys()
    return body


def ack(client: httpx.Client, order_id: str, key: str, **params: Any) -> httpx.Response:
    return client.post(f"/v25.0/{order_id}/acknowledge_order", data={"idempotency_key": key, **params})


def test_same_seed_same_orders_and_different_seed_differs() -> None:
    a, b, c = (
        GraphSandbox(orders=30, now=NOW),
        GraphSandbox(orders=30, now=NOW),
        GraphSandbox(orders=30, seed=8, now=NOW),
    )
    assert [a.order(i) for i in a.order_ids()] == [b.order(i) for i in b.order_ids()]
    assert a.order_ids() != c.order_ids()


def test_seeded_orders_cover_every_state_and_channel_with_realistic_fields(sandbox: GraphSandbox) -> None:
    orders = [sandbox.order(i) for i in sandbox.order_ids()]
    assert {o["order_status"]["state"] for o in orders} == {"FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED"}
    assert {o["channel"] for o in orders} == {"facebook", "instagram"}
    assert all(o["id"].isdigit() and 15 <= len(o["id"]) <= 16 for o in orders)
    assert any(o.get("merchant_order_id", "").startswith("SHOP-") for o in orders)
    assert any(o["shipments"]["data"] for o in orders)
    assert any(o["cancellations"]["data"] for o in orders)
    assert any(o["refunds"]["data"] for o in orders)
    item = orders[0]["items"]["data"][0]
    assert {"id", "retailer_id", "product_id", "quantity", "price_per_unit", "product_name", "tax_details"} <= set(item)
    assert {"name", "email", "phone_number", "email_remarketing_option"} <= set(orders[0]["buyer_details"])
    assert orders[0]["buyer_details"]["email"].endswith("@marketplace.facebook.com")


def test_seeded_timestamps_lie_in_the_last_sixty_days(sandbox: GraphSandbox, client: httpx.Client) -> None:
    body = client.get(f"/v25.0/{PAGE}/commerce_orders", params={"state": ALL_STATES, "updated_before": NOW + 1}).json()
    assert body["data"]
    earliest = client.get(
        f"/v25.0/{PAGE}/commerce_orders", params={"state": ALL_STATES, "updated_before": NOW - 61 * 86_400}
    ).json()
    assert earliest == {"data": []}


def test_default_fields(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("COMPLETED")[0]
    body = graph.get(f"/v25.0/{order_id}").json()
    assert list(body) == ["id", "order_status", "created", "last_updated"]
    assert body["id"] == order_id
    assert body["order_status"] == {"state": "COMPLETED"}
    listed = graph.get(f"/v25.0/{PAGE}/commerce_orders").json()["data"]
    assert listed
    assert all(list(o) == ["id", "order_status", "created", "last_updated"] for o in listed)
    assert {o["order_status"]["state"] for o in listed} == {"CREATED"}  # no state: CREATED only


def test_fields_replace_the_defaults_and_keep_id(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("IN_PROGRESS", with_reference=True)[0]
    body = client.get(f"/v25.0/{order_id}", params={"fields": "channel,merchant_order_id"}).json()
    assert body == {
        "id": order_id,
        "channel": sandbox.order(order_id)["channel"],
        "merchant_order_id": body["merchant_order_id"],
    }
    assert body["merchant_order_id"].startswith("SHOP-")


def test_nested_expansion_gives_a_whole_card_in_one_request(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("COMPLETED")[0]
    fields = (
        "buyer_details{name},shipping_address{city,country},items{id,quantity,product_name},shipments{tracking_info}"
    )
    body = client.get(f"/v25.0/{order_id}", params={"fields": fields}).json()
    stored = sandbox.order(order_id)
    assert body["buyer_details"] == {"name": stored["buyer_details"]["name"]}
    assert set(body["shipping_address"]) == {"city", "country"}
    assert [set(i) for i in body["items"]["data"]] == [{"id", "quantity", "product_name"}] * len(
        stored["items"]["data"]
    )
    assert all(set(s) == {"id", "tracking_info"} for s in body["shipments"]["data"])
    assert len(sandbox.calls()) == 1


def test_nested_edges_page_like_graph(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.add_order(items=120)["id"]
    nested = client.get(f"/v25.0/{order_id}", params={"fields": "items{id}"}).json()["items"]
    assert len(nested["data"]) == 25
    assert "next" in nested["paging"]
    wide = client.get(f"/v25.0/{order_id}", params={"fields": "items.limit(100){id}"}).json()["items"]
    assert len(wide["data"]) == 100
    seen, query = [], {"fields": "id,quantity", "limit": "50"}
    while True:
        page = client.get(f"/v25.0/{order_id}/items", params=query).json()
        seen += [i["id"] for i in page["data"]]
        if "next" not in page["paging"]:
            break
        query["after"] = page["paging"]["cursors"]["after"]
    assert seen == [i["id"] for i in sandbox.order(order_id)["items"]["data"]]


@pytest.mark.parametrize("edge", ["items", "shipments", "cancellations", "refunds"])
def test_order_edges(client: httpx.Client, sandbox: GraphSandbox, edge: str) -> None:
    order_id = next(i for i in sandbox.order_ids() if sandbox.order(i)[edge]["data"])
    body = client.get(f"/v25.0/{order_id}/{edge}").json()
    assert [x["id"] for x in body["data"]] == [x["id"] for x in sandbox.order(order_id)[edge]["data"]]


@pytest.mark.parametrize(
    ("path", "params", "code", "subcode"),
    [
        ("/v25.0/123456789012345", {}, 100, 33),
        ("/v25.0/123456789012345/items", {}, 100, 33),
        ("/v25.0/{order}", {"fields": "id,nope"}, 100, None),
        ("/v25.0/{order}", {"fields": "items{id"}, 100, None),
        ("/v25.0/{order}/bogus", {}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"state": "SHIPPED"}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"state": "created"}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"filters": "has_returns"}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"limit": "-1"}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"after": "not-a-cursor"}, 100, None),
        ("/v25.0/{page}/commerce_orders", {"updated_after": "yesterday"}, 100, None),
        ("/25/{page}/commerce_orders", {}, 2500, None),
    ],
)
def test_read_errors_are_graph_envelopes(
    client: httpx.Client, sandbox: GraphSandbox, path: str, params: dict[str, str], code: int, subcode: int | None
) -> None:
    response = client.get(path.format(order=sandbox.order_ids()[0], page=PAGE), params=params)
    assert response.status_code == 400
    body = error(response)
    assert (body["code"], body.get("error_subcode")) == (code, subcode)
    assert "X-Business-Use-Case-Usage" in response.headers


def test_unknown_order_is_metas_subcode_33(graph: httpx.Client) -> None:
    body = error(graph.get("/v25.0/123456789012345"))
    assert body["type"] == "GraphMethodException"
    assert body["is_transient"] is False
    assert "Object with ID '123456789012345' does not exist" in body["message"]


def test_fb_processing_orders_hide_buyer_details(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("FB_PROCESSING")[0]
    body = client.get(f"/v25.0/{order_id}", params={"fields": "buyer_details,shipping_address,items{id}"}).json()
    assert "buyer_details" not in body
    assert "shipping_address" not in body
    assert body["items"]["data"]


def test_paging_a_thousand_orders_yields_each_once_in_order(graph: httpx.Client) -> None:
    big = GraphSandbox(orders=1000, now=NOW)
    with httpx.Client(transport=big.transport(), base_url="http://graph.test", headers=AUTH) as client:
        ids, sizes, requests = list_all(client, state=ALL_STATES)
    assert ids == big.order_ids()
    assert len(set(ids)) == 1000
    assert requests == len(big.calls())  # no request past the last page
    assert 0 in sizes
    assert any(0 < s < 25 for s in sizes[:-1])


def test_paging_over_http_follows_cursors_to_the_end(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    ids, sizes, _ = list_all(graph, state=ALL_STATES, limit="7")
    assert ids == sandbox.order_ids()
    assert max(sizes) == 7


def test_limit_is_capped_at_25_and_pages_go_back(client: httpx.Client) -> None:
    first = client.get(f"/v25.0/{PAGE}/commerce_orders", params={"state": ALL_STATES, "limit": 100}).json()
    assert len(first["data"]) == 25
    assert "previous" not in first["paging"]
    second = client.get(first["paging"]["next"]).json()
    back = client.get(second["paging"]["previous"]).json()
    assert [o["id"] for o in back["data"]] == [o["id"] for o in first["data"]]


def test_the_commerce_account_id_lists_the_same_orders(client: httpx.Client, sandbox: GraphSandbox) -> None:
    cms = client.get(f"/v25.0/{PAGE}", params={"fields": "commerce_merchant_settings{id}"}).json()
    cms_id = cms["commerce_merchant_settings"]["id"]
    via_cms = client.get(f"/v25.0/{cms_id}/commerce_orders", params={"state": ALL_STATES}).json()["data"]
    assert [o["id"] for o in via_cms] == sandbox.order_ids()[:25]


def test_next_links_carry_the_query_but_never_a_header_token(client: httpx.Client) -> None:
    body = client.get(f"/v25.0/{PAGE}/commerce_orders", params={"state": ALL_STATES, "fields": "id,channel"}).json()
    url = httpx.URL(body["paging"]["next"])
    assert url.params["fields"] == "id,channel"
    assert url.params["limit"] == "25"
    assert TOKEN not in str(url)


def state_and_filter_cases() -> list[Any]:
    lists = {"comma": ",".join, "json": json.dumps}
    return [
        pytest.param(states, filters, encode, id=f"{'+'.join(states)}/{'+'.join(filters) or '-'}/{name}")
        for name, encode in lists.items()
        for states, filters in [
            (["CREATED"], []),
            (["IN_PROGRESS", "COMPLETED"], []),
            (["COMPLETED"], ["has_cancellations"]),
            (["COMPLETED"], ["HAS_REFUNDS", "no_cancellations"]),
            (["IN_PROGRESS", "COMPLETED"], ["no_shipments"]),
            (["IN_PROGRESS", "COMPLETED"], ["has_fulfillments", "No_Refunds"]),
        ]
    ]


@pytest.mark.parametrize(("states", "filters", "encode"), state_and_filter_cases())
def test_states_are_or_and_filters_are_and(
    client: httpx.Client, sandbox: GraphSandbox, states: list[str], filters: list[str], encode: Any
) -> None:
    tests = {
        "has_cancellations": lambda o: bool(o["cancellations"]["data"]),
        "no_cancellations": lambda o: not o["cancellations"]["data"],
        "has_refunds": lambda o: bool(o["refunds"]["data"]),
        "no_refunds": lambda o: not o["refunds"]["data"],
        "no_shipments": lambda o: not o["shipments"]["data"],
        "has_fulfillments": lambda o: bool(o["shipments"]["data"]),
    }
    expected = [
        i
        for i in sandbox.order_ids()
        if (o := sandbox.order(i))["order_status"]["state"] in states and all(tests[f.lower()](o) for f in filters)
    ]
    params = {"state": encode(states), **({"filters": encode(filters)} if filters else {})}
    ids, _, _ = list_all(client, **params)
    assert expected
    assert ids == expected


def test_json_body_lists_on_a_get_are_read_too(client: httpx.Client, sandbox: GraphSandbox) -> None:
    response = client.request(
        "GET", f"/v25.0/{PAGE}/commerce_orders", json={"state": ["COMPLETED"], "filters": ["has_refunds"]}
    )
    assert {sandbox.order(o["id"])["order_status"]["state"] for o in response.json()["data"]} == {"COMPLETED"}


def test_time_window_filters_on_last_updated(client: httpx.Client, sandbox: GraphSandbox) -> None:
    stamps = {i: client.get(f"/v25.0/{i}").json()["last_updated"] for i in sandbox.order_ids()}
    orders = client.get(f"/v25.0/{PAGE}/commerce_orders", params={"state": ALL_STATES, "fields": "last_updated"})
    assert orders.status_code == 200
    after, before = NOW - 20 * 86_400, NOW - 2 * 86_400
    ids, _, _ = list_all(client, state=ALL_STATES, updated_after=after, updated_before=before)
    from datetime import datetime

    expected = [i for i in sandbox.order_ids() if after < datetime.fromisoformat(stamps[i]).timestamp() < before]
    assert expected
    assert ids == expected


@pytest.mark.parametrize("how", ["header", "query", "form", "json"])
def test_token_as_header_or_parameter(sandbox: GraphSandbox, how: str) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    path = f"/v25.0/{order_id}/acknowledge_order"
    body = {"idempotency_key": "k1", "merchant_order_reference": "SHOP-9"}
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test") as c:
        response = {
            "header": lambda: c.post(path, data=body, headers=AUTH),
            "query": lambda: c.post(path, params={"access_token": TOKEN, **body}),
            "form": lambda: c.post(path, data={"access_token": TOKEN, **body}),
            "json": lambda: c.post(path, json={"access_token": TOKEN, **body}),
        }[how]()
    assert response.json() == {"id": order_id, "state": "IN_PROGRESS"}
    assert sandbox.order(order_id)["merchant_order_id"] == "SHOP-9"
    assert TOKEN not in json.dumps(sandbox.calls())


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
def test_wrong_or_missing_token_is_190(graph: httpx.Client, headers: dict[str, str]) -> None:
    graph.headers.pop("Authorization")
    body = error(graph.get(f"/v25.0/{PAGE}/commerce_orders", headers=headers))
    assert body["code"] == 190
    assert body["type"] == "OAuthException"


def test_call_record_never_holds_the_token(sandbox: GraphSandbox) -> None:
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test") as c:
        first = c.get(f"/v25.0/{PAGE}/commerce_orders", params={"access_token": TOKEN, "limit": 2}).json()
        assert TOKEN in first["paging"]["next"]  # Graph repeats a parameter token in its links ...
        c.get(first["paging"]["next"])
        c.post(
            f"/v25.0/{PAGE}/acknowledge_orders", data={"access_token": TOKEN, "idempotency_key": "x", "orders": "[]"}
        )
    calls = sandbox.calls()
    assert len(calls) == 3
    assert TOKEN not in json.dumps(calls)
    assert all("access_token" not in c["params"] for c in calls)


def test_acknowledge_then_read_back_the_reference(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    response = ack(graph, order_id, "intent-1", merchant_order_reference="SHOP-4242")
    assert (response.status_code, response.json()) == (200, {"id": order_id, "state": "IN_PROGRESS"})
    body = graph.get(f"/v25.0/{order_id}", params={"fields": "order_status,merchant_order_id"}).json()
    assert body == {"id": order_id, "order_status": {"state": "IN_PROGRESS"}, "merchant_order_id": "SHOP-4242"}


def test_twenty_concurrent_identical_acks_make_one_change(sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    sandbox.set_faults(latency_ms=50, match={"method": "POST"})  # all twenty are in flight together
    with served(sandbox) as url, httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
        with ThreadPoolExecutor(20) as pool:
            responses = list(
                pool.map(lambda _: ack(c, order_id, "same-key", merchant_order_reference="R-1"), range(20))
            )
        again = ack(c, order_id, "another-key", merchant_order_reference="R-1")
    assert {(r.status_code, r.content) for r in responses} == {(200, responses[0].content)}
    assert responses[0].json() == {"id": order_id, "state": "IN_PROGRESS"}
    assert error(again)["error_subcode"] == 2361009  # the one change happened; a new intent is refused
    assert len([c for c in sandbox.calls() if c["idempotency_key"] == "same-key"]) == 20


def test_same_key_with_a_different_reference_is_refused(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    assert ack(graph, order_id, "k-1", merchant_order_reference="SHOP-1").status_code == 200
    response = ack(graph, order_id, "k-1", merchant_order_reference="SHOP-2")
    body = error(response)
    assert response.status_code == 400
    assert (body["type"], body["code"], body["error_subcode"]) == ("OAuthException", 100, IDEMPOTENCY_CONFLICT_SUBCODE)
    assert "idempotency key" in body["message"]
    assert "different request" in body["message"]
    assert sandbox.order(order_id)["merchant_order_id"] == "SHOP-1"


def test_the_same_request_in_another_encoding_is_a_replay(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_ids = sandbox.order_ids("CREATED")[:2]
    orders = [{"id": i, "merchant_order_reference": f"R-{n}"} for n, i in enumerate(order_ids)]
    form = client.post(
        f"/v25.0/{PAGE}/acknowledge_orders", data={"idempotency_key": "b1", "orders": json.dumps(orders)}
    )
    body = client.post(f"/v25.0/{PAGE}/acknowledge_orders", json={"idempotency_key": "b1", "orders": orders})
    query = client.post(
        f"/v25.0/{PAGE}/acknowledge_orders", params={"idempotency_key": "b1", "orders": json.dumps(orders)}
    )
    assert form.status_code == 200
    assert form.content == body.content == query.content


@pytest.mark.parametrize(
    "key",
    [None, "", "k" * 101, "has spaces", "semi;colon", "ümlaut"],
    ids=["missing", "empty", "101", "space", ";", "ü"],
)
def test_malformed_keys_are_refused_and_change_nothing(
    client: httpx.Client, sandbox: GraphSandbox, key: str | None
) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    params = {} if key is None else {"idempotency_key": key}
    response = client.post(f"/v25.0/{order_id}/acknowledge_order", data=params)
    assert response.status_code == 400
    assert error(response)["code"] == 100
    assert sandbox.order(order_id)["order_status"]["state"] == "CREATED"


@pytest.mark.parametrize("key", ["k" * 100, "5f1c2c8e-8a7e-4c59-9f1e-0b7f0d3a2b11", "a_B-9"])
def test_keys_within_the_rule_are_accepted(client: httpx.Client, sandbox: GraphSandbox, key: str) -> None:
    assert ack(client, sandbox.order_ids("CREATED")[0], key).status_code == 200


def test_a_replayed_failure_is_the_same_failure(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("FB_PROCESSING")[0]
    first = ack(client, order_id, "early")
    assert error(first)["error_subcode"] == 2361009
    assert "processing" in error(first)["message"]
    sandbox.advance(order_id)  # now CREATED: a fresh request would succeed ...
    replay = ack(client, order_id, "early")
    assert (replay.status_code, replay.content) == (first.status_code, first.content)  # ... a retry does not
    assert sandbox.order(order_id)["order_status"]["state"] == "CREATED"
    assert ack(client, order_id, "fresh").json()["state"] == "IN_PROGRESS"


@pytest.mark.parametrize("state", ["IN_PROGRESS", "COMPLETED"])
def test_acknowledge_only_from_created(client: httpx.Client, sandbox: GraphSandbox, state: str) -> None:
    body = error(ack(client, sandbox.order_ids(state)[0], "k"))
    assert (body["code"], body["error_subcode"]) == (100, 2361009)
    assert "cannot be acknowledged" in body["message"]


def test_batch_acknowledgement_reports_each_order(client: httpx.Client, sandbox: GraphSandbox) -> None:
    created, done = sandbox.order_ids("CREATED")[0], sandbox.order_ids("COMPLETED")[0]
    orders = [{"id": created, "merchant_order_reference": "B-1"}, {"id": "999999999999999"}, {"id": done}]
    body = client.post(f"/v25.0/{PAGE}/acknowledge_orders", json={"idempotency_key": "batch", "orders": orders}).json()
    assert body["orders"][0] == {"id": created, "state": "IN_PROGRESS"}
    assert body["orders"][1] == {
        "id": "999999999999999",
        "error": {"error_code": 2361003, "error_message": "Invalid Order ID"},
    }
    assert body["orders"][2]["error"]["error_code"] == 2361009
    assert sandbox.order(created)["merchant_order_id"] == "B-1"


@pytest.mark.parametrize("orders", [[], [{"id": str(10**14 + n)} for n in range(101)], "not json", [{"ref": 1}]])
def test_batch_acknowledgement_validates_orders(client: httpx.Client, orders: Any) -> None:
    raw = orders if isinstance(orders, str) else json.dumps(orders)
    response = client.post(f"/v25.0/{PAGE}/acknowledge_orders", data={"idempotency_key": "b", "orders": raw})
    assert response.status_code == 400
    assert error(response)["code"] == 100


def post(client: httpx.Client, order_id: str, edge: str, key: str, **params: Any) -> httpx.Response:
    return client.post(f"/v25.0/{order_id}/{edge}", json={"idempotency_key": key, **params})


def test_shipments_and_cancellations_complete_the_order(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}, {"quantity": 1}])["id"]
    first, second = sandbox.order(order_id)["items"]["data"]
    tracking = {"carrier": "UPS", "tracking_number": "1Z1"}
    shipped = post(
        client, order_id, "shipments", "s1", items=[{"item_id": first["id"], "quantity": 1}], tracking_info=tracking
    )
    assert shipped.json() == {"success": True}
    assert sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
    duplicate = post(
        client, order_id, "shipments", "s2", items=[{"item_id": first["id"], "quantity": 1}], tracking_info=tracking
    )
    assert error(duplicate)["error_subcode"] == 2382045
    too_many = post(
        client, order_id, "cancellations", "c0", items=[{"retailer_id": second["retailer_id"], "quantity": 5}]
    )
    assert error(too_many)["error_subcode"] == 1818215
    cancel = post(client, order_id, "cancellations", "c1", cancel_reason={"reason_code": "OUT_OF_STOCK"})
    assert cancel.json() == {"success": True}
    order = sandbox.order(order_id)
    assert order["order_status"]["state"] == "COMPLETED"
    assert [i["status"] for i in order["items"]["data"]] == [
        {"in_progress": 0, "fulfilled": 1, "cancelled": 1},
        {"in_progress": 0, "fulfilled": 0, "cancelled": 1},
    ]
    assert error(post(client, order_id, "cancellations", "c2"))["error_subcode"] == 1818050


def test_refunds_apply_to_shipped_units_only(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}])["id"]
    assert error(post(client, order_id, "refunds", "r0", reason_code="DAMAGED_GOODS"))["error_subcode"] == 1818107
    assert error(post(client, order_id, "refunds", "r1", reason_code="BECAUSE"))["code"] == 100
    post(client, order_id, "shipments", "s1", tracking_info={"carrier": "USPS", "tracking_number": "94001"})
    item = sandbox.order(order_id)["items"]["data"][0]
    line = [{"item_id": item["id"], "item_refund_quantity": 1}]
    assert post(client, order_id, "refunds", "r2", reason_code="DAMAGED_GOODS", items=line).json() == {"success": True}
    refunds = client.get(f"/v25.0/{order_id}/refunds").json()["data"]
    assert refunds[0]["refund_amount"]["subtotal"] == item["price_per_unit"]
    listed, _, _ = list_all(client, state="COMPLETED", filters="has_refunds")
    assert order_id in listed
    line = [{"item_id": item["id"], "item_refund_quantity": 2}]
    assert (
        error(post(client, order_id, "refunds", "r3", reason_code="DAMAGED_GOODS", items=line))["error_subcode"]
        == 2382023
    )


def test_a_shipment_may_not_change_the_merchant_reference(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("IN_PROGRESS", with_reference=True)[0]
    response = post(client, order_id, "shipments", "s", merchant_order_reference="OTHER-1")
    assert error(response)["code"] == 100
    assert "merchant_order_reference" in error(response)["message"]


@pytest.mark.parametrize(("state", "edge"), [("CREATED", "shipments"), ("FB_PROCESSING", "cancellations")])
def test_writes_respect_the_state_machine(client: httpx.Client, sandbox: GraphSandbox, state: str, edge: str) -> None:
    order_id = sandbox.order_ids(state)[0]
    assert error(post(client, order_id, edge, "k"))["code"] == 100
    assert sandbox.order(order_id)["order_status"]["state"] == state


@pytest.mark.parametrize(("status", "code"), [(500, 1), (503, 2)])
def test_status_faults_hit_the_next_n_responses(client: httpx.Client, status: int, code: int) -> None:
    client.post("/_sandbox/faults", json={"status": status, "count": 2})
    responses = [client.get(f"/v25.0/{PAGE}/commerce_orders") for _ in range(3)]
    assert [r.status_code for r in responses] == [status, status, 200]
    assert error(responses[0])["code"] == code
    assert error(responses[0])["is_transient"] is True


def test_throttle_shows_in_the_usage_header(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"throttle": 1, "regain_minutes": 7})
    throttled, fine = client.get(f"/v25.0/{PAGE}"), client.get(f"/v25.0/{PAGE}")
    assert error(throttled)["code"] == 80001
    assert error(throttled)["is_transient"] is True
    usage = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[PAGE][0]
    assert usage["type"] == "pages"
    assert usage["call_count"] == 100
    assert usage["estimated_time_to_regain_access"] == 7
    assert json.loads(fine.headers["X-Business-Use-Case-Usage"])[PAGE][0]["estimated_time_to_regain_access"] == 0


def test_faults_can_be_scoped_and_cleared(client: httpx.Client, sandbox: GraphSandbox) -> None:
    sandbox.set_faults(status=503, count=5, match={"method": "POST", "path": "acknowledge"})
    assert client.get(f"/v25.0/{PAGE}/commerce_orders").status_code == 200
    assert ack(client, sandbox.order_ids("CREATED")[0], "k").status_code == 503
    client.post("/_sandbox/faults", json={"clear": True})
    assert client.get("/_sandbox/faults").json() == []
    assert ack(client, sandbox.order_ids("CREATED")[0], "k").status_code == 200  # a fault is not stored for the key


def test_latency_persists_until_changed(client: httpx.Client, sandbox: GraphSandbox) -> None:
    sandbox.set_faults(latency_ms=5)
    client.get(f"/v25.0/{PAGE}")
    client.get(f"/v25.0/{PAGE}")
    sandbox.set_faults(latency_ms=0)
    client.get(f"/v25.0/{PAGE}")
    assert [c["faults"] for c in sandbox.calls()] == [["latency"], ["latency"], []]


@pytest.mark.parametrize(("fault", "code", "status"), [("invalid_token", 190, 400), ("revoke_permission", 200, 403)])
def test_token_faults_hold_until_turned_off(
    client: httpx.Client, sandbox: GraphSandbox, fault: str, code: int, status: int
) -> None:
    sandbox.set_faults(**{fault: True})
    responses = [client.get(f"/v25.0/{PAGE}/commerce_orders") for _ in range(2)]
    assert all(r.status_code == status and error(r)["code"] == code for r in responses)
    sandbox.set_faults(**{fault: False})
    assert client.get(f"/v25.0/{PAGE}/commerce_orders").status_code == 200


def test_transient_code_then_the_retry_succeeds(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    sandbox.set_faults(transient_code=2361081, count=1)
    body = error(ack(client, order_id, "k"))
    assert (body["error_subcode"], body["is_transient"]) == (2361081, True)
    assert ack(client, order_id, "k").json()["state"] == "IN_PROGRESS"


def test_drop_after_commit_applies_then_hangs_up(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = sandbox.order_ids("CREATED")[0]
    sandbox.set_faults(drop_after_commit=1)
    assert graph.get(f"/v25.0/{order_id}").status_code == 200  # GETs are not dropped
    with pytest.raises(httpx.TransportError):
        ack(graph, order_id, "k", merchant_order_reference="D-1")
    assert sandbox.order(order_id)["merchant_order_id"] == "D-1"  # Meta committed it
    retry = ack(graph, order_id, "k", merchant_order_reference="D-1")
    assert retry.json() == {"id": order_id, "state": "IN_PROGRESS"}  # the retry gets the original answer


def test_unknown_fault_settings_are_refused(client: httpx.Client) -> None:
    response = client.post("/_sandbox/faults", json={"latency": 3})
    assert response.status_code == 400
    assert "latency" in response.json()["error"]["message"]


def test_sandbox_controls_over_http(sandbox: GraphSandbox) -> None:
    name = "<!channel> Zoë & <@U123> " + "x" * 3000
    with served(sandbox) as url, httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/_sandbox/").json()["page_id"] == PAGE
        added = c.post("/_sandbox/orders", json={"buyer_details": {"name": name}, "state": "FB_PROCESSING"})
        assert added.status_code == 201
        order_id = added.json()["id"]
        assert added.json()["buyer_details"]["name"] == name
        assert added.json()["buyer_details"]["email"]
        advanced = c.post(f"/_sandbox/orders/{order_id}/advance", json={}).json()
        assert advanced["order_status"]["state"] == "CREATED"
        ref = {"to": "IN_PROGRESS", "merchant_order_reference": "SHOP-77"}
        assert c.post(f"/_sandbox/orders/{order_id}/advance", json=ref).json()["merchant_order_id"] == "SHOP-77"
        assert c.get(f"/_sandbox/orders/{order_id}").json()["order_status"]["state"] == "IN_PROGRESS"
        assert c.post(f"/_sandbox/orders/{order_id}/advance", json={"to": "CREATED"}).status_code == 400
        assert c.get("/_sandbox/orders/1").status_code == 404
        c.get(f"/v25.0/{order_id}", headers=AUTH)
        assert [x["path"] for x in c.get("/_sandbox/calls").json()] == [f"/v25.0/{order_id}"]
        assert c.post("/_sandbox/reset").json() == {"ok": True}
        assert c.get("/_sandbox/calls").json() == []
        assert c.get(f"/_sandbox/orders/{order_id}").status_code == 404
        assert c.get("/_sandbox/nope").status_code == 404


def test_new_orders_appear_at_the_top_and_after_the_watermark(client: httpx.Client, sandbox: GraphSandbox) -> None:
    added = sandbox.add_order()
    body = client.get(f"/v25.0/{PAGE}/commerce_orders", params={"updated_after": NOW}).json()
    assert [o["id"] for o in body["data"]] == [added["id"]]


def test_add_order_refuses_unknown_fields(sandbox: GraphSandbox) -> None:
    with pytest.raises(ValueError, match="buyer"):
        sandbox.add_order(buyer={"name": "x"})


def test_reset_returns_to_the_seeded_state(sandbox: GraphSandbox, client: httpx.Client) -> None:
    before = [sandbox.order(i) for i in sandbox.order_ids()]
    ack(client, sandbox.order_ids("CREATED")[0], "k")
    sandbox.add_order()
    sandbox.set_faults(status=500, count=3)
    sandbox.reset()
    assert [sandbox.order(i) for i in sandbox.order_ids()] == before
    assert sandbox.calls() == []
    assert sandbox.faults() == []
    assert ack(client, sandbox.order_ids("CREATED")[0], "k").status_code == 200  # keys were forgotten too


def test_orderdesk_sandbox_serves_and_prints_what_to_configure() -> None:
    command = [
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        "0",
        "--orders",
        "5",
        "--token",
        "tok-1",
        "--page-id",
        "42",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(4)]
            settings = dict(line.strip().split("=", 1) for line in lines[1:])
            assert settings["FB_PAGE_ID"] == "42"
            assert settings["FB_PAGE_ACCESS_TOKEN"] == "tok-1"
            url = settings["FB_GRAPH_URL"]
            assert url.startswith("http://127.0.0.1:")
            assert url in lines[0]
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer tok-1"}, timeout=10) as c:
                body = c.get("/v25.0/42/commerce_orders", params={"state": ALL_STATES}).json()
            assert len(body["data"]) == 5
        finally:
            process.terminate()
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()


def test_orderdesk_sandbox_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--port", "eighty"])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err
