"""The card actions below Slack: which actions an order offers, the snapshot a modal carries, each form's checks
and parameters, confirming a lost answer by reading the order back, and the service against the Graph sandbox in
process (permissions, conflicts, one write per order at a time, the sweeper giving up)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from service_settings import service_settings

from bot.actions.answers import ActionConflict, ActionOutcome, Answer, NotAllowed, Requester, WriteBusy
from bot.actions.cancel import CANCEL_ACTION
from bot.actions.entries import RetryPolicy, derived_key, write_lock
from bot.actions.operation import Request
from bot.actions.order_actions import (
    CANCEL,
    REFUND,
    SHIP,
    TRACKING,
    Line,
    OrderActionsService,
    Shipment,
    Snapshot,
    offered_actions,
    sent_params,
    snapshot,
    unshipped_units,
)
from bot.actions.ship import SHIP_ACTION
from bot.actions.status import AckStatus
from bot.actions.update_tracking import TRACKING_ACTION
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Card, Store

KEY = "0123456789abcdef0123456789abcdef"
NOW = 1_780_000_000.0


def order(
    state: str, *, items: Sequence[tuple[str, int]], shipped: Sequence[tuple[str, int]] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "id": "7001",
        "order_status": {"state": state},
        "created": "2026-05-28T00:00:00+00:00",
        "items": {
            "data": [
                {
                    "id": i,
                    "quantity": q,
                    "product_name": f"Mug {i}",
                    "price_per_unit": {"amount": "9.50", "currency": "USD"},
                }
                for i, q in items
            ]
        },
        "shipments": {
            "data": [
                {
                    "id": f"s{n}",
                    "tracking_info": {"carrier": "ups", "tracking_number": f"1Z{n}"},
                    "items": {"data": [{"id": i, "quantity": q}]},
                }
                for n, (i, q) in enumerate(shipped)
            ]
        },
        **extra,
    }


@pytest.mark.parametrize(
    ("state", "shipped", "offered"),
    [
        ("CREATED", (), [CANCEL]),
        ("IN_PROGRESS", (), [SHIP, CANCEL]),
        ("IN_PROGRESS", (("a", 1),), [SHIP, TRACKING, CANCEL, REFUND]),
        ("COMPLETED", (("a", 2), ("b", 1)), [TRACKING, REFUND]),
        ("FB_PROCESSING", (), []),
    ],
)
def test_an_order_offers_the_actions_its_state_allows(state: str, shipped: Any, offered: list[str]) -> None:
    assert offered_actions(order(state, items=[("a", 2), ("b", 1)], shipped=shipped), now=NOW) == offered


def test_an_order_held_in_processing_may_be_cancelled_after_24_hours() -> None:
    held = order("FB_PROCESSING", items=[("a", 1)], created="2026-05-28T00:00:00+00:00")
    created = 1_779_926_400.0
    assert offered_actions(held, now=created + 23 * 3600) == []
    assert offered_actions(held, now=created + 24 * 3600) == [CANCEL]


def test_unshipped_units_count_shipments_and_cancellations_or_read_metas_status() -> None:
    counted = order("IN_PROGRESS", items=[("a", 3), ("b", 1)], shipped=[("a", 1)])
    counted["cancellations"] = {"data": [{"id": "c1", "items": {"data": [{"id": "a", "quantity": 1}]}}]}
    assert unshipped_units(counted) == {"a": 1, "b": 1}
    counted["items"]["data"][1]["status"] = {"in_progress": 0, "fulfilled": 0, "cancelled": 1}
    assert unshipped_units(counted) == {"a": 1, "b": 0}


def test_a_snapshot_survives_the_modal_metadata() -> None:
    snap = snapshot(order("IN_PROGRESS", items=[("a", 2)], shipped=[("a", 1)]), now=NOW)
    assert Snapshot.from_json(snap.to_json()) == snap
    assert snap.tracking_numbers == ("1Z0",)
    assert snap.lines == (Line("a", "Mug a", 1, 1, "9.50", "USD"),)
    assert snap.refund is not None  # a shipped, priced unit: what is left to refund travels with the snapshot
    with pytest.raises(ValueError, match="not a snapshot"):
        Snapshot.from_json({"o": "7001"})


SNAP = Snapshot(
    order_id="7001",
    state="IN_PROGRESS",
    lines=(Line("a", "Mug", 2, 0, "12.50", "USD"), Line("b", "Cup", 1, 0, "3.00", "USD")),
    tracking_numbers=("TAKEN",),
    shipments=(Shipment("s1", "ups", "TAKEN", 1),),
    offered=(SHIP, TRACKING, CANCEL),
)


def test_a_shipment_sends_uppercase_carrier_the_chosen_units_and_the_key_as_its_id() -> None:
    checked = SHIP_ACTION.check(
        SNAP,
        {"carrier": "ups", "tracking_number": " 1Z9 ", "qty_a": "2", "qty_b": "0", "shipping_method": "Ground"},
        KEY,
    )
    assert checked.errors == {}
    assert checked.params == {
        "items": [{"item_id": "a", "quantity": 2}],
        "tracking_info": {"carrier": "UPS", "tracking_number": "1Z9", "shipping_method_name": "Ground"},
        "external_shipment_id": KEY,
    }
    assert SHIP_ACTION.summary(checked.params) == "Shipped 2 items with UPS 1Z9"
    other = SHIP_ACTION.check(
        SNAP, {"carrier": "OTHER", "tracking_number": "X1", "qty_a": "1", "external_shipment_id": "box_7"}, KEY
    )
    assert other.params["tracking_info"]["carrier"] == "OTHER"
    assert other.params["external_shipment_id"] == "box_7"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"carrier": "", "tracking_number": "1"}, "carrier"),
        ({"carrier": "nope", "tracking_number": "1"}, "carrier"),
        ({"carrier": "UPS", "tracking_number": "taken"}, "tracking_number"),
        ({"carrier": "UPS", "tracking_number": "a b"}, "tracking_number"),
        ({"carrier": "UPS", "tracking_number": "1", "qty_a": "3"}, "qty_a"),
        ({"carrier": "UPS", "tracking_number": "1", "qty_a": "-1"}, "qty_a"),
        ({"carrier": "UPS", "tracking_number": "1", "qty_a": "0", "qty_b": "0"}, "qty_a"),
        (
            {"carrier": "UPS", "tracking_number": "1", "qty_a": "1", "external_shipment_id": "a-b"},
            "external_shipment_id",
        ),
    ],
)
def test_a_shipment_form_is_refused_field_by_field(values: dict[str, str], field: str) -> None:
    checked = SHIP_ACTION.check(SNAP, values, KEY)
    assert list(checked.errors) == [field]
    assert checked.params == {}


def test_a_cancellation_of_every_open_unit_cancels_the_whole_order_and_of_some_names_them() -> None:
    whole = CANCEL_ACTION.check(
        SNAP, {"reason": "OUT_OF_STOCK", "note": "Sold out", "restock": True, "qty_a": "2", "qty_b": "1"}, KEY
    )
    assert whole.params == {
        "cancel_reason": {"reason_code": "OUT_OF_STOCK", "reason_description": "Sold out"},
        "restock_items": True,
        "_earlier": [],  # kept in the ledger, never sent (see sent_params)
    }
    assert "_earlier" not in sent_params(whole.params)
    assert CANCEL_ACTION.summary(whole.params) == "Cancelled every unshipped item (out of stock)"
    part = CANCEL_ACTION.check(SNAP, {"reason": "CUSTOMER_REQUESTED", "qty_a": "1", "qty_b": "0"}, KEY)
    assert part.params == {
        "cancel_reason": {"reason_code": "CUSTOMER_REQUESTED"},
        "restock_items": False,
        "items": [{"item_id": "a", "quantity": 1}],
        "_earlier": [],
    }
    assert CANCEL_ACTION.check(SNAP, {"reason": "", "qty_a": "1"}, KEY).errors == {"reason": "Choose a reason."}
    assert list(CANCEL_ACTION.check(SNAP, {"reason": "OUT_OF_STOCK", "note": "x" * 501}, KEY).errors) == ["note"]
    assert list(CANCEL_ACTION.check(SNAP, {"reason": "OUT_OF_STOCK", "qty_a": "0", "qty_b": "0"}, KEY).errors) == [
        "qty_a"
    ]


def test_a_tracking_update_names_the_shipment_and_refuses_a_number_on_the_order() -> None:
    checked = TRACKING_ACTION.check(SNAP, {"shipment": "s1", "carrier": "dhl", "tracking_number": "NEW1"}, KEY)
    assert checked.params == {"shipment_id": "s1", "tracking_info": {"carrier": "DHL", "tracking_number": "NEW1"}}
    assert list(
        TRACKING_ACTION.check(SNAP, {"shipment": "s9", "carrier": "dhl", "tracking_number": "N"}, KEY).errors
    ) == ["shipment"]
    assert list(
        TRACKING_ACTION.check(SNAP, {"shipment": "s1", "carrier": "dhl", "tracking_number": "taken"}, KEY).errors
    ) == ["tracking_number"]


def test_the_keys_of_one_cards_actions_differ_and_are_fit_for_meta() -> None:
    keys = {derived_key(KEY, action) for action in (SHIP, TRACKING, CANCEL, REFUND)}
    assert len(keys) == 4
    assert all(len(k) == 32 and k.isalnum() for k in keys)
    assert derived_key(KEY, SHIP) == derived_key(KEY, SHIP)
    assert write_lock("7001") == "7001/write"


class Recorder:
    def __init__(self) -> None:
        self.changed: list[tuple[str, AckStatus | None, ActionOutcome | None]] = []
        self.told: list[tuple[Requester, Answer]] = []

    def order_changed(
        self,
        order: Mapping[str, Any],
        cards: Sequence[Card],
        status: AckStatus | None,
        key: str | None,
        *,
        change: ActionOutcome | None = None,
    ) -> list[Card]:
        self.changed.append((str(order["id"]), status, change))
        return list(cards)

    def tell(self, requester: Requester, answer: Answer) -> None:
        self.told.append((requester, answer))


@pytest.fixture(name="recorder")
def recorder_fixture() -> Recorder:
    return Recorder()


@pytest.fixture(name="service")
def service_fixture(sandbox: GraphSandbox, store: Store, recorder: Recorder) -> Iterator[OrderActionsService]:
    settings = service_settings(sandbox).with_overrides(
        ship_allowed=("U0AGENT1",), cancel_allowed=("U0AGENT1",), graph_max_retries=0
    )
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        yield OrderActionsService(
            settings,
            graph,
            store,
            publisher=recorder,
            actions=[SHIP_ACTION, TRACKING_ACTION, CANCEL_ACTION],
            retry=RetryPolicy(delays=(0.0,)),
        )


def request(order_id: str, key: str = KEY, user_id: str = "U0AGENT1") -> Request:
    return Request(order_id, key, user_id, "T0SANDBOX", "T0SANDBOX", "C0ORDERS", "1.000100", False, None)


def shipping(service: OrderActionsService, sandbox: GraphSandbox, store: Store) -> tuple[str, Snapshot]:
    placed = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}])
    store.upsert_order(placed)
    store.remember_card(str(placed["id"]), channel="C0ORDERS", ts="1.000100", response_url=None, kind="notification")
    return str(placed["id"]), service.read(str(placed["id"]))


def ship_params(snap: Snapshot, number: str, units: int = 1) -> dict[str, Any]:
    values = {"carrier": "UPS", "tracking_number": number, f"qty_{snap.lines[0].item_id}": str(units)}
    return SHIP_ACTION.check(snap, values, KEY).params


def test_a_shipment_is_sent_once_recorded_and_told_with_a_thread_line(
    service: OrderActionsService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    order_id, snap = shipping(service, sandbox, store)
    params = ship_params(snap, "1ZONE")
    service.submit(SHIP, request(order_id), params, view_id="V1")
    service.submit(SHIP, request(order_id), params, view_id="V1")  # the same intent again: answered, not sent
    posts = [c for c in sandbox.calls() if c["method"] == "POST"]
    assert len(posts) == 1
    [(_, first), (_, second)] = recorder.told
    assert isinstance(first, ActionOutcome)
    assert first.state == "succeeded"
    assert isinstance(second, ActionOutcome)
    assert second.state == "succeeded"
    [(changed, status, change)] = recorder.changed
    assert (changed, status) == (order_id, None)
    assert change is not None
    assert change.summary == "Shipped 1 item with UPS 1ZONE"
    assert store.lock_holder(write_lock(order_id)) is None  # a success frees the order for the next write
    assert [row.action for row in store.audit_for_order(order_id)] == ["create_shipment"]


def test_the_same_key_with_other_parameters_is_refused_in_words_and_not_sent(
    service: OrderActionsService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    order_id, snap = shipping(service, sandbox, store)
    service.submit(SHIP, request(order_id), ship_params(snap, "1ZONE"))
    service.submit(SHIP, request(order_id), ship_params(snap, "1ZTWO"))
    assert len([c for c in sandbox.calls() if c["method"] == "POST"]) == 1
    assert recorder.told[-1][1] == ActionConflict(order_id, "shipment")


def test_a_second_write_while_one_is_retried_is_told_the_order_is_busy(
    service: OrderActionsService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    order_id, snap = shipping(service, sandbox, store)
    sandbox.set_faults(status=503, count=1, match={"method": "POST"})
    service.submit(SHIP, request(order_id), ship_params(snap, "1ZONE"))
    first = recorder.told[-1][1]
    assert isinstance(first, ActionOutcome)
    assert first.state == "retryable"
    service.submit(SHIP, request(order_id, key="f" * 32), ship_params(snap, "1ZTWO"))
    busy = recorder.told[-1][1]
    assert isinstance(busy, WriteBusy)
    assert busy.operation == "create_shipment"


def test_the_sweeper_gives_up_after_its_retries_and_the_thread_hears_a_person_is_needed(
    service: OrderActionsService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    order_id, snap = shipping(service, sandbox, store)
    sandbox.set_faults(status=503, count=10, match={"method": "POST"})
    service.submit(SHIP, request(order_id), ship_params(snap, "1ZONE"))
    sandbox.set_faults(status=503, count=10, match={"path": order_id})  # the read-back fails too
    assert service.sweep() == 1
    outcome = service.outcome_of(KEY)
    assert outcome is not None
    assert outcome.state == "given_up"
    change = recorder.changed[-1][2]
    assert change is not None
    assert change.state == "given_up"
    assert store.lock_holder(write_lock(order_id)) is None


def test_permissions_follow_each_actions_list(
    service: OrderActionsService, sandbox: GraphSandbox, store: Store
) -> None:
    order_id, _ = shipping(service, sandbox, store)
    refused = service.refusal(SHIP, request(order_id, user_id="U0AGENT2"))
    assert isinstance(refused, NotAllowed)
    assert refused.verb == "ship"
    assert refused.allowed == ("U0AGENT1",)
    nobody = service.refusal(REFUND, request(order_id))
    assert isinstance(nobody, NotAllowed)
    assert nobody.allowed == ()
    assert nobody.setting == "ORDERDESK_REFUND_ALLOWED"
    assert service.refusal(CANCEL, request(order_id)) is None


def _entry(params: dict[str, Any]) -> Any:
    from bot.actions.entries import LedgerEntry

    return LedgerEntry(
        KEY,
        "cancel_order",
        "7001",
        params,
        "f",
        "pending",
        False,
        "U0AGENT1",
        None,
        None,
        None,
        0.0,
        0.0,
        0.0,
        1,
        None,
        None,
        None,
    )


def test_a_lost_cancellation_is_recognised_by_its_reason_note_and_units() -> None:
    params = {
        "cancel_reason": {"reason_code": "OUT_OF_STOCK", "reason_description": "Sold out"},
        "restock_items": False,
        "items": [{"item_id": "a", "quantity": 1}],
    }
    mine = {
        "id": "c2",
        "cancel_reason": {"reason_code": "OUT_OF_STOCK", "reason_description": "Sold out"},
        "items": {"data": [{"id": "a", "quantity": 1}]},
    }
    other = {**mine, "cancel_reason": {"reason_code": "OUT_OF_STOCK"}}
    assert CANCEL_ACTION.took_effect(_entry(params), {"cancellations": {"data": [other, mine]}})
    assert not CANCEL_ACTION.took_effect(_entry(params), {"cancellations": {"data": [other]}})
    more = {**mine, "items": {"data": [{"id": "a", "quantity": 2}]}}
    assert not CANCEL_ACTION.took_effect(_entry(params), {"cancellations": {"data": [more]}})
    # The same cancellation made before the modal opened is not this one.
    assert not CANCEL_ACTION.took_effect(_entry({**params, "_earlier": ["c2"]}), {"cancellations": {"data": [mine]}})
