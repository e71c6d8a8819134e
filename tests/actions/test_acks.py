"""AcknowledgementService in-process: click parsing, reference checks, the order lock and the crash sweeper.

The Graph sandbox runs in-process (its transport); Slack is never reached here (no cards, no clicks to answer),
so the Web API client points nowhere. The end-to-end behaviour over HTTP is in test_e2e_acks.py and test_crash.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_settings import service_settings
from slack_sdk import WebClient

from bot.actions.acknowledge import AcknowledgementService
from bot.actions.ledger import ACKNOWLEDGE_ORDER, Ledger
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox
from bot.slack.errors import BadRequest
from bot.slack.payloads import Click
from bot.slack.publisher import SlackPublisher, answer_blocks
from bot.slack.views.blocks import ack_value
from bot.storage.sqlite.store import Store

KEY = "0123456789abcdef0123456789abcdef"
NOWHERE = WebClient(base_url="http://127.0.0.1:9/api/")  # any Slack call would fail the test loudly


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="acks")
def acks_fixture(sandbox: GraphSandbox, store: Store, clock: Clock) -> Iterator[AcknowledgementService]:
    settings = service_settings(sandbox)
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        yield AcknowledgementService(settings, graph, store, publisher=SlackPublisher(NOWHERE), clock=clock)


def action_body(value: str, **extra: Any) -> dict[str, Any]:
    return {
        "actions": [{"action_id": "order_ack", "value": value}],
        "user": {"id": "U0AGENT1", "team_id": "T0SANDBOX"},
        "container": {"channel_id": "C0ORDERS", "message_ts": "1.000100", "is_ephemeral": False},
        "response_url": "https://hooks.example/1",
        **extra,
    }


def test_a_click_is_read_from_the_button_value_and_survives_the_modal() -> None:
    click = Click.from_action(action_body(ack_value("7001", KEY)), "T0SANDBOX")
    assert (click.order_id, click.key, click.channel_id, click.message_ts) == ("7001", KEY, "C0ORDERS", "1.000100")
    again = Click.from_metadata(click.to_metadata(), user_id="U0AGENT2", user_team_id="T0OTHER")
    assert (again.order_id, again.key, again.response_url) == ("7001", KEY, click.response_url)
    assert (again.user_id, again.user_team_id) == ("U0AGENT2", "T0OTHER")  # the submitter is who is checked


@pytest.mark.parametrize("value", ['{"o":"7001"}', '{"o":"70x1","k":"abc"}', "7001", '{"o":"7001","k":"a b"}'])
def test_a_button_value_the_bot_did_not_render_is_refused(value: str) -> None:
    with pytest.raises(BadRequest, match="could not read that button"):
        Click.from_action(action_body(value), "T0SANDBOX")


@pytest.mark.parametrize(
    "metadata",
    ['{"order_id": "7001", "key": "no spaces"}', "not json", "[1]", '{"order_id": "7001"}', None, '{"x": 1}'],
)
def test_modal_metadata_the_bot_did_not_write_is_refused(metadata: str | None) -> None:
    with pytest.raises(BadRequest, match="could not read that button"):
        Click.from_metadata(metadata, user_id="U0AGENT1", user_team_id=None)


@pytest.mark.parametrize("user", [None, 42, "", "bob", {"id": "U0AGENT1"}])
def test_a_submission_without_a_slack_user_id_is_refused(user: object) -> None:
    with pytest.raises(BadRequest, match="did not say who sent it"):
        Click.from_metadata('{"order_id": "7001", "key": "abc"}', user_id=user, user_team_id=None)


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("SHOP-1", None),
        ("a.b_c/d#e-1", None),
        ("X" * 64, None),
        ("", "Enter your shop's order number."),
        ("X" * 65, "At most 64 characters."),
        ("SHOP 1", "Use letters, digits and . _ / # - only, starting with a letter or digit."),
        ("<!here>", "Use letters, digits and . _ / # - only, starting with a letter or digit."),
        ("shop-used", "Already used for order 9000."),
        ("SHOP-MINE", None),  # the order's own reference may be sent again
    ],
)
def test_reference_errors(acks: AcknowledgementService, store: Store, reference: str, error: str | None) -> None:
    store.set_reference("9000", "SHOP-USED")
    store.set_reference("7001", "SHOP-MINE")
    assert acks.reference_error("7001", reference) == error


def claim_and_abandon(store: Store, clock: Clock, order_id: str) -> None:
    """A claim whose process died before recording anything (as ``acknowledge`` makes it), then the lease ends."""
    claim = Ledger(store, lease_seconds=60, clock=clock).claim(
        key=KEY,
        operation=ACKNOWLEDGE_ORDER,
        order_id=order_id,
        params={"merchant_order_reference": f"FB-{order_id}"},
        user_id="U0AGENT1",
    )
    assert claim.won
    clock.now += 61


def ack_posts(sandbox: GraphSandbox) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls() if c["method"] == "POST"]


def test_the_sweeper_resends_an_abandoned_claim_with_its_stored_key_and_params(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, clock: Clock
) -> None:
    order_id = str(sandbox.add_order()["id"])
    claim_and_abandon(store, clock, order_id)
    assert acks.sweep() == 1
    [post] = ack_posts(sandbox)
    assert post["params"] == {"idempotency_key": KEY, "merchant_order_reference": f"FB-{order_id}"}
    assert [row.outcome for row in store.audit_for_order(order_id)] == ["succeeded"]
    assert acks.sweep() == 0  # nothing left


def test_the_sweeper_records_a_commit_it_never_heard_of_without_calling_again(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, clock: Clock
) -> None:
    order_id = str(sandbox.add_order()["id"])
    claim_and_abandon(store, clock, order_id)
    sandbox.advance(order_id, "IN_PROGRESS", merchant_order_reference=f"FB-{order_id}")
    assert acks.sweep() == 1
    assert ack_posts(sandbox) == []
    assert [row.outcome for row in store.audit_for_order(order_id)] == ["succeeded"]


def test_the_sweeper_leaves_live_claims_alone(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, clock: Clock
) -> None:
    order_id = str(sandbox.add_order()["id"])
    claim_and_abandon(store, clock, order_id)
    clock.now -= 61  # back inside the lease: its owner may still be calling Meta
    assert acks.sweep() == 0
    assert ack_posts(sandbox) == []


def test_an_order_acknowledged_elsewhere_fails_for_good_and_frees_the_order(
    acks: AcknowledgementService, sandbox: GraphSandbox, store: Store, clock: Clock
) -> None:
    order_id = str(sandbox.add_order()["id"])
    claim_and_abandon(store, clock, order_id)
    sandbox.advance(order_id, "IN_PROGRESS", merchant_order_reference="OTHER-1")
    acks.sweep()
    [row] = store.audit_for_order(order_id)
    assert row.outcome == "failed"
    assert "outside orderdesk (reference OTHER-1)" in (row.detail or "")
    assert store.lock_holder(order_id) is None  # a corrected request may now try


def test_history_finds_an_order_by_reference_case_insensitively(acks: AcknowledgementService, store: Store) -> None:
    store.set_reference("7001", "SHOP-9")
    store.add_audit(action=ACKNOWLEDGE_ORDER, order_id="7001", user_id="U0AGENT1", key=KEY, outcome="succeeded")
    text = str(answer_blocks(acks.history("shop-9")))
    assert "History of order 7001" in text
    assert KEY in text
    assert "No order known" in str(answer_blocks(acks.history("nope")))
