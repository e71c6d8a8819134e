"""The storage contract for the lines of shipments, cancellations and refunds: a read of the records without their
``items`` (the poller's) keeps the lines a fuller read cached, record by record; new records come as read."""

from __future__ import annotations

from typing import Any

import pytest
from storage_samples import full_order

from bot.storage.ports import Storage

LINE = [{"id": "i1", "quantity": 2}]


def with_lines(order_id: str, **fields: Any) -> dict[str, Any]:
    return full_order(
        order_id,
        order_status={"state": "IN_PROGRESS"},
        shipments={"data": [{"id": "s1", "tracking_info": {"carrier": "UPS"}, "items": LINE}]},
        cancellations={"data": [{"id": "c1", "cancel_reason": {"reason_code": "OTHER"}, "items": LINE}]},
        **fields,
    )


def polled(order_id: str) -> dict[str, Any]:
    """What the poller reads: the records without their lines, one shipment new since."""
    return {
        "id": order_id,
        "order_status": {"state": "IN_PROGRESS"},
        "last_updated": "2026-03-01T12:00:00+00:00",
        "shipments": {"data": [{"id": "s1", "tracking_info": {"carrier": "DHL"}}, {"id": "s2"}]},
        "cancellations": {"data": [{"id": "c1", "cancel_reason": {"reason_code": "OTHER"}}]},
    }


@pytest.mark.parametrize("many", [False, True])
def test_a_read_without_lines_keeps_the_cached_ones(store: Storage, many: bool) -> None:
    store.upsert_order(with_lines("7001"))
    if many:
        store.upsert_orders([polled("7001"), polled("7002")])
    else:
        store.upsert_order(polled("7001"))
    order = store.get_order("7001")
    assert order is not None
    shipments = order.data["shipments"]["data"]
    assert shipments[0] == {"id": "s1", "tracking_info": {"carrier": "DHL"}, "items": LINE}  # the new tracking
    assert shipments[1] == {"id": "s2"}  # a record never read with its lines: still unknown
    assert order.data["cancellations"]["data"][0]["items"] == LINE
    if many:
        fresh = store.get_order("7002")
        assert fresh is not None
        assert fresh.data["shipments"]["data"][0] == {"id": "s1", "tracking_info": {"carrier": "DHL"}}
