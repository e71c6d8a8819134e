"""The refund operation through the actions engine and the Graph sandbox in process: what is sent (and what is
not), and an outcome lost on the way confirmed by reading the order's refunds back, with no second POST."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from service_settings import service_settings

from bot.actions import sweeper
from bot.actions.answers import Answer, Requester
from bot.actions.entries import REFUND_ORDER
from bot.actions.ledger import Ledger, RetryPolicy
from bot.actions.order_actions import REFUND, offered_actions
from bot.actions.refund import REFUND_ACTION, REFUNDS_BEFORE, made_by, reason_words, refund_params
from bot.actions.runner import Runner
from bot.actions.status import AckStatus
from bot.domain.remaining import REFUND_REASONS, ItemAsk, RefundAsk, RefundPreview, check_refund, remaining
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Card, Store

KEY = "0123456789abcdef0123456789abcdef"


class Quiet:
    def order_changed(
        self, order: Mapping[str, Any], cards: Sequence[Card], status: AckStatus, key: str | None
    ) -> list[Card]:
        return list(cards)

    def tell(self, requester: Requester, answer: Answer) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="graph")
def graph_fixture(sandbox: GraphSandbox) -> Iterator[GraphClient]:
    with GraphClient.from_settings(service_settings(sandbox), transport=sandbox.transport()) as graph:
        yield graph


def shipped_order(sandbox: GraphSandbox, graph: GraphClient) -> dict[str, Any]:
    placed = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 3}, {"quantity": 2}])
    items = placed["items"]["data"]
    lines = [{"item_id": items[0]["id"], "quantity": 2}, {"item_id": items[1]["id"], "quantity": 1}]
    graph.create_shipment(
        placed["id"], "ship1", items=lines, tracking_info={"carrier": "UPS", "tracking_number": "1Z9"}
    )
    return graph.get_order(placed["id"], ORDER_CARD_FIELDS)


def preview_of(order: Mapping[str, Any]) -> RefundPreview:
    first, second = (item["id"] for item in order["items"]["data"])
    ask = RefundAsk("DAMAGED_GOODS", "Sorry!", {first: ItemAsk(quantity="1"), second: ItemAsk(amount="1.25")})
    preview = check_refund(remaining(order), ask)
    assert isinstance(preview, RefundPreview)
    return preview


def claim(ledger: Ledger, order_id: str, params: Mapping[str, Any]) -> Any:
    return ledger.claim(key=KEY, operation=REFUND_ORDER, order_id=order_id, params=params, user_id="U0AGENT1")


def test_the_claimant_sends_the_stored_refund_and_never_the_ids_it_keeps_for_confirming(
    sandbox: GraphSandbox, graph: GraphClient, store: Store
) -> None:
    order = shipped_order(sandbox, graph)
    preview = preview_of(order)
    ledger = Ledger(store)
    runner = Runner(graph, store, ledger, Quiet(), [REFUND_ACTION])
    won = claim(ledger, order["id"], refund_params(preview))
    assert won.won
    recorded = runner.drive(won.entry, None)

    assert recorded.state == "succeeded"
    (post,) = [call for call in sandbox.calls() if call["method"] == "POST" and call["path"].endswith("/refunds")]
    assert REFUNDS_BEFORE not in post["params"]
    assert post["idempotency_key"] == KEY
    refunds = sandbox.order(order["id"])["refunds"]["data"]
    assert len(refunds) == 1
    assert made_by(recorded.params, sandbox.order(order["id"])) == refunds[0]["id"]
    assert remaining(sandbox.order(order["id"])).refundable_total == remaining(order).refundable_total - preview.total


def test_a_lost_answer_is_confirmed_by_reading_the_refund_back_and_nothing_is_sent_twice(
    sandbox: GraphSandbox, graph: GraphClient, store: Store
) -> None:
    order = shipped_order(sandbox, graph)
    earlier = check_refund(
        remaining(order), RefundAsk("WRONG_ITEM", items={order["items"]["data"][0]["id"]: ItemAsk(quantity="1")})
    )
    assert isinstance(earlier, RefundPreview)
    graph.refund_order(order["id"], "earlier", **earlier.graph_params())  # the same lines, before this intent
    order = graph.get_order(order["id"], ORDER_CARD_FIELDS)
    preview = check_refund(remaining(order), earlier.ask())
    assert isinstance(preview, RefundPreview)
    assert made_by(refund_params(preview), order) is None  # the earlier refund is not this one

    clock = Clock()
    ledger = Ledger(store, lease_seconds=60, retry=RetryPolicy((1.0,)), clock=clock)
    runner = Runner(graph, store, ledger, Quiet(), [REFUND_ACTION])
    sandbox.set_faults(drop_after_commit=1, match={"path": "/refunds"})
    entry = claim(ledger, order["id"], refund_params(preview)).entry
    failed = runner.drive(entry, None)
    assert (failed.state, failed.retryable) == ("failed", True)  # Meta applied it; we never heard

    clock.now += 5
    posts_before = len([c for c in sandbox.calls() if c["method"] == "POST"])
    assert sweeper.sweep(runner) == 1
    done = ledger.get(KEY)
    assert done is not None
    assert done.state == "succeeded"
    assert (done.response or {}).get("recovered") is True
    assert len([c for c in sandbox.calls() if c["method"] == "POST"]) == posts_before
    assert len(sandbox.order(order["id"])["refunds"]["data"]) == 2


def test_reasons_read_as_words() -> None:
    assert reason_words("DAMAGED_GOODS") == "Arrived damaged"
    assert reason_words("FACEBOOK_INITIATED") == "Refunded by Meta"
    assert reason_words("REFUND_SFI_FAKE") == "REFUND_SFI_FAKE"
    assert all(reason_words(code) == words for code, words in REFUND_REASONS.items())
    assert REFUND_ACTION.offered_in == frozenset({"IN_PROGRESS", "COMPLETED"})


def test_refund_is_offered_while_shipped_value_is_left_and_not_after_a_full_refund() -> None:
    price = {"amount": "10.00", "currency": "USD"}
    placed: dict[str, Any] = {
        "id": "7001",
        "order_status": {"state": "COMPLETED"},
        "items": {"data": [{"id": "I1", "quantity": 1, "price_per_unit": price}]},
        "shipments": {"data": [{"id": "S1", "items": {"data": [{"id": "I1", "quantity": 1}]}}]},
        "refunds": {"data": []},
    }
    assert REFUND in offered_actions(placed)
    placed["refunds"] = {"data": [{"id": "F1", "items": {"data": [{"id": "I1", "refund_subtotal": price}]}}]}
    assert REFUND not in offered_actions(placed)
