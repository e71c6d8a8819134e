"""Hypothesis over random orders and refund forms, against the Graph sandbox in process (httpx's WSGI transport):
every refund orderdesk's check lets through is one the sandbox accepts (never an over-refund), and what is left
afterwards is exactly what was left less what the refund took."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.actions.ledger import new_key
from bot.actions.refund import REFUND_ORDER_FIELDS
from bot.domain.remaining import ItemAsk, RefundAsk, RefundPreview, check_refund, remaining
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox


def typed(draw: st.DrawFn, limit: Decimal) -> str:
    """An amount as an agent types it: mostly within ``limit``, sometimes just over it."""
    cents = int(limit * 100)
    value = Decimal(draw(st.integers(0, cents + cents // 10 + 2))) / 100
    return draw(st.sampled_from(["", f"{value:.2f}", f"{value:.2f}"]))


@st.composite
def asks(draw: st.DrawFn, order: dict[str, Any]) -> RefundAsk:
    left = remaining(order)
    items = {}
    for item in left.items:
        kind = draw(st.sampled_from(["none", "units", "units", "amount"]))
        items[item.item_id] = ItemAsk(
            quantity=str(draw(st.integers(1, item.refundable_units + 1))) if kind == "units" else "",
            amount=typed(draw, item.refundable_amount) if kind == "amount" else "",
        )
    return RefundAsk(
        reason=draw(st.sampled_from(["DAMAGED_GOODS", "WRONG_ITEM", "REFUND_REASON_OTHER"])),
        note=draw(st.sampled_from(["", "Sorry about that."])),
        items=items,
        shipping=typed(draw, left.shipping_refundable),
        deduction=draw(st.sampled_from(["", "", "1.00", "0.50"])),
    )


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    return {
        "items": [
            {
                "quantity": draw(st.integers(1, 4)),
                "price_per_unit": {"amount": f"{Decimal(draw(st.integers(1, 50_000))) / 100:.2f}", "currency": "USD"},
            }
            for _ in range(count)
        ],
        "shipped": [draw(st.integers(0, 4)) for _ in range(count)],
    }


def refund(graph: GraphClient, order_id: str, preview: RefundPreview) -> dict[str, Any]:
    return graph.refund_order(order_id, new_key(), **preview.graph_params())


def check_and_refund(data: st.DataObject, sandbox: GraphSandbox, graph: GraphClient) -> None:
    """One random order, shipped in part, then up to three random refund forms: each one the check lets through
    is accepted by the sandbox, and what is left shrinks by exactly what it took."""
    spec = data.draw(orders())
    placed = sandbox.add_order(state="IN_PROGRESS", items=spec["items"])
    lines = [
        {"item_id": item["id"], "quantity": min(units, item["quantity"])}
        for item, units in zip(placed["items"]["data"], spec["shipped"], strict=True)
        if units
    ]
    if lines:
        graph.create_shipment(
            placed["id"], new_key(), items=lines, tracking_info={"carrier": "UPS", "tracking_number": new_key()}
        )
    for _ in range(data.draw(st.integers(1, 3))):
        order = graph.get_order(placed["id"], REFUND_ORDER_FIELDS)
        before = remaining(order)
        checked = check_refund(before, data.draw(asks(order)))
        if not isinstance(checked, RefundPreview):
            event("refused by the check")
            continue
        event("sent")
        assert refund(graph, placed["id"], checked) == {"success": True}  # never refused: it fits
        after = remaining(graph.get_order(placed["id"], REFUND_ORDER_FIELDS))
        assert after.refundable_total == before.refundable_total - checked.items_total - checked.shipping
        for item in before.items:
            took = sum((line.amount for line in checked.lines if line.item_id == item.item_id), Decimal(0))
            later = after.item(item.item_id)
            assert later is not None
            assert later.refundable_amount == item.refundable_amount - took
        assert len(after.refund_ids) == len(before.refund_ids) + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_refund_the_check_allows_is_accepted_and_what_is_left_adds_up(data: st.DataObject) -> None:
    sandbox = GraphSandbox(orders=0)
    client = httpx.Client(transport=sandbox.transport(), base_url="http://graph.test")
    with GraphClient(client, page_id=sandbox.page_id, token=sandbox.token, max_retries=0) as graph:
        check_and_refund(data, sandbox, graph)


@pytest.fixture(name="served", scope="module")
def served_fixture() -> Iterator[tuple[GraphSandbox, str]]:
    sandbox = GraphSandbox(orders=0)
    server = sandbox.serve()
    try:
        yield sandbox, server.url
    finally:
        server.stop()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_few_of_the_same_cases_over_real_http(served: tuple[GraphSandbox, str], data: st.DataObject) -> None:
    sandbox, url = served
    with GraphClient(httpx.Client(base_url=url), page_id=sandbox.page_id, token=sandbox.token, max_retries=0) as graph:
        check_and_refund(data, sandbox, graph)
