"""A card keeps its keys across redraws (a band change, a poll's update, another card's refresh) until a write of
its order finishes: a double-click across a redraw is still one intent, and a success or a request Meta refused for
good gives every card new keys. In process, against the Graph sandbox and a real sqlite file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from typing import Any

import pytest
from service_settings import service_settings

from bot.actions.answers import ActionOutcome, Answer, Requester
from bot.actions.entries import RetryPolicy
from bot.actions.ledger import Ledger, card_key
from bot.actions.operation import Request
from bot.actions.order_actions import SHIP, OrderActionsService, Snapshot
from bot.actions.ship import SHIP_ACTION
from bot.actions.status import CARD_LOOKUP, CARD_NOTIFICATION, AckStatus, card_place
from bot.graph.client import GraphClient
from bot.notify.announce import Announcer
from bot.notify.bands import BandRefresher
from bot.notify.ports import Change
from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Card, Store

CHANNEL = "C0ORDERS"
TS = "1.000100"


class Publisher:
    """Records the card token of every redraw, and every answer."""

    def __init__(self) -> None:
        self.tokens: list[str | None] = []
        self.told: list[Answer] = []

    def order_changed(
        self,
        order: Mapping[str, Any],
        cards: Sequence[Card],
        status: AckStatus | None,
        key: str | None,
        *,
        change: ActionOutcome | None = None,
    ) -> list[Card]:
        self.tokens.append(key)
        return list(cards)

    def tell(self, requester: Requester, answer: Answer) -> None:
        self.told.append(answer)


class Writer:
    """A channel writer that keeps the key each card was drawn with."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def post_card(self, channel: str, order: Mapping[str, Any], status: AckStatus | None, key: str) -> str:
        self.keys.append(key)
        return TS

    def update_card(self, channel: str, ts: str, order: Mapping[str, Any], status: AckStatus | None, key: str) -> None:
        self.keys.append(key)

    def reply_change(self, channel: str, ts: str, change: Change) -> None:
        pass


@pytest.fixture(name="publisher")
def publisher_fixture() -> Publisher:
    return Publisher()


@pytest.fixture(name="service")
def service_fixture(sandbox: GraphSandbox, store: Store, publisher: Publisher) -> Iterator[OrderActionsService]:
    settings = service_settings(sandbox).with_overrides(ship_allowed=("U0AGENT1",), graph_max_retries=0)
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        yield OrderActionsService(
            settings, graph, store, publisher=publisher, actions=[SHIP_ACTION], retry=RetryPolicy(delays=(0.0,))
        )


def announced(sandbox: GraphSandbox, store: Store, writer: Writer) -> tuple[str, Announcer]:
    """An acknowledged order with two units, announced in the channel (its notification card remembered)."""
    placed = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}])
    order_id = str(placed["id"])
    store.upsert_order(placed)
    announcer = Announcer(store, Ledger(store))
    assert store.claim_notification(order_id, CHANNEL)
    announcer.post_card(writer, order_id, CHANNEL)  # type: ignore[arg-type]
    return order_id, announcer


def request(order_id: str, key: str) -> Request:
    return Request(order_id, key, "U0AGENT1", "T0SANDBOX", "T0SANDBOX", CHANNEL, TS, False, None)


def ship(
    service: OrderActionsService, order_id: str, key: str, number: str, snap: Snapshot | None = None
) -> ActionOutcome:
    """Ship one unit with ``number``, from a modal filled from ``snap`` (default: the order as it is now)."""
    snap = snap or service.read(order_id)
    values = {"carrier": "UPS", "tracking_number": number, f"qty_{snap.lines[0].item_id}": "1"}
    service.submit(SHIP, request(order_id, key), SHIP_ACTION.check(snap, values, key).params)
    told = service.runner.outcome(service.ledger.get(key), order_id)  # type: ignore[arg-type]
    assert isinstance(told, ActionOutcome)
    return told


def test_a_notification_card_keeps_its_key_through_a_poll_update_and_a_band_redraw(
    sandbox: GraphSandbox, store: Store
) -> None:
    writer = Writer()
    order_id, announcer = announced(sandbox, store, writer)
    row = store.get_notification(order_id, CHANNEL)
    assert row is not None
    announcer.refresh(writer, row, TS, announcer.order(order_id))  # type: ignore[arg-type]
    BandRefresher(store, outbox=None, zone=UTC)._redraw_card(writer, row)  # type: ignore[arg-type]
    posted, updated, banded = writer.keys
    assert posted == updated == banded
    assert posted == announcer.card_key(order_id, CHANNEL)


def test_only_a_finished_write_gives_the_cards_new_keys(
    sandbox: GraphSandbox, store: Store, service: OrderActionsService, publisher: Publisher
) -> None:
    writer = Writer()
    order_id, announcer = announced(sandbox, store, writer)
    [drawn] = writer.keys
    [card] = store.cards_for_order(order_id)
    opened_early = service.read(order_id)  # a second modal, opened before anything was shipped

    def redrawn() -> str:
        token = publisher.tokens[-1]
        assert token is not None
        return card_key(token, card_place(card))

    sandbox.set_faults(status=503, count=1, match={"method": "POST"})
    assert ship(service, order_id, "a" * 32, "1ZONE").state == "retryable"
    assert redrawn() == drawn  # a transient failure: the card's intent is still the one being retried
    assert announcer.card_key(order_id, CHANNEL) == drawn

    assert service.sweep() == 1  # the retry succeeds
    assert ship(service, order_id, "a" * 32, "1ZONE").state == "succeeded"
    after_success = redrawn()
    assert after_success != drawn
    assert announcer.card_key(order_id, CHANNEL) == after_success

    refused = ship(service, order_id, "b" * 32, "1ZONE", opened_early)  # the number is on the order now: 2382045
    assert refused.state == "failed"
    after_refusal = redrawn()
    assert after_refusal not in (drawn, after_success)
    assert announcer.card_key(order_id, CHANNEL) == after_refusal


def test_two_cards_of_one_order_never_share_a_key_and_two_databases_never_repeat_one(
    tmp_path: Any, store: Store
) -> None:
    ledger = Ledger(store)
    notification = Card(1, "7001", CARD_NOTIFICATION, CHANNEL, TS, None, 0.0)
    other_channel = Card(2, "7001", CARD_NOTIFICATION, "C0OTHER", "2.000200", None, 0.0)
    lookup = Card(3, "7001", CARD_LOOKUP, None, None, "https://hooks.slack.test/1", 0.0)
    token = ledger.card_token("7001")
    keys = {card_key(token, card_place(card)) for card in (notification, other_channel, lookup)}
    assert len(keys) == 3
    assert all(len(key) == 32 and key.isalnum() for key in keys)
    assert ledger.card_token("7001") == token  # the salt is made once per database
    with Store(tmp_path / "other.db") as other:
        assert Ledger(other).card_token("7001") != token


def test_a_declined_approval_ends_its_intent_and_a_waiting_one_does_not(store: Store) -> None:
    ledger = Ledger(store)
    drawn = ledger.card_token("7001")
    row = {
        "id": "a1",
        "operation": "refund_order",
        "order_id": "7001",
        "key": "c" * 32,
        "params": "{}",
        "total": "120.00",
        "currency": "USD",
        "requester_id": "U0AGENT1",
        "requester_team": "T0SANDBOX",
        "origin_channel": CHANNEL,
        "origin_ts": TS,
        "origin_response_url": None,
        "state": "pending",
        "created_at": 0.0,
        "expires_at": 86_400.0,
    }
    assert store.approval_create(row)
    assert ledger.card_token("7001") == drawn  # waiting for a second person: the same intent
    assert store.approval_move("a1", from_state="pending", to_state="declined", now=1.0) is not None
    assert ledger.card_token("7001") != drawn


def test_a_shared_card_keeps_its_key_through_a_band_redraw_and_matches_the_runners_redraw(store: Store) -> None:
    store.remember_card("7001", channel=CHANNEL, ts="3.000300", response_url=None, kind="shared:U0AGENT1")
    [card] = store.cards_for_order("7001")
    ledger = Ledger(store)
    announcer = Announcer(store, ledger)
    assert announcer.posted_card_key(card) == announcer.posted_card_key(card)
    assert announcer.posted_card_key(card) == card_key(ledger.card_token("7001"), card_place(card))
    assert announcer.posted_card_key(card) != announcer.card_key("7001", CHANNEL)  # not the notification's
