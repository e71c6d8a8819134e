"""The export's CSV: its columns, its rows (window, states, amounts, acknowledgements) and no buyer data."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.actions.entries import ACKNOWLEDGE_ORDER, ACKNOWLEDGE_ORDERS
from bot.config import Settings
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.lookup.export import COLUMNS, EXPORT_ACTION, Exported, ExportRequest, record_export, write_export
from bot.notify.poller import NOTIFY_FIELDS
from bot.sandbox.graph import SANDBOX_TOKEN, GraphSandbox
from bot.slack.views.words import state_words
from bot.storage.sqlite.store import Store

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400


def iso(days_ago: float) -> str:
    return datetime.fromtimestamp(NOW - days_ago * DAY, UTC).isoformat(timespec="seconds")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "orderdesk.db")


def graph_order(graph: GraphSandbox, *, days_ago: float, **fields: Any) -> dict[str, Any]:
    order = graph.add_order(items=[{"quantity": 2, "price_per_unit": {"amount": "10.00", "currency": "USD"}}])
    return {**order, "last_updated": iso(days_ago), "created": iso(days_ago + 1), **fields}


def export(store: Store, request: ExportRequest) -> tuple[bytes, list[dict[str, str]]]:
    out = io.StringIO(newline="")
    exported = write_export(out, store, request, now=NOW, state_words=state_words)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert exported.rows == len(rows)
    return out.getvalue().encode(), rows


def test_the_csv_has_the_columns_and_the_window_rows_with_amounts_and_who_acknowledged(store: Store) -> None:
    graph = GraphSandbox(orders=0)
    shipped = graph_order(graph, days_ago=2)
    item = shipped["items"]["data"][0]
    line = {"id": item["id"], "quantity": 1}
    shipped |= {
        "order_status": {"state": "COMPLETED"},
        "merchant_order_id": "=HYPERLINK(1)",
        "shipments": {"data": [{"id": "s1", "items": [line]}]},
        "cancellations": {"data": [{"id": "c1", "items": [line]}]},
        "refunds": {"data": [{"id": "r1", "refund_amount": {"amount": "4.50", "currency": "USD"}}]},
    }
    fresh = graph_order(graph, days_ago=1)
    for connection in ("shipments", "cancellations", "refunds"):
        fresh.pop(connection)  # not cached: the amounts are left empty, not zero
    old = graph_order(graph, days_ago=40)
    for order in (shipped, fresh, old):
        store.upsert_order(order)
    store.add_audit(action=ACKNOWLEDGE_ORDERS, order_id=shipped["id"], user_id="U0AGENT2", outcome="failed", at=NOW)
    store.add_audit(
        action=ACKNOWLEDGE_ORDER, order_id=shipped["id"], user_id="U0AGENT1", outcome="succeeded", at=NOW - DAY
    )

    data, rows = export(store, ExportRequest(since_seconds=30 * DAY))

    assert data.splitlines()[0].decode() == ",".join(COLUMNS)
    assert [row["order_id"] for row in rows] == [shipped["id"], fresh["id"]]  # oldest update first; 40 days: out
    first, second = rows
    total = shipped["estimated_payment_details"]["total_amount"]
    assert first | {"order_id": ""} == {
        "order_id": "",
        "merchant_reference": "'=HYPERLINK(1)",  # a spreadsheet shows it, never runs it
        "channel": shipped["channel"],
        "state": "Completed",
        "created": iso(3),
        "updated": iso(2),
        "total": total["amount"],
        "currency": total["currency"],
        "item_count": "2",
        "ship_by": shipped["ship_by_date"],
        "shipped_amount": "10.00",
        "cancelled_amount": "10.00",
        "refunded_amount": "4.50",
        "acknowledged_by": "U0AGENT1",
        "acknowledged_at": iso(1),
    }
    assert (second["state"], second["shipped_amount"], second["refunded_amount"]) == (
        "Awaiting acknowledgement",
        "",
        "",
    )
    assert (second["acknowledged_by"], second["acknowledged_at"]) == ("", "")


def test_the_state_filter_keeps_only_those_states(store: Store) -> None:
    graph = GraphSandbox(orders=0)
    created = graph_order(graph, days_ago=1)
    done = graph_order(graph, days_ago=1, order_status={"state": "COMPLETED"})
    store.upsert_orders([created, done])
    _, rows = export(store, ExportRequest(7 * DAY, frozenset({"COMPLETED"})))
    assert [row["order_id"] for row in rows] == [done["id"]]


def test_no_buyer_name_email_phone_or_street_in_the_file(store: Store) -> None:
    graph = GraphSandbox(orders=0)
    orders = [graph_order(graph, days_ago=n / 10) for n in range(20)]
    store.upsert_orders(orders)
    data, rows = export(store, ExportRequest(7 * DAY))
    assert len(rows) == 20
    for order in orders:
        buyer, address = order["buyer_details"], order["shipping_address"]
        for value in (buyer["name"], buyer["email"], buyer["phone_number"], address["name"], address["street1"],
                      address["postal_code"]):  # fmt: skip
            assert value
            assert value.encode() not in data, f"buyer data {value!r} in the export"


def test_each_export_writes_an_audit_row_with_the_window_filter_and_count(store: Store) -> None:
    record_export(store, ExportRequest(30 * DAY, frozenset({"CREATED", "COMPLETED"})), Exported(rows=12),
                  user_id="U0AGENT1", team_id="T0SANDBOX")  # fmt: skip
    row = store._select_one("SELECT action, user_id, team_id, outcome, detail FROM audit")
    assert row == {
        "action": EXPORT_ACTION,
        "user_id": "U0AGENT1",
        "team_id": "T0SANDBOX",
        "outcome": "succeeded",
        "detail": "since=30d states=COMPLETED,CREATED rows=12",
    }


def test_a_long_export_reports_its_progress_every_thousand_rows(store: Store) -> None:
    graph = GraphSandbox(orders=0)
    template = graph_order(graph, days_ago=1)
    store.upsert_orders({**template, "id": str(n)} for n in range(2_500))
    heard: list[int] = []
    write_export(io.StringIO(), store, ExportRequest(7 * DAY), now=NOW, state_words=state_words, progress=heard.append)
    assert heard == [1_000, 2_000]


@pytest.mark.parametrize(
    ("currency", "price", "total", "refund", "expected"),
    [
        ("JPY", "1500", "3300", "700", ("3300", "1500", "0", "700")),
        ("KWD", "1.25", "2.75", "0.5", ("2.750", "1.250", "0.000", "0.500")),
        ("USD", "10", "22", "0.5", ("22.00", "10.00", "0.00", "0.50")),
    ],
)
def test_amounts_have_their_currencys_own_decimals(
    store: Store, currency: str, price: str, total: str, refund: str, expected: tuple[str, ...]
) -> None:
    graph = GraphSandbox(orders=0)
    order = graph_order(graph, days_ago=1)
    item = order["items"]["data"][0] | {"price_per_unit": {"amount": price, "currency": currency}}
    line = {"id": item["id"], "quantity": 1}
    order |= {
        "items": {"data": [item]},
        "estimated_payment_details": {"total_amount": {"amount": total, "currency": currency}},
        "shipments": {"data": [{"id": "s1", "items": [line]}]},
        "cancellations": {"data": []},
        "refunds": {"data": [{"id": "r1", "refund_amount": {"amount": refund, "currency": currency}}]},
    }
    store.upsert_order(order)
    _, rows = export(store, ExportRequest(since_seconds=7 * DAY))
    (row,) = rows
    columns = ("total", "shipped_amount", "cancelled_amount", "refunded_amount")
    assert tuple(row[column] for column in columns) == expected
    assert row["currency"] == currency


def test_an_amount_the_cache_cannot_tell_is_left_empty_never_zero(store: Store) -> None:
    """A read that asks for shipments and cancellations without their lines (the poller's) leaves their value
    unknown: the cell is empty."""
    graph = GraphSandbox(orders=0)
    order = graph_order(graph, days_ago=1)
    order |= {
        "shipments": {"data": [{"id": "s1", "tracking_info": {"carrier": "UPS", "tracking_number": "1Z9"}}]},
        "cancellations": {"data": [{"id": "c1", "cancel_reason": {"reason_code": "CUSTOMER_REQUESTED"}}]},
    }
    store.upsert_order(order)
    _, (row,) = export(store, ExportRequest(since_seconds=7 * DAY))
    assert (row["shipped_amount"], row["cancelled_amount"]) == ("", "")


def test_a_poll_after_a_lookup_keeps_the_shipped_lines_and_their_amount(store: Store, tmp_path: Path) -> None:
    graph = GraphSandbox(orders=0)
    items = [{"quantity": 2, "price_per_unit": {"amount": "10.00", "currency": "USD"}}]
    order_id = str(graph.add_order(order_status={"state": "IN_PROGRESS"}, items=items)["id"])
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        fb_page_id="1122334455",
        fb_page_access_token=SANDBOX_TOKEN,
        fb_graph_url="http://graph.test",
        db_path=str(tmp_path / "unused.db"),
        graph_max_retries=0,
    )
    with GraphClient.from_settings(settings, transport=graph.transport()) as client:
        shipment = {"tracking_info": {"carrier": "UPS", "tracking_number": "1Z999"}, "idempotency_key": "k1"}
        client.send("POST", f"{order_id}/shipments", shipment)
        store.upsert_order(client.get_order(order_id, ORDER_CARD_FIELDS))  # a lookup: the shipment's lines
        store.upsert_order(client.get_order(order_id, NOTIFY_FIELDS))  # a poll: the shipment without them
    out = io.StringIO(newline="")
    write_export(out, store, ExportRequest(since_seconds=DAY), now=time.time(), state_words=state_words)
    (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    assert row["shipped_amount"] == "20.00"


def test_who_acknowledged_is_named_and_a_name_never_runs_as_a_formula(store: Store) -> None:
    graph = GraphSandbox(orders=0)
    first, second = graph_order(graph, days_ago=1), graph_order(graph, days_ago=2)
    store.upsert_orders([first, second])
    for order, user in ((first, "U0BOB"), (second, "U0EVE")):
        store.add_audit(action=ACKNOWLEDGE_ORDER, order_id=order["id"], user_id=user, outcome="succeeded", at=NOW)
    out = io.StringIO(newline="")
    names = {"U0BOB": "Bob Agent", "U0EVE": "=cmd|' /C calc'!A0"}.__getitem__
    write_export(out, store, ExportRequest(since_seconds=7 * DAY), now=NOW, state_words=state_words, names=names)
    rows = {row["order_id"]: row["acknowledged_by"] for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows == {first["id"]: "Bob Agent", second["id"]: "'=cmd|' /C calc'!A0"}
