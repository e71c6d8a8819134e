"""The Graph sandbox's writes after acknowledgement enforce Meta's rules: ship, update tracking, cancel, refund.

Each rule comes from the Order Management API reference (fulfillment, cancellation and refund pages, the error
codes of its section 11.3); the numbers asserted are Meta's. Tests taking ``graph`` run in-process and over real
HTTP on 127.0.0.1; the others in-process through httpx's WSGI transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox.graph import IDEMPOTENCY_CONFLICT_SUBCODE, GraphSandbox

NOW = 1_770_000_000
DAY = 86_400
AUTH = {"Authorization": "Bearer sandbox-page-token"}


@pytest.fixture
def sandbox() -> GraphSandbox:
    return GraphSandbox(orders=8, now=NOW)


@pytest.fixture
def client(sandbox: GraphSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=AUTH) as c:
        yield c


@pytest.fixture(params=["in-process", "http"])
def graph(request: pytest.FixtureRequest, sandbox: GraphSandbox) -> Iterator[httpx.Client]:
    if request.param == "in-process":
        with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=AUTH) as c:
            yield c
        return
    server = sandbox.serve()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
            yield c
    finally:
        server.stop()


def usd(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def order(
    sandbox: GraphSandbox, *quantities: int, state: str = "IN_PROGRESS", currency: str = "USD", **more: Any
) -> str:
    """An order whose item n costs (n + 1) * 10.00 (or 1000 yen, 10.000 dinars), shipping 5.00 (500, 5.000)."""
    unit = {"JPY": "1000", "KWD": "10.000"}.get(currency, "10.00")
    items = [
        {"quantity": q, "price_per_unit": usd(str(Decimal(unit) * (n + 1)), currency), "retailer_id": f"SKU-{n}"}
        for n, q in enumerate(quantities)
    ]
    shipping = {"JPY": "500", "KWD": "5.000"}.get(currency, "5.00")
    added = sandbox.add_order(
        state=state,
        currency=currency,
        items=items,
        selected_shipping_option={"price": usd(shipping, currency)},
        **more,
    )
    return str(added["id"])


def items(sandbox: GraphSandbox, order_id: str) -> list[dict[str, Any]]:
    return list(sandbox.order(order_id)["items"]["data"])


def post(client: httpx.Client, order_id: str, edge: str, key: str, **params: Any) -> httpx.Response:
    return client.post(f"/v25.0/{order_id}/{edge}", json={"idempotency_key": key, **params})


def ok(response: httpx.Response) -> None:
    assert (response.status_code, response.json()) == (200, {"success": True}), response.text


def refused(response: httpx.Response) -> tuple[int, int | None]:
    """(code, subcode) of a refusal, after checking it is a whole Graph envelope with HTTP 400."""
    assert response.status_code == 400, response.text
    body = response.json()["error"]
    assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= body.keys()
    if "error_subcode" in body:
        assert body["error_user_title"]
        assert body["error_user_msg"]
    return body["code"], body.get("error_subcode")


def ship(client: httpx.Client, order_id: str, key: str, number: str, **params: Any) -> httpx.Response:
    return post(
        client, order_id, "shipments", key, tracking_info={"carrier": "UPS", "tracking_number": number}, **params
    )


def line(item: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {"item_id": item["id"], "quantity": quantity}


# Shipments


def test_a_shipment_reads_back_with_its_carrier_lowercase(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2, 1)
    first, _ = items(sandbox, order_id)
    tracking = {"carrier": "FEDEX", "tracking_number": "7712345", "shipping_method_name": "Ground"}
    ok(
        post(
            graph,
            order_id,
            "shipments",
            "s1",
            items=[line(first, 1)],
            tracking_info=tracking,
            external_shipment_id="A_1",
        )
    )
    body = graph.get(f"/v25.0/{order_id}/shipments", params={"fields": "id,external_shipment_id,tracking_info,items"})
    [shipment] = body.json()["data"]
    assert shipment["external_shipment_id"] == "A_1"
    assert shipment["tracking_info"] == {
        "carrier": "fedex",
        "tracking_number": "7712345",
        "shipping_method_name": "Ground",
    }
    assert [(i["id"], i["quantity"]) for i in shipment["items"]["data"]] == [(first["id"], 1)]
    default = graph.get(f"/v25.0/{order_id}/shipments").json()["data"][0]
    assert set(default) == {"id", "items", "tracking_info", "created"}
    assert [i["status"] for i in items(sandbox, order_id)] == [
        {"in_progress": 1, "fulfilled": 1, "cancelled": 0},
        {"in_progress": 1, "fulfilled": 0, "cancelled": 0},
    ]
    assert sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
    ok(ship(graph, order_id, "s2", "7712346"))  # no items: every open unit
    assert sandbox.order(order_id)["order_status"]["state"] == "COMPLETED"
    assert [i["status"]["fulfilled"] for i in items(sandbox, order_id)] == [2, 1]


@pytest.mark.parametrize("carrier", ["UPS", "DHL_ECOMMERCE_US", "OTHER", "AB_CUSTOM_GROUP"])
def test_metas_uppercase_codes_and_other_are_accepted(
    client: httpx.Client, sandbox: GraphSandbox, carrier: str
) -> None:
    order_id = order(sandbox, 1)
    ok(post(client, order_id, "shipments", "s", tracking_info={"carrier": carrier, "tracking_number": "N1"}))
    assert sandbox.order(order_id)["shipments"]["data"][0]["tracking_info"]["carrier"] == carrier.lower()


@pytest.mark.parametrize("carrier", ["ups", "Ups", "ROYAL_PIGEON", "", None, 7])
def test_any_other_carrier_is_an_invalid_parameter(client: httpx.Client, sandbox: GraphSandbox, carrier: Any) -> None:
    order_id = order(sandbox, 1)
    response = post(client, order_id, "shipments", "s", tracking_info={"carrier": carrier, "tracking_number": "N1"})
    assert refused(response) == (100, None)
    assert "carrier" in response.json()["error"]["message"]
    assert sandbox.order(order_id)["shipments"]["data"] == []


@pytest.mark.parametrize("number", ["1Z1, 1Z2", "1Z1;1Z2", "1Z1 1Z2", ["1Z1", "1Z2"], "", "   ", None])
def test_one_tracking_number_per_shipment(client: httpx.Client, sandbox: GraphSandbox, number: Any) -> None:
    order_id = order(sandbox, 1)
    response = post(client, order_id, "shipments", "s", tracking_info={"carrier": "UPS", "tracking_number": number})
    assert refused(response) == (100, None)
    assert "tracking_number" in response.json()["error"]["message"]


def test_a_tracking_number_already_on_the_order_is_2382045(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 3)
    [item] = items(sandbox, order_id)
    ok(ship(client, order_id, "s1", "1z999", items=[line(item, 1)]))
    assert refused(ship(client, order_id, "s2", "1Z999", items=[line(item, 1)])) == (100, 2382045)
    ok(ship(client, order_id, "s3", "1Z998", items=[line(item, 1)]))
    assert items(sandbox, order_id)[0]["status"]["fulfilled"] == 2


@pytest.mark.parametrize("external", ["has-dash", "with space", "ünï", "a.b", "x/y"])
def test_external_shipment_id_is_letters_digits_and_underscore(
    client: httpx.Client, sandbox: GraphSandbox, external: str
) -> None:
    order_id = order(sandbox, 1)
    response = ship(client, order_id, "s", "N1", external_shipment_id=external)
    assert refused(response) == (100, None)
    assert "external_shipment_id" in response.json()["error"]["message"]


def test_an_external_shipment_id_names_one_shipment(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2)
    [item] = items(sandbox, order_id)
    ok(ship(client, order_id, "s1", "N1", items=[line(item, 1)], external_shipment_id="Abc_09"))
    assert refused(ship(client, order_id, "s2", "N2", items=[line(item, 1)], external_shipment_id="Abc_09")) == (
        100,
        None,
    )


def test_only_open_units_ship(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2, 1)
    first, second = items(sandbox, order_id)
    ok(post(client, order_id, "cancellations", "c", items=[line(first, 1)]))
    assert refused(ship(client, order_id, "s1", "N1", items=[line(first, 2)])) == (100, 1818215)
    by_sku = [{"retailer_id": "SKU-0", "quantity": 1}, {"retailer_id": "SKU-1", "quantity": 1}]
    ok(ship(client, order_id, "s2", "N2", items=by_sku))
    assert sandbox.order(order_id)["order_status"]["state"] == "COMPLETED"
    assert refused(ship(client, order_id, "s3", "N3")) == (100, 1818214)
    assert [i["status"] for i in items(sandbox, order_id)] == [
        {"in_progress": 0, "fulfilled": 1, "cancelled": 1},
        {"in_progress": 0, "fulfilled": 1, "cancelled": 0},
    ]
    assert second["id"] in {i["id"] for i in sandbox.order(order_id)["shipments"]["data"][0]["items"]["data"]}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], (100, 2361357)),
        ([{"quantity": 1}], (100, None)),
        ([{"item_id": "1", "retailer_id": "SKU-0", "quantity": 1}], (100, None)),
        ([{"retailer_id": "SKU-0", "quantity": 0}], (100, None)),
        ([{"retailer_id": "SKU-0", "quantity": "two"}], (100, None)),
        ([{"retailer_id": "NOPE", "quantity": 1}], (100, None)),
    ],
)
def test_shipment_items_are_checked(
    client: httpx.Client, sandbox: GraphSandbox, lines: list[Any], expected: tuple[int, int | None]
) -> None:
    order_id = order(sandbox, 1)
    assert refused(ship(client, order_id, "s", "N1", items=lines)) == expected


def test_a_cancelled_order_cannot_ship(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 1)
    ok(post(client, order_id, "cancellations", "c", cancel_reason={"reason_code": "OUT_OF_STOCK"}))
    assert refused(ship(client, order_id, "s", "N1")) == (100, 1818111)


@pytest.mark.parametrize("state", ["CREATED", "FB_PROCESSING"])
def test_only_acknowledged_orders_ship(client: httpx.Client, sandbox: GraphSandbox, state: str) -> None:
    order_id = order(sandbox, 1, state=state)
    assert refused(ship(client, order_id, "s", "N1")) == (100, None)


def test_a_form_body_with_json_strings_ships_too(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 1)
    [item] = items(sandbox, order_id)
    form = {
        "idempotency_key": "f1",
        "items": json.dumps([line(item, 1)]),
        "tracking_info": json.dumps({"carrier": "USPS", "tracking_number": "9400"}),
    }
    ok(client.post(f"/v25.0/{order_id}/shipments", data=form))
    assert sandbox.order(order_id)["shipments"]["data"][0]["tracking_info"]["carrier"] == "usps"


# update_shipment


def test_update_tracking_by_either_id(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2)
    [item] = items(sandbox, order_id)
    ok(ship(graph, order_id, "s1", "OLD1", items=[line(item, 1)], external_shipment_id="ext_1"))
    ok(ship(graph, order_id, "s2", "OLD2", items=[line(item, 1)]))
    new = {"carrier": "DHL", "tracking_number": "NEW1", "shipping_method_name": "Express"}
    ok(post(graph, order_id, "update_shipment", "u1", external_shipment_id="ext_1", tracking_info=new))
    second = sandbox.order(order_id)["shipments"]["data"][1]["id"]
    ok(
        post(
            graph,
            order_id,
            "update_shipment",
            "u2",
            shipment_id=second,
            tracking_info={"carrier": "OTHER", "tracking_number": "NEW2"},
        )
    )
    shipments = graph.get(f"/v25.0/{order_id}/shipments", params={"fields": "external_shipment_id,tracking_info"})
    assert [s["tracking_info"] for s in shipments.json()["data"]] == [
        {"carrier": "dhl", "tracking_number": "NEW1", "shipping_method_name": "Express"},
        {"carrier": "other", "tracking_number": "NEW2"},
    ]


def test_update_tracking_follows_the_shipment_rules(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2)
    [item] = items(sandbox, order_id)
    ok(ship(client, order_id, "s1", "T1", items=[line(item, 1)], external_shipment_id="e1"))
    ok(ship(client, order_id, "s2", "T2", items=[line(item, 1)], external_shipment_id="e2"))

    def update(key: str, **params: Any) -> tuple[int, int | None]:
        return refused(post(client, order_id, "update_shipment", key, **params))

    tracking = {"carrier": "UPS", "tracking_number": "T9"}
    assert update("u1", external_shipment_id="e1", tracking_info={"carrier": "UPS", "tracking_number": "T2"}) == (
        100,
        2382045,
    )
    assert update("u2", external_shipment_id="e1", tracking_info={"carrier": "UPS", "tracking_number": "T1"}) == (
        100,
        2382045,
    )
    assert update("u3", external_shipment_id="e1", tracking_info={"carrier": "ups", "tracking_number": "T9"}) == (
        100,
        None,
    )
    assert update("u4", tracking_info=tracking) == (100, None)  # no shipment named
    assert update("u5", external_shipment_id="e1", shipment_id="1", tracking_info=tracking) == (100, None)
    assert update("u6", external_shipment_id="nope", tracking_info=tracking) == (100, None)
    assert update("u7", external_shipment_id="e1") == (100, None)  # tracking_info is required
    assert [s["tracking_info"]["tracking_number"] for s in sandbox.order(order_id)["shipments"]["data"]] == ["T1", "T2"]


# Cancellations


def test_cancelling_a_created_order_cancels_every_unit(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2, 1, state="CREATED")
    reason = {"reason_code": "CUSTOMER_REQUESTED", "reason_description": "Asked by the buyer <3"}
    ok(post(graph, order_id, "cancellations", "c", cancel_reason=reason, restock_items=True))
    assert sandbox.order(order_id)["order_status"]["state"] == "COMPLETED"
    body = graph.get(
        f"/v25.0/{order_id}/cancellations", params={"fields": "id,items,cancel_reason,restock_items,created"}
    )
    [cancellation] = body.json()["data"]
    assert cancellation["cancel_reason"] == reason
    assert cancellation["restock_items"] is True
    assert [i["quantity"] for i in cancellation["items"]["data"]] == [2, 1]
    assert cancellation["created"] == sandbox.order(order_id)["last_updated"]  # the write's own time
    assert [i["status"] for i in items(sandbox, order_id)] == [
        {"in_progress": 0, "fulfilled": 0, "cancelled": 2},
        {"in_progress": 0, "fulfilled": 0, "cancelled": 1},
    ]
    assert refused(post(graph, order_id, "cancellations", "c2")) == (100, 1818048)


def test_only_unshipped_units_cancel(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 3, 1)
    first, second = items(sandbox, order_id)
    ok(ship(client, order_id, "s", "N1", items=[line(first, 2)]))
    assert refused(post(client, order_id, "cancellations", "c1", items=[line(first, 2)])) == (100, 1818215)
    ok(post(client, order_id, "cancellations", "c2", items=[line(first, 1)]))
    assert sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
    ok(post(client, order_id, "cancellations", "c3"))  # the rest: only the second item's unit was open
    cancellations = sandbox.order(order_id)["cancellations"]["data"]
    assert [(i["id"], i["quantity"]) for i in cancellations[1]["items"]["data"]] == [(second["id"], 1)]
    assert cancellations[1]["cancel_reason"] == {"reason_code": "CANCEL_REASON_OTHER"}
    assert refused(post(client, order_id, "cancellations", "c4")) == (100, 1818050)


def test_fb_processing_orders_cancel_only_after_24_hours(client: httpx.Client, sandbox: GraphSandbox) -> None:
    young = order(sandbox, 1, state="FB_PROCESSING", created=NOW - DAY + 600)
    old = order(sandbox, 1, state="FB_PROCESSING", created=NOW - DAY - 60)
    response = post(client, young, "cancellations", "c1", cancel_reason={"reason_code": "SUSPICIOUS_ORDER"})
    assert refused(response) == (100, None)
    assert "24 hours" in response.json()["error"]["message"]
    ok(post(client, old, "cancellations", "c2", cancel_reason={"reason_code": "SUSPICIOUS_ORDER"}))
    assert sandbox.order(old)["order_status"]["state"] == "COMPLETED"


@pytest.mark.parametrize(
    "params",
    [
        {"cancel_reason": {"reason_code": "CHANGED_MIND"}},
        {"cancel_reason": {"reason_code": "customer_requested"}},
        {"cancel_reason": "CUSTOMER_REQUESTED"},
        {"cancel_reason": {"reason_code": "OUT_OF_STOCK", "reason_description": 5}},
        {"restock_items": "perhaps"},
        {"items": []},
        {"items": [{"retailer_id": "SKU-0", "quantity": -1}]},
    ],
)
def test_cancellation_parameters_are_checked(
    client: httpx.Client, sandbox: GraphSandbox, params: dict[str, Any]
) -> None:
    order_id = order(sandbox, 1)
    assert refused(post(client, order_id, "cancellations", "c", **params)) == (100, None)
    assert sandbox.order(order_id)["cancellations"]["data"] == []


@pytest.mark.parametrize(
    "code", ["CUSTOMER_REQUESTED", "OUT_OF_STOCK", "INVALID_ADDRESS", "SUSPICIOUS_ORDER", "CANCEL_REASON_OTHER"]
)
def test_the_five_cancel_reasons(client: httpx.Client, sandbox: GraphSandbox, code: str) -> None:
    ok(post(client, order(sandbox, 1), "cancellations", "c", cancel_reason={"reason_code": code}))


# Refunds


def refund(client: httpx.Client, order_id: str, key: str, **params: Any) -> httpx.Response:
    return post(client, order_id, "refunds", key, **{"reason_code": "DAMAGED_GOODS", **params})


def test_nothing_shipped_nothing_to_refund(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 1)
    assert refused(refund(client, order_id, "r1")) == (100, 1818107)
    ok(post(client, order_id, "cancellations", "c"))
    assert refused(refund(client, order_id, "r2")) == (100, 1818105)


def test_refund_by_quantity_and_by_amount_up_to_what_is_left(graph: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 3)  # 3 x 10.00
    [item] = items(sandbox, order_id)
    ok(ship(graph, order_id, "s", "N1", items=[line(item, 2)]))  # 20.00 shipped, 10.00 still open
    by_amount = [{"item_id": item["id"], "item_refund_amount": usd("12.50")}]
    ok(refund(graph, order_id, "r1", items=by_amount, reason_text="Sorry about the dent"))
    too_many = [{"retailer_id": "SKU-0", "item_refund_quantity": 1}]  # 7.50 left: not a whole unit
    assert refused(refund(graph, order_id, "r2", items=too_many)) == (100, 2382023)
    over = [{"item_id": item["id"], "item_refund_amount": usd("7.51")}]
    response = refund(graph, order_id, "r3", items=over)
    assert refused(response) == (100, 2382023)
    assert "7.50" in response.json()["error"]["error_user_msg"]
    ok(refund(graph, order_id, "r4", items=[{"item_id": item["id"], "item_refund_amount": usd("7.50")}]))
    assert refused(refund(graph, order_id, "r5", items=by_amount)) == (100, 2382319)
    ok(ship(graph, order_id, "s2", "N2"))  # the third unit ships: one more unit is refundable
    ok(refund(graph, order_id, "r6", items=[{"retailer_id": "SKU-0", "item_refund_quantity": 1}]))
    data = graph.get(f"/v25.0/{order_id}/refunds").json()["data"]
    assert [r["items"]["data"][0]["refund_subtotal"] for r in data] == [usd("12.50"), usd("7.50"), usd("10.00")]
    assert [r["items"]["data"][0].get("quantity") for r in data] == [None, None, 1]
    assert data[0]["refund_reason"] == {"reason_code": "DAMAGED_GOODS", "reason_text": "Sorry about the dent"}
    assert all(set(r) == {"id", "items", "refund_reason", "refund_amount", "created"} for r in data)


def test_a_full_refund_gives_back_what_is_left(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 2, 1)  # 2 x 10.00 and 1 x 20.00
    first, second = items(sandbox, order_id)
    ok(ship(client, order_id, "s", "N1", items=[line(first, 2)]))
    ok(refund(client, order_id, "r1", items=[{"item_id": first["id"], "item_refund_amount": usd("4.00")}]))
    ok(refund(client, order_id, "r2"))  # no items: the rest of what shipped, nothing of the unshipped item
    rest = sandbox.order(order_id)["refunds"]["data"][1]
    assert [(i["id"], i["refund_subtotal"]) for i in rest["items"]["data"]] == [(first["id"], usd("16.00"))]
    assert refused(refund(client, order_id, "r3")) == (100, 2382319)
    assert second["id"] not in {i["id"] for i in rest["items"]["data"]}


def test_shipping_refunds_and_deductions(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 1)  # 10.00, shipping 5.00
    [item] = items(sandbox, order_id)
    ok(ship(client, order_id, "s", "N1"))
    assert refused(refund(client, order_id, "r0", items=[], shipping={"shipping_refund": usd("5.01")})) == (
        100,
        2382022,
    )
    ok(
        refund(
            client,
            order_id,
            "r1",
            items=[{"item_id": item["id"], "item_refund_quantity": 1}],
            shipping={"shipping_refund": usd("3.00")},
            deductions=[{"deduction_type": "RETURN_SHIPPING", "deduction_amount": usd("2.50")}],
        )
    )
    amounts = client.get(f"/v25.0/{order_id}/refunds").json()["data"][0]["refund_amount"]
    assert amounts == {
        "amount": "11.30",
        "currency": "USD",
        "subtotal": usd("10.00"),
        "shipping": usd("3.00"),
        "deductions": usd("2.50"),
        "tax": usd("0.80"),
        "total": usd("11.30"),
    }
    assert refused(refund(client, order_id, "r2", items=[], shipping={"shipping_refund": usd("2.01")})) == (
        100,
        2382022,
    )
    ok(refund(client, order_id, "r3", items=[], shipping={"shipping_refund": usd("2.00")}))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"items": []}, (100, 2382030)),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("0.00")}]}, (100, 2382030)),
        (
            {
                "items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("2.00")}],
                "deductions": [{"deduction_type": "RETURN_SHIPPING", "deduction_amount": usd("2.00")}],
            },
            (100, 2382030),
        ),
        ({"items": [{"retailer_id": "GONE", "item_refund_quantity": 1}]}, (100, 2382021)),
        ({"items": [{"item_id": "1", "item_refund_quantity": 1}]}, (100, None)),
        ({"items": [{"retailer_id": "SKU-0"}]}, (100, None)),
        (
            {"items": [{"retailer_id": "SKU-0", "item_refund_quantity": 1, "item_refund_amount": usd("1.00")}]},
            (100, None),
        ),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("1.00", "EUR")}]}, (100, None)),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("1.005")}]}, (100, None)),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("-1.00")}]}, (100, None)),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": usd("lots")}]}, (100, None)),
        ({"items": [{"retailer_id": "SKU-0", "item_refund_amount": "1.00"}]}, (100, None)),
        ({"shipping": {"shipping_refund": usd("-1.00")}, "items": []}, (100, None)),
        ({"shipping": usd("1.00"), "items": []}, (100, None)),
        ({"deductions": [{"deduction_type": "RESTOCKING", "deduction_amount": usd("1.00")}]}, (100, None)),
        ({"deductions": [{"deduction_type": "RETURN_SHIPPING", "deduction_amount": usd("0.00")}]}, (100, None)),
        ({"reason_code": "REFUND_SFI_FAKE"}, (100, None)),
        ({"reason_code": None}, (100, None)),
        ({"reason_text": ["not", "text"]}, (100, None)),
    ],
)
def test_refund_parameters_are_checked(
    client: httpx.Client, sandbox: GraphSandbox, params: dict[str, Any], expected: tuple[int, int | None]
) -> None:
    order_id = order(sandbox, 1)
    ok(ship(client, order_id, "s", "N1"))
    assert refused(refund(client, order_id, "r", **params)) == expected
    assert sandbox.order(order_id)["refunds"]["data"] == []


@pytest.mark.parametrize(
    "code",
    ["BUYERS_REMORSE", "DAMAGED_GOODS", "NOT_AS_DESCRIBED", "QUALITY_ISSUE", "REFUND_REASON_OTHER", "WRONG_ITEM"],
)
def test_the_documented_refund_reasons(client: httpx.Client, sandbox: GraphSandbox, code: str) -> None:
    order_id = order(sandbox, 1)
    ok(ship(client, order_id, "s", "N1"))
    ok(refund(client, order_id, "r", reason_code=code))


def test_a_partly_shipped_in_progress_order_refunds_its_shipped_units(
    client: httpx.Client, sandbox: GraphSandbox
) -> None:
    order_id = order(sandbox, 1, 1)
    first, second = items(sandbox, order_id)
    ok(ship(client, order_id, "s", "N1", items=[line(first, 1)]))
    assert refused(refund(client, order_id, "r1", items=[{"item_id": second["id"], "item_refund_quantity": 1}])) == (
        100,
        2382319,
    )
    ok(refund(client, order_id, "r2", items=[{"item_id": first["id"], "item_refund_quantity": 1}]))
    assert sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"


@pytest.mark.parametrize(
    ("currency", "price", "part", "bad", "rest"),
    [("JPY", "1000", "300", "300.5", "700"), ("KWD", "10.000", "3.125", "3.1255", "6.875")],
)
def test_amounts_use_the_currencys_own_minor_unit(
    graph: httpx.Client, sandbox: GraphSandbox, currency: str, price: str, part: str, bad: str, rest: str
) -> None:
    order_id = order(sandbox, 1, currency=currency)
    [item] = items(sandbox, order_id)
    assert item["price_per_unit"] == usd(price, currency)
    ok(ship(graph, order_id, "s", "N1"))
    wrong = [{"item_id": item["id"], "item_refund_amount": usd(bad, currency)}]
    assert refused(refund(graph, order_id, "r0", items=wrong)) == (100, None)
    ok(refund(graph, order_id, "r1", items=[{"item_id": item["id"], "item_refund_amount": usd(part, currency)}]))
    ok(refund(graph, order_id, "r2"))
    data = graph.get(f"/v25.0/{order_id}/refunds").json()["data"]
    assert [r["items"]["data"][0]["refund_subtotal"] for r in data] == [usd(part, currency), usd(rest, currency)]
    assert all(r["refund_amount"]["currency"] == currency for r in data)
    payment = graph.get(f"/v25.0/{order_id}", params={"fields": "estimated_payment_details"}).json()
    assert payment["estimated_payment_details"]["subtotal"]["items"] == usd(price, currency)


def test_seeded_prices_in_a_currency_without_minor_units() -> None:
    sandbox = GraphSandbox(orders=0, now=NOW)
    added = sandbox.add_order(currency="JPY", items=2)
    amounts = [i["price_per_unit"] for i in added["items"]["data"]]
    amounts.append(added["estimated_payment_details"]["total_amount"])
    assert all(a["currency"] == "JPY" and a["amount"].isdigit() for a in amounts)
    with pytest.raises(ValueError, match="currency"):
        sandbox.add_order(currency="yen")
    with pytest.raises(ValueError, match="currency"):
        sandbox.add_order(currency="JPY", items=[{"price_per_unit": usd("10.00")}])
    bare = sandbox.add_order(currency="KWD", items=[{"price_per_unit": {"amount": "1.250"}}])
    assert bare["items"]["data"][0]["price_per_unit"] == usd("1.250", "KWD")


# Idempotency on the new routes


@pytest.mark.parametrize(
    ("edge", "params", "different"),
    [
        ("shipments", {"tracking_info": {"carrier": "UPS", "tracking_number": "N1"}}, {"external_shipment_id": "x"}),
        ("cancellations", {"cancel_reason": {"reason_code": "OUT_OF_STOCK"}}, {"restock_items": True}),
        ("refunds", {"reason_code": "DAMAGED_GOODS"}, {"reason_text": "other words"}),
        (
            "update_shipment",
            {"external_shipment_id": "e1", "tracking_info": {"carrier": "UPS", "tracking_number": "N2"}},
            {"tracking_info": {"carrier": "UPS", "tracking_number": "N3"}},
        ),
    ],
)
def test_same_key_same_request_is_one_write_and_a_different_request_is_refused(
    graph: httpx.Client, sandbox: GraphSandbox, edge: str, params: dict[str, Any], different: dict[str, Any]
) -> None:
    order_id = order(sandbox, 2)
    if edge in ("refunds", "update_shipment"):
        ok(ship(graph, order_id, "setup", "N0", external_shipment_id="e1"))
    first, again = post(graph, order_id, edge, "k", **params), post(graph, order_id, edge, "k", **params)
    ok(first)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    stored = sandbox.order(order_id)
    records = [len(stored[name]["data"]) for name in ("shipments", "cancellations", "refunds")]
    assert records == {"cancellations": [0, 1, 0], "refunds": [1, 0, 1]}.get(edge, [1, 0, 0])
    conflict = post(graph, order_id, edge, "k", **{**params, **different})
    assert refused(conflict) == (100, IDEMPOTENCY_CONFLICT_SUBCODE)
    assert sandbox.order(order_id) == stored


def test_a_refused_write_replays_its_refusal(client: httpx.Client, sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 1)
    first = refund(client, order_id, "r")  # nothing shipped yet
    ok(ship(client, order_id, "s", "N1"))
    again = refund(client, order_id, "r")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    ok(refund(client, order_id, "fresh"))


def test_twenty_concurrent_identical_refunds_make_one(sandbox: GraphSandbox) -> None:
    order_id = order(sandbox, 3)
    [item] = items(sandbox, order_id)
    server = sandbox.serve()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
            ok(ship(c, order_id, "s", "N1"))
            lines = [{"item_id": item["id"], "item_refund_quantity": 1}]
            with ThreadPoolExecutor(max_workers=10) as pool:
                answers = list(pool.map(lambda _: refund(c, order_id, "same", items=lines).json(), range(20)))
    finally:
        server.stop()
    assert answers == [{"success": True}] * 20
    assert len(sandbox.order(order_id)["refunds"]["data"]) == 1


def test_the_control_description_lists_the_writes(client: httpx.Client) -> None:
    described = client.get("/_sandbox/").json()
    assert set(described["writes"]) == {
        "POST /{order-id}/shipments",
        "POST /{order-id}/update_shipment",
        "POST /{order-id}/cancellations",
        "POST /{order-id}/refunds",
    }
    assert "2382045" in described["writes"]["POST /{order-id}/shipments"]
    assert "JPY" in described["currencies"]


# The arithmetic never lets more out than went in.

_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["ship", "cancel", "refund_qty", "refund_amount", "refund_all", "shipping"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=3000),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantities=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=3), actions=_ACTIONS)
def test_random_writes_never_over_cancel_or_over_refund(
    quantities: list[int], actions: list[tuple[str, int, int]]
) -> None:
    sandbox = GraphSandbox(orders=0, now=NOW)
    order_id = order(sandbox, *quantities)
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=AUTH) as client:
        for n, (kind, index, number) in enumerate(actions):
            listed = items(sandbox, order_id)
            item = listed[index % len(listed)]
            key = f"k{n}"
            if kind == "ship":
                post(
                    client,
                    order_id,
                    "shipments",
                    key,
                    items=[line(item, 1 + number % 2)],
                    tracking_info={"carrier": "UPS", "tracking_number": f"N{n}"},
                )
            elif kind == "cancel":
                post(client, order_id, "cancellations", key, items=[line(item, 1 + number % 2)])
            elif kind == "refund_qty":
                refund(client, order_id, key, items=[{"item_id": item["id"], "item_refund_quantity": 1 + number % 2}])
            elif kind == "refund_amount":
                amount = f"{number // 100}.{number % 100:02d}"
                refund(client, order_id, key, items=[{"item_id": item["id"], "item_refund_amount": usd(amount)}])
            elif kind == "shipping":
                refund(client, order_id, key, items=[], shipping={"shipping_refund": usd(f"{number % 700 / 100:.2f}")})
            else:
                refund(client, order_id, key)
    stored = sandbox.order(order_id)
    for item in stored["items"]["data"]:
        status = item["status"]
        assert status["in_progress"] + status["fulfilled"] + status["cancelled"] == item["quantity"]
        assert min(status.values()) >= 0
        refunded = sum(
            Decimal(line["refund_subtotal"]["amount"])
            for r in stored["refunds"]["data"]
            for line in r["items"]["data"]
            if line["id"] == item["id"]
        )
        assert refunded <= Decimal(item["price_per_unit"]["amount"]) * status["fulfilled"]
    shipping = sum(Decimal(r["refund_amount"]["shipping"]["amount"]) for r in stored["refunds"]["data"])
    assert shipping <= Decimal("5.00")
    done = all(i["status"]["in_progress"] == 0 for i in stored["items"]["data"])
    assert (stored["order_status"]["state"] == "COMPLETED") == done
