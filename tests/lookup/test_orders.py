"""OrderService against the Graph sandbox, in-process: lookups, the reference scan, errors as answers, buttons."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.actions.ledger import ACKNOWLEDGE_ORDER, Ledger
from bot.config import Settings
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.lookup.query import Query
from bot.lookup.service import SCAN_FIELDS, Ambiguous, OrderFound, OrderService, Problem
from bot.sandbox.graph import SANDBOX_TOKEN, GraphSandbox
from bot.slack.views.lookup import render, render_contact, render_shared
from bot.storage.sqlite.store import Store

CM_URL = "https://cm.example/"


class Clock:
    """Starts at wall time (the sandbox stamps orders with it); tests move it forward to expire the scan memory."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> GraphSandbox:
    return GraphSandbox(orders=60)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        fb_page_id="1122334455",
        fb_page_access_token=SANDBOX_TOKEN,
        fb_graph_url="http://graph.test",
        db_path=str(tmp_path / "orderdesk.db"),
        graph_max_retries=0,
        lookup_scan_max_pages=3,
        lookup_scan_cache_seconds=300,
        commerce_manager_url=CM_URL,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def store(settings: Settings, clock: Clock) -> Iterator[Store]:
    with Store(settings.db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def service(settings: Settings, sandbox: GraphSandbox, store: Store, clock: Clock) -> Iterator[OrderService]:
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        yield OrderService(settings, graph, store, clock=clock)


def with_reference(sandbox: GraphSandbox, reference: str, **fields: Any) -> str:
    order_id = str(sandbox.add_order(**fields)["id"])
    sandbox.advance(order_id, "IN_PROGRESS", reference)
    return order_id


def lookup(service: OrderService, kind: str, value: str) -> Any:
    [answer] = service.lookup([Query(kind, value)])  # type: ignore[arg-type]
    return answer


def gets(sandbox: GraphSandbox) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls() if c["method"] == "GET"]


def valid(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def test_lookup_by_id_is_one_request_and_indexes_the_order(
    service: OrderService, sandbox: GraphSandbox, store: Store
) -> None:
    order_id = with_reference(sandbox, "SO-1042")
    sandbox.clear_calls()
    answer = lookup(service, "id", order_id)
    assert isinstance(answer, OrderFound)
    assert answer.order["id"] == order_id
    assert answer.ack_status is None
    assert len(answer.ack_key) == 32
    [call] = sandbox.calls()
    assert call["path"].endswith(f"/{order_id}")
    assert call["params"] == {"fields": ORDER_CARD_FIELDS}
    assert store.find_by_reference("SO-1042") == [order_id]


def test_each_card_gets_its_own_key(service: OrderService, sandbox: GraphSandbox) -> None:
    order_id = str(sandbox.add_order()["id"])
    first, second = service.lookup([Query("id", order_id)]), service.lookup([Query("id", order_id)])
    assert isinstance(first[0], OrderFound)
    assert isinstance(second[0], OrderFound)
    assert first[0].ack_key != second[0].ack_key


def test_several_queries_answer_in_order(service: OrderService, sandbox: GraphSandbox) -> None:
    a, b = (str(sandbox.add_order()["id"]) for _ in range(2))
    answers = service.lookup([Query("id", a), Query("id", "7000000000000"), Query("id", b)])
    assert [type(x) for x in answers] == [OrderFound, Problem, OrderFound]
    assert [x.order["id"] for x in answers if isinstance(x, OrderFound)] == [a, b]
    assert len(sandbox.calls()) == 3


def test_the_card_shows_what_the_ledger_knows(service: OrderService, sandbox: GraphSandbox, store: Store) -> None:
    order_id = str(sandbox.add_order()["id"])
    Ledger(store).claim(key="k" * 32, operation=ACKNOWLEDGE_ORDER, order_id=order_id, params={}, user_id="U0AGENT2")
    answer = lookup(service, "id", order_id)
    assert isinstance(answer, OrderFound)
    assert answer.ack_status is not None
    assert (answer.ack_status.state, answer.ack_status.user_id) == ("pending", "U0AGENT2")
    blocks, _ = render(answer, commerce_manager_url=CM_URL)
    assert "order_ack" not in json.dumps(blocks)  # no second Acknowledge while one is in flight


@pytest.mark.parametrize("typed", ["SO-1042", "so-1042", "So-1042"])
def test_an_indexed_reference_costs_one_request_whatever_its_case(
    service: OrderService, sandbox: GraphSandbox, store: Store, typed: str
) -> None:
    order_id = with_reference(sandbox, "SO-1042")
    store.upsert_order(sandbox.order(order_id))
    sandbox.clear_calls()
    answer = lookup(service, "reference", typed)
    assert isinstance(answer, OrderFound)
    assert answer.order["id"] == order_id
    assert [c["params"] for c in sandbox.calls()] == [{"fields": ORDER_CARD_FIELDS}]


def test_an_unknown_reference_is_found_by_the_bounded_scan_then_from_the_index(
    service: OrderService, sandbox: GraphSandbox, settings: Settings, clock: Clock
) -> None:
    order_id = with_reference(sandbox, "SO-2001")
    sandbox.clear_calls()
    answer = lookup(service, "reference", "so-2001")
    assert isinstance(answer, OrderFound)
    assert answer.order["id"] == order_id
    *scan, card = sandbox.calls()
    assert card["params"] == {"fields": ORDER_CARD_FIELDS}
    assert 1 <= len(scan) <= settings.lookup_scan_max_pages
    first = scan[0]
    assert first["path"].endswith("/1122334455/commerce_orders")
    assert first["params"]["fields"] == SCAN_FIELDS
    assert first["params"]["state"] == "IN_PROGRESS,COMPLETED"
    assert int(first["params"]["updated_after"]) == int(clock.now) - settings.lookup_scan_max_age_days * 86_400
    sandbox.clear_calls()
    assert isinstance(lookup(service, "reference", "SO-2001"), OrderFound)
    assert len(sandbox.calls()) == 1  # indexed now: the card's request only


def test_the_scan_stops_at_its_page_cap(service: OrderService, sandbox: GraphSandbox, settings: Settings) -> None:
    for n in range(120):
        with_reference(sandbox, f"BULK-{n:04d}")
    sandbox.clear_calls()
    answer = lookup(service, "reference", "NOPE-0001")
    assert isinstance(answer, Problem)
    assert len(sandbox.calls()) == settings.lookup_scan_max_pages


def test_a_miss_is_remembered_then_rescanned_after_the_cache_time(
    service: OrderService, sandbox: GraphSandbox, clock: Clock, settings: Settings
) -> None:
    first = lookup(service, "reference", "SO-404")
    assert isinstance(first, Problem)
    assert "No order with merchant reference `SO-404` on this Page" in first.text
    assert "in the last 90 days (up to 3 pages) just now" in first.text
    scanned = len(sandbox.calls())
    assert scanned >= 1
    again = lookup(service, "reference", "so-404")
    assert isinstance(again, Problem)
    assert "within the last 5 minutes" in again.text
    assert len(sandbox.calls()) == scanned  # no rescan
    clock.now += settings.lookup_scan_cache_seconds + 1
    lookup(service, "reference", "SO-404")
    assert len(sandbox.calls()) > scanned


def test_a_reference_found_later_is_found_despite_a_remembered_miss(
    service: OrderService, sandbox: GraphSandbox, store: Store
) -> None:
    assert isinstance(lookup(service, "reference", "SO-3001"), Problem)
    order_id = with_reference(sandbox, "SO-3001")
    store.upsert_order(sandbox.order(order_id))  # e.g. the poller or an acknowledgement indexed it
    answer = lookup(service, "reference", "SO-3001")
    assert isinstance(answer, OrderFound)


def test_a_shared_reference_lists_every_order_without_fetching_cards(
    service: OrderService, sandbox: GraphSandbox
) -> None:
    order_ids = {
        with_reference(sandbox, "DUP-100"),
        with_reference(sandbox, "dup-100"),
        with_reference(sandbox, "DUP-100"),
    }
    sandbox.clear_calls()
    answer = lookup(service, "reference", "Dup-100")
    assert isinstance(answer, Ambiguous)
    assert {o.id for o in answer.orders} == order_ids
    assert all(c["path"].endswith("/commerce_orders") for c in sandbox.calls())
    blocks, text = render(answer, commerce_manager_url=CM_URL)
    valid(blocks)
    assert "is used by 3 orders" in json.dumps(blocks)
    assert all(order_id in json.dumps(blocks) for order_id in order_ids)
    assert "3 orders" in text


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"invalid_token": True}, "its Page access token is no longer valid. Please ask an orderdesk admin"),
        ({"revoke_permission": True}, "lacks a permission or Page role it needs. Please ask an orderdesk admin"),
        ({"throttle": 1, "regain_minutes": 7}, "Meta is rate limiting us, try again in about 7 minutes."),
        ({"status": 503, "count": 1}, "Meta did not answer while I looked up"),
        ({"transient_code": 2361081, "count": 1}, "Meta did not answer while I looked up"),
    ],
)
@pytest.mark.parametrize("query", [Query("id", "ID"), Query("reference", "SO-9")])
def test_graph_failures_become_plain_answers(
    service: OrderService, sandbox: GraphSandbox, fault: dict[str, Any], expected: str, query: Query
) -> None:
    order_id = str(sandbox.add_order()["id"])
    sandbox.set_faults(**fault)
    answer = lookup(service, query.kind, order_id if query.kind == "id" else query.value)
    assert isinstance(answer, Problem)
    assert expected in answer.text
    assert "Traceback" not in answer.text


def test_an_unknown_id_says_so(service: OrderService) -> None:
    answer = lookup(service, "id", "7000000000000")
    assert isinstance(answer, Problem)
    assert answer.text.startswith("No order 7000000000000 on this Page.")


@pytest.mark.parametrize(("fault", "code"), [({"invalid_token": True}, 190), ({"revoke_permission": True}, 200)])
def test_token_problems_are_logged_for_the_admin_with_code_and_trace_but_no_token(
    service: OrderService, sandbox: GraphSandbox, caplog: pytest.LogCaptureFixture, fault: dict[str, Any], code: int
) -> None:
    sandbox.set_faults(**fault)
    with caplog.at_level(logging.ERROR, logger="bot.lookup.service"):
        answer = lookup(service, "id", "7000000000000")
    [record] = [r for r in caplog.records if r.name == "bot.lookup.service"]
    logged = re.search(r"code=(\d+) subcode=\S+ fbtrace_id=(\w+)", record.getMessage())
    assert logged is not None
    assert int(logged[1]) == code
    assert f"Graph error {code}, trace {logged[2]}" in answer.text  # the agent can quote what the admin finds
    assert SANDBOX_TOKEN not in caplog.text


def test_contact_reveals_pii_once_and_audits_who_saw_it(
    service: OrderService, sandbox: GraphSandbox, store: Store
) -> None:
    order = sandbox.add_order()
    order_id = str(order["id"])
    blocks = render_contact(service.contact(order_id, user_id="U0AGENT1", team_id="T0SANDBOX"))
    valid(blocks)
    text = json.dumps(blocks)
    assert order["buyer_details"]["email"] in text
    assert order["shipping_address"]["street1"] in text
    [row] = store.audit_for_order(order_id)
    assert (row.action, row.user_id, row.outcome) == ("show_contact", "U0AGENT1", "shown")
    assert order["buyer_details"]["email"] not in repr(row)


def test_contact_failures_are_answered_and_audited(service: OrderService, store: Store) -> None:
    blocks = render_contact(service.contact("7000000000000", user_id="U0AGENT1", team_id=None))
    assert "No order 7000000000000" in json.dumps(blocks)
    [row] = store.audit_for_order("7000000000000")
    assert row.outcome == "failed: NotFoundError"


@pytest.mark.parametrize("value", ["SO-1", "1/../../me", ""])
def test_buttons_with_values_orderdesk_never_rendered_make_no_graph_call(
    service: OrderService, sandbox: GraphSandbox, value: str
) -> None:
    assert "not a Facebook order ID" in json.dumps(
        render_contact(service.contact(value, user_id="U0AGENT1", team_id=None))
    )
    shared = service.find_for_sharing(value)
    assert isinstance(shared, Problem)
    assert sandbox.calls() == []


def test_the_shared_card_has_no_pii_and_credits_the_sharer(
    service: OrderService, sandbox: GraphSandbox, store: Store
) -> None:
    order = sandbox.add_order()
    order_id = str(order["id"])
    shared = service.find_for_sharing(order_id)
    assert not isinstance(shared, Problem)
    blocks, _ = render_shared(shared, shared_by="U0AGENT2", commerce_manager_url=CM_URL)
    valid(blocks)
    text = json.dumps(blocks)
    for pii in (order["buyer_details"]["name"], order["buyer_details"]["email"], order["shipping_address"]["street1"]):
        assert pii not in text
    assert "Shared by <@U0AGENT2>" in text
    service.remember_shared(order_id, channel="C0ORDERS", ts="1.000100", user_id="U0AGENT2")
    [card] = store.cards_for_order(order_id)
    assert (card.channel, card.ts, card.kind) == ("C0ORDERS", "1.000100", "shared:U0AGENT2")
