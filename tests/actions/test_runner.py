"""The actions engine without Slack: requests in, domain answers out through a recording publisher.

Everything the engine says goes through the :class:`bot.actions.runner.Publisher` port, so these tests need no
Slack at all: they check which cards were redrawn with which status, and who was told what.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from service_settings import service_settings

from bot.actions.acknowledge import AcknowledgementService
from bot.actions.answers import ActionOutcome, Answer, KeyConflict, NotAllowed, NotShown, Outcome, Requester
from bot.actions.operation import Actor, Request
from bot.actions.permissions import Permissions
from bot.actions.status import CARD_NOTIFICATION, AckStatus
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Card, Store

KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"


class Recorder:
    """A publisher that remembers what it was asked to publish."""

    def __init__(self) -> None:
        self.changed: list[tuple[str, list[int], AckStatus, str | None]] = []
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
        assert status is not None  # acknowledgements always redraw with their status
        self.changed.append((str(order["id"]), [card.id for card in cards], status, key))
        return list(cards)

    def tell(self, requester: Requester, answer: Answer) -> None:
        self.told.append((requester, answer))


class Groups:
    def group_members(self, group: str) -> frozenset[str]:
        return frozenset({"U0ONCALL"}) if group == "S0ONCALL" else frozenset()

    def group_names(self) -> dict[str, str]:
        return {"S0ONCALL": "oncall"}


@pytest.fixture(name="recorder")
def recorder_fixture() -> Recorder:
    return Recorder()


@pytest.fixture(name="acks")
def acks_fixture(sandbox: GraphSandbox, store: Store, recorder: Recorder) -> Iterator[AcknowledgementService]:
    settings = service_settings(sandbox)
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        yield AcknowledgementService(settings, graph, store, publisher=recorder)


def request(order_id: str, key: str = KEY, user_id: str = "U0AGENT1") -> Request:
    return Request(
        order_id=order_id,
        key=key,
        user_id=user_id,
        user_team_id="T0SANDBOX",
        workspace_id="T0SANDBOX",
        channel_id="C0ORDERS",
        message_ts="1.000100",
        ephemeral=False,
        response_url=None,
    )


def test_an_acknowledgement_redraws_the_orders_cards_and_a_second_card_is_told_the_outcome(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    order = sandbox.add_order()
    order_id = str(order["id"])
    store.upsert_order(order)
    store.remember_card(order_id, channel="C0ORDERS", ts="1.000100", response_url=None, kind=CARD_NOTIFICATION)

    acks.acknowledge(request(order_id))

    [(changed_id, cards, status, key)] = recorder.changed
    assert (changed_id, len(cards), status.state) == (order_id, 1, "succeeded")
    assert key is not None
    assert key != KEY
    assert status.reference == f"FB-{order_id}"
    assert recorder.told == []  # the clicked card showed it

    acks.acknowledge(request(order_id, key=OTHER_KEY, user_id="U0AGENT2"))  # another card of the same order
    [(requester, answer)] = recorder.told
    assert requester.user_id == "U0AGENT2"
    assert isinstance(answer, Outcome)
    assert answer.status.state == "succeeded"


def test_a_key_used_for_another_order_is_a_conflict_and_nothing_is_sent(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, recorder: Recorder
) -> None:
    first, second = (sandbox.add_order() for _ in range(2))
    store.upsert_orders([first, second])
    acks.acknowledge(request(str(first["id"])))
    posts = [c for c in sandbox.calls() if c["method"] == "POST"]

    acks.acknowledge(request(str(second["id"])))

    assert [answer for _, answer in recorder.told] == [KeyConflict(str(second["id"]))]
    assert [c for c in sandbox.calls() if c["method"] == "POST"] == posts


def test_a_button_for_an_order_never_shown_is_refused(acks: AcknowledgementService, recorder: Recorder) -> None:
    acks.acknowledge(request("9999"))
    assert [answer for _, answer in recorder.told] == [NotShown("9999")]


def test_permissions_read_group_members_through_the_port(store: Store) -> None:
    permissions = Permissions(("S0ONCALL", "U0LEAD"), store, Groups())
    for user in ("U0ONCALL", "U0LEAD"):
        assert permissions.refusal(Actor(user, "T1", "T1"), order_id=None, key=None, action="x") is None
    refusal = permissions.refusal(Actor("U0OTHER", "T1", "T1"), order_id="7001", key=KEY, action="x")
    assert refusal == NotAllowed(("S0ONCALL", "U0LEAD"), other_workspace=False, group_names={"S0ONCALL": "oncall"})
    guest = permissions.refusal(Actor("U0ONCALL", "T2", "T1"), order_id=None, key=None, action="x")
    assert guest is not None
    assert guest.other_workspace
    assert [row.outcome for row in store.audit_for_order("7001")] == ["refused"]
