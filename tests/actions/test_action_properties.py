"""Property: over random orders (some units already shipped or cancelled) and random form inputs, whatever the
Mark shipped and Cancel forms accept, the Graph sandbox accepts too (never an over-ship or over-cancel), and what
they refuse is refused for a reason the agent is shown. In process, through httpx's WSGI transport."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_settings import service_settings

from bot.actions.cancel import CANCEL_ACTION
from bot.actions.ledger import new_key
from bot.actions.order_actions import read_order, sent_params, snapshot
from bot.actions.ship import SHIP_ACTION
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox

QUANTITIES = st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4)


@pytest.fixture(name="world", scope="module")
def world_fixture() -> Iterator[tuple[GraphSandbox, GraphClient]]:
    sandbox = GraphSandbox(orders=0)
    with GraphClient.from_settings(service_settings(sandbox), transport=sandbox.transport()) as graph:
        yield sandbox, graph


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantities=QUANTITIES, data=st.data(), ship=st.booleans())
def test_whatever_the_forms_accept_meta_accepts(
    world: tuple[GraphSandbox, GraphClient], quantities: list[int], data: st.DataObject, ship: bool
) -> None:
    sandbox, graph = world
    order_id = str(sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": q} for q in quantities])["id"])
    items = sandbox.order(order_id)["items"]["data"]
    # Some units already went, through Meta directly: shipped, then cancelled.
    for edge in ("shipments", "cancellations"):
        earlier = [
            {"item_id": item["id"], "quantity": units}
            for item, already in zip(
                items, data.draw(st.lists(st.integers(0, 2), min_size=len(items), max_size=len(items))), strict=True
            )
            if (units := min(already, item["status"]["in_progress"] if isinstance(item.get("status"), dict) else 0))
        ]
        if earlier:
            body = {"idempotency_key": new_key(), "items": earlier}
            if edge == "shipments":
                body["tracking_info"] = {"carrier": "UPS", "tracking_number": new_key()}
            else:
                body["cancel_reason"] = {"reason_code": "OUT_OF_STOCK"}
            graph.send("POST", f"{order_id}/{edge}", body)
        items = sandbox.order(order_id)["items"]["data"]
    snap = snapshot(read_order(graph, order_id))
    values: dict[str, object] = {"carrier": "UPS", "tracking_number": new_key(), "reason": "CUSTOMER_REQUESTED"}
    chosen = {}
    for line in snap.lines:
        if line.open:
            chosen[line.item_id] = data.draw(st.integers(0, line.open + 1))
            values[f"qty_{line.item_id}"] = str(chosen[line.item_id])
    action, edge = (SHIP_ACTION, "shipments") if ship else (CANCEL_ACTION, "cancellations")
    key = new_key()
    checked = action.check(snap, values, key)
    over = any(units > snap.line(item).open for item, units in chosen.items())  # type: ignore[union-attr]
    if over or not any(chosen.values()):
        assert checked.errors, (chosen, snap)
        return
    assert checked.errors == {}
    graph.send("POST", f"{order_id}/{edge}", {"idempotency_key": key, **sent_params(checked.params)})  # or raises
    after = {line.item_id: line.open for line in snapshot(read_order(graph, order_id)).lines}
    assert after == {line.item_id: line.open - chosen.get(line.item_id, 0) for line in snap.lines}
