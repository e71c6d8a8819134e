"""App Home: valid ``views.publish`` payloads, at most one publish per user per interval in a burst of queue
changes (Slack sandbox over HTTP, a clock the test moves), and ``app_home_opened`` end to end over real HTTP."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk.models.views import View

from bot.config import Settings
from bot.notify.home import queue_signature
from bot.notify.queue import waiting_orders
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackSandbox
from bot.slack import ids
from bot.slack.home import SHOWN, HomePublisher
from bot.slack.publisher import publisher_client
from bot.storage.sqlite.store import Store

USER = "U0AGENT1"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def order(n: int, state: str = "CREATED") -> dict[str, Any]:
    return {
        "id": str(7_000_000 + n),
        "order_status": {"state": state},
        "created": "2026-12-01T08:00:00+00:00",
        "last_updated": f"2026-12-01T08:{n % 60:02d}:00+00:00",
        "channel": "instagram",
        "merchant_order_id": "SO-<1>",
    }


@pytest.fixture
def sandbox() -> Iterator[tuple[SlackSandbox, str]]:
    slack = SlackSandbox()
    server = slack.serve()
    try:
        yield slack, f"{server.url}/api/"
    finally:
        server.stop()


def settings_for(slack: SlackSandbox, api_url: str, tmp_path: Path) -> Settings:
    return Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        slack_api_url=api_url,
        fb_page_id="1122334455",
        fb_page_access_token="token",
        db_path=str(tmp_path / "orderdesk.db"),
    )


@pytest.mark.parametrize("count", [0, 1, 30])
def test_home_views_are_valid(sandbox: tuple[SlackSandbox, str], tmp_path: Path, count: int) -> None:
    slack, api_url = sandbox
    settings = settings_for(slack, api_url, tmp_path)
    with Store(settings.db_path) as store:
        store.upsert_orders(order(n) for n in range(count))
        store.add_audit(action="acknowledge_order", order_id="7000001", user_id=USER, outcome="succeeded")
        home = HomePublisher(settings, store, publisher_client(settings))
        assert home.opened(USER) is True
    (call,) = slack.calls("views.publish")
    view = call["args"]["view"]
    view = view if isinstance(view, dict) else json.loads(view)
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100
    text = str(view)
    assert "Your recent actions" in text
    assert "acknowledge order · order 7000001" in text
    assert ("*Most urgent* (20 of 30)" in text) == (count == 30)
    acks = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == ids.ACK]
    assert len(acks) == min(count, 20)


def test_a_burst_of_queue_changes_publishes_at_most_once_per_interval(
    sandbox: tuple[SlackSandbox, str], tmp_path: Path
) -> None:
    slack, api_url = sandbox
    settings = settings_for(slack, api_url, tmp_path)
    clock = Clock()
    with Store(settings.db_path, clock=clock) as store:
        home = HomePublisher(settings, store, publisher_client(settings), every_seconds=5, clock=clock)
        home.opened(USER)
        assert home.refresh() == 0  # nothing changed since it was drawn
        publishes = [clock.now]
        for n in range(40):  # a new order every quarter second for ten seconds, a refresh pass after each
            clock.now += 0.25
            store.upsert_order(order(n))
            if home.refresh():
                publishes.append(clock.now)
        clock.now += 5
        if home.refresh():  # the last changes, after the interval
            publishes.append(clock.now)
        assert home.refresh() == 0
        current = queue_signature(waiting_orders(store, clock.now, settings.zone))
        assert store.get_state(SHOWN + USER) == current  # Home shows the queue as it is now
    assert len(slack.calls("views.publish")) == len(publishes)
    assert all(b - a >= 5 for a, b in itertools.pairwise(publishes))
    assert len(publishes) <= 1 + 10 / 5 + 1


def test_app_home_opened_over_http_publishes_the_users_home(tmp_path: Path) -> None:
    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0)) as stack:
        stack.services.store.upsert_orders(order(n) for n in range(3))
        sent = stack.slack.event({"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "home"})
        assert sent.response.status_code == 200
        (call,) = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.calls("views.publish"))
        assert call["args"]["user_id"] == USER
        view = stack.slack_sandbox.views(user=USER)[-1]
        assert "Awaiting acknowledgement" in str(view)
        sent = stack.slack.event({"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "messages"})
        assert sent.response.status_code == 200

        clicked = stack.slack.block_action(ids.HOME_PREFERENCES, "dm_escalations:on", user=USER)
        assert clicked.response.status_code == 200
        store = stack.services.store
        stack.slack_sandbox.wait_for(lambda: (user := store.home_user(USER)) is not None and user.dm_escalations)
        user = store.home_user(USER)
        assert user is not None
        assert user.daily_summary is False  # the other preference kept
        stack.slack.block_action(ids.HOME_PREFERENCES, "daily_summary:maybe", user=USER)  # not ours: no change
        stack.slack.block_action(ids.HOME_PREFERENCES, "daily_summary:on", user=USER)
        stack.slack_sandbox.wait_for(lambda: (user := store.home_user(USER)) is not None and user.daily_summary)
        user = store.home_user(USER)
        assert user is not None
        assert user.dm_escalations is True


def test_an_answer_to_a_click_on_home_goes_to_the_users_dm(sandbox: tuple[SlackSandbox, str], tmp_path: Path) -> None:
    from bot.actions.answers import NothingToRetry, Requester
    from bot.slack.publisher import SlackPublisher

    slack, api_url = sandbox
    publisher = SlackPublisher.from_settings(settings_for(slack, api_url, tmp_path), pace=0)
    try:
        publisher.tell(
            Requester(user_id=USER, channel_id=None, response_url=None, order_id="7001"), NothingToRetry("7001")
        )
    finally:
        publisher.close()
    (opened,) = slack.calls("conversations.open")
    assert opened["args"]["users"] == USER
    # The sandbox keeps no DM history for chat.postMessage yet; the post is made to the DM all the same.
    (posted,) = slack.calls("chat.postMessage")
    assert posted["args"]["channel"] == slack.dm_channel(USER)
    assert posted["args"]["text"].startswith("orderdesk")


def test_home_lines_carry_the_cards_action_buttons(sandbox: tuple[SlackSandbox, str], tmp_path: Path) -> None:
    slack, api_url = sandbox
    settings = settings_for(slack, api_url, tmp_path)
    with Store(settings.db_path) as store:
        store.upsert_orders({**order(n), "id": str(7_001_000_000_000 + n)} for n in range(30))
        assert HomePublisher(settings, store, publisher_client(settings)).opened(USER) is True
    (call,) = slack.calls("views.publish")
    view = call["args"]["view"]
    view = view if isinstance(view, dict) else json.loads(view)
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100
    lines = [
        b for b in view["blocks"] if b["type"] == "actions" and any(e["action_id"] == ids.ACK for e in b["elements"])
    ]
    assert len(lines) == 20
    for line in lines:
        assert ids.ORDER_CANCEL in {e["action_id"] for e in line["elements"]}  # as on the order's card


def test_home_lines_keep_their_keys_across_publishes_and_are_marked_as_a_list(
    sandbox: tuple[SlackSandbox, str], tmp_path: Path
) -> None:
    from bot.slack.payloads import Click
    from bot.slack.views.list_line import is_list_line

    slack, api_url = sandbox
    settings = settings_for(slack, api_url, tmp_path)
    with Store(settings.db_path) as store:
        store.upsert_orders(order(n) for n in range(3))
        home = HomePublisher(settings, store, publisher_client(settings), every_seconds=0)
        assert home.opened(USER)
        assert home.publish(USER)
        assert home.opened("U0AGENT2")
    first, again, other = (
        view if isinstance(view := call["args"]["view"], dict) else json.loads(view)
        for call in slack.calls("views.publish")
    )

    def lines(view: dict[str, Any]) -> list[dict[str, Any]]:
        return [b for b in view["blocks"] if b["type"] == "actions" and "block_id" in b]

    def values(view: dict[str, Any]) -> list[str]:
        shown = [e for b in lines(view) for e in b["elements"]]
        return [e.get("value", "") for e in shown if e["action_id"] != ids.OPEN_IN_COMMERCE_MANAGER]

    assert len(lines(first)) == 3
    assert values(first) == values(again)  # a re-publish offers the same intents
    assert set(values(first)).isdisjoint(values(other))  # and another person's are their own
    for line in lines(first):
        assert is_list_line(line["block_id"])
        ack = next(e for e in line["elements"] if e["action_id"] == ids.ACK)
        body = {
            "actions": [{"action_id": ids.ACK, "value": ack["value"], "block_id": line["block_id"]}],
            "user": {"id": USER, "team_id": "T0SANDBOX"},
            "container": {"type": "view", "view_id": "V0HOME"},
        }
        assert Click.from_action(body, "T0SANDBOX").listed is True
        card = {**body, "actions": [{**body["actions"][0], "block_id": "ack_block"}]}
        assert Click.from_action(card, "T0SANDBOX").listed is False
