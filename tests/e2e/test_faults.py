"""The fault matrix: Graph sandbox faults (slow beyond Slack's 3 seconds, 500/503 bursts, throttling, a dropped
answer after Meta committed, an invalid token, a revoked permission) and Slack sandbox faults (429, 500, a stopped
server) against lookup, acknowledgement and notification. Each ends in its documented outcome: the user is told in
words (never a traceback, never silence), and ledger and notification rows end complete or retryable, never
stuck ``pending`` or lost. Timeouts and leases are set small so that "above 3 seconds" stays cheap to test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk import WebClient

from bot.actions.ledger import Ledger, new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.notify.poller import Notifier
from bot.sandbox.graph import GraphSandbox
from bot.slack import ids
from bot.slack.publisher import SlackPublisher
from bot.slack.views.blocks import ack_value, notification_card, notification_text

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
TRACEBACK_MARKS = ("Traceback", 'File "/', "site-packages")

# fault settings for the Graph sandbox → words the user's answer must contain (case-insensitive, any of them)
GRAPH_FAULTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "slow beyond the timeout": ({"latency_ms": 1200}, ("try again", "did not answer", "slow", "not go through")),
    "500 burst": ({"status": 500, "count": 5}, ("try again", "not go through", "temporar")),
    "503 burst": ({"status": 503, "count": 5}, ("try again", "not go through", "temporar", "unavailable")),
    "throttled 80001": ({"throttle": 5, "regain_minutes": 2}, ("try again", "not go through", "limit", "too many")),
    "invalid token": ({"invalid_token": True}, ("token",)),
    "revoked permission": ({"revoke_permission": True}, ("permission",)),
}


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(
        tmp_path,
        graph_timeout_seconds=0.5,
        graph_max_retries=0,
        ack_lease_seconds=5,
        merchant_ref_template="FB-{order_id}",
    ) as started:
        yield started


def told_in_words(answer: dict[str, Any], words: tuple[str, ...]) -> str:
    shown = json.dumps(answer, ensure_ascii=False)
    for mark in TRACEBACK_MARKS:
        assert mark not in shown, shown[:500]
    assert any(word in shown.lower() for word in words), f"none of {words} in {shown[:500]}"
    return shown


@pytest.mark.parametrize(("fault", "words"), GRAPH_FAULTS.values(), ids=GRAPH_FAULTS.keys())
def test_a_lookup_meeting_a_graph_fault_tells_the_agent_why(
    stack: Stack, fault: dict[str, Any], words: tuple[str, ...]
) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.set_faults(**fault)
    sent = stack.slack.slash_command(order_id)
    assert sent.response.status_code == 200
    [answer] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""), 10)
    assert answer.get("response_type") == "ephemeral"
    assert "Something went wrong" not in told_in_words(answer, words)


def post_card(stack: Stack, order_id: str) -> tuple[str, str]:
    key = new_key()
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    blocks = notification_card(order, ack_key=key, commerce_manager_url=stack.settings.commerce_manager_url)
    ts = str(client.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"])
    stack.services.store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
    return key, ts


ACK_FAULTS = {
    **{name: (fault, True) for name, (fault, _) in GRAPH_FAULTS.items() if "token" not in name and "perm" not in name},
    "dropped after commit": ({"drop_after_commit": 1}, True),
    "invalid token": ({"invalid_token": True}, False),
    "revoked permission": ({"revoke_permission": True}, False),
}


@pytest.mark.parametrize(("fault", "transient"), ACK_FAULTS.values(), ids=ACK_FAULTS.keys())
def test_an_acknowledgement_meeting_a_graph_fault_ends_recorded_and_shown(
    stack: Stack, fault: dict[str, Any], transient: bool
) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(**fault, match={"method": "POST"})
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    ledger = Ledger(stack.services.store, lease_seconds=5)
    entry = stack.slack_sandbox.wait_for(
        lambda: (e := ledger.get(key)) is not None and e.state != "pending" and e, timeout=10
    )
    card = stack.slack_sandbox.wait_for(
        lambda: stack.slack_sandbox.edits(CHANNEL, ts) and stack.slack_sandbox.message(CHANNEL, ts)
    )
    shown = json.dumps(card["blocks"])
    if entry.state == "succeeded":  # a dropped answer whose commit the bot found out about
        assert "drop" in json.dumps(fault)
        assert "Acknowledged by" in shown
    elif transient:
        assert (entry.state, entry.retryable) == ("failed", True)
        assert ids.ACK_RETRY in shown
        assert "did not go through yet" in shown
    else:
        assert (entry.state, entry.retryable) == ("failed", False)
        assert "The acknowledgement failed" in shown
    for mark in TRACEBACK_MARKS:
        assert mark not in shown


def test_a_dropped_answer_retried_with_the_same_key_acknowledges_once(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(drop_after_commit=1)
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    retry = stack.slack_sandbox.wait_for(
        lambda: next(
            (
                e["value"]
                for b in stack.slack_sandbox.message(CHANNEL, ts)["blocks"]
                for e in b.get("elements", [])
                if e.get("action_id") == ids.ACK_RETRY
            ),
            None,
        ),
        timeout=10,
    )
    stack.slack.block_action(ids.ACK_RETRY, retry, message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: "Acknowledged by" in json.dumps(stack.slack_sandbox.message(CHANNEL, ts)))
    posts = [c for c in stack.graph_sandbox.calls() if c["method"] == "POST"]
    assert {p["idempotency_key"] for p in posts} == {key}
    assert stack.graph_sandbox.order(order_id)["merchant_order_id"] == f"FB-{order_id}"


@pytest.fixture(name="notify_stack")
def notify_stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(
        tmp_path, graph_sandbox=GraphSandbox(orders=0), notify_channel=CHANNEL, poll_seconds=3600, digest_after=50
    ) as started:
        yield started


def notifier(stack: Stack) -> Notifier:
    publisher = SlackPublisher.from_settings(stack.settings, pace=0)
    return Notifier(stack.settings, stack.services.graph, stack.services.store, publisher)


def announced(stack: Stack) -> dict[str, int]:
    """order id → how many channel messages announce it (by the metadata the notifier attaches)."""
    counts: dict[str, int] = {}
    for message in stack.slack_sandbox.messages(CHANNEL):
        order_id = ((message.get("metadata") or {}).get("event_payload") or {}).get("order_id")
        if order_id:
            counts[str(order_id)] = counts.get(str(order_id), 0) + 1
    return counts


@pytest.mark.parametrize(("status", "error"), [(429, "ratelimited"), (500, "internal_error")])
def test_slack_failures_while_notifying_leave_rows_retryable_and_nothing_twice(
    notify_stack: Stack, status: int, error: str
) -> None:
    stack = notify_stack
    order_ids = [str(stack.graph_sandbox.add_order()["id"]) for _ in range(3)]
    stack.slack_sandbox.fail_next("chat.postMessage", count=2, status=status, retry_after=0, error=error)
    notifier(stack).poll()
    for order_id in order_ids:  # complete, or claimed and waiting for the next pass
        assert stack.services.store.get_notification(order_id, CHANNEL) is not None
    notifier(stack).poll()
    assert announced(stack) == dict.fromkeys(order_ids, 1)
    assert not stack.services.store.unfinished_notifications()


def test_a_stopped_slack_leaves_notifications_to_the_next_pass(tmp_path: Path) -> None:
    with Stack.start(
        tmp_path, graph_sandbox=GraphSandbox(orders=0), notify_channel=CHANNEL, poll_seconds=3600
    ) as stack:
        order_id = str(stack.graph_sandbox.add_order()["id"])
        dead_url = "http://127.0.0.1:9/api/"  # the discard port: connection refused
        refused = Notifier(
            stack.settings.with_overrides(slack_api_url=dead_url),
            stack.services.graph,
            stack.services.store,
            SlackPublisher.from_settings(
                stack.settings.with_overrides(slack_api_url=dead_url),
                pace=0,
                sleep=lambda _: None,  # the lanes' backoff between attempts: nothing to wait for in a test
            ),
        )
        refused.poll()
        assert not announced(stack)
        notifier(stack).poll()
        assert announced(stack) == {order_id: 1}
        assert not stack.services.store.unfinished_notifications()
