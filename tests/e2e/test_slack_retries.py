"""Slack retries a request it thinks failed (slow, dropped) with ``X-Slack-Retry-Num`` over HTTP and
``retry_attempt`` over Socket Mode. Bolt does no deduplication, so the same click arrives two or more times; the
idempotency ledger must make every repeat an answer, never a second acknowledgement at Meta.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from e2e_stack import Stack
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.runtime.app import create_app
from bot.runtime.later import work_pool
from bot.slack import ids
from bot.slack.views.blocks import ack_value, notification_card, notification_text

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
REASONS = ("http_timeout", "http_error", "connection_failed", "too_many_requests")


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path, merchant_ref_template="FB-{order_id}") as started:
        yield started


def card(stack: Stack) -> tuple[str, str, str]:
    """A CREATED order and its notification card in the channel: (order id, key, message ts)."""
    order_id = str(stack.graph_sandbox.add_order()["id"])
    key = new_key()
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    blocks = notification_card(order, ack_key=key, commerce_manager_url=stack.settings.commerce_manager_url)
    ts = str(client.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"])
    stack.services.store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
    return order_id, key, ts


def ack_posts(stack: Stack) -> list[dict[str, Any]]:
    return [c for c in stack.graph_sandbox.calls() if c["method"] == "POST" and "acknowledge" in c["path"]]


def acknowledged(stack: Stack, ts: str) -> bool:
    return "Acknowledged by" in json.dumps(stack.slack_sandbox.message(CHANNEL, ts)["blocks"])


def redeliver(stack: Stack, payload: dict[str, Any], retry_num: int, reason: str) -> int:
    """Deliver the very same interactivity body again, as Slack's retry does, freshly signed."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **stack.slack.sign(body),
        "X-Slack-Retry-Num": str(retry_num),
        "X-Slack-Retry-Reason": reason,
    }
    return stack.slack.send_raw(body, headers).status_code


@pytest.mark.parametrize("action_id", [ids.ACK, ids.ACK_RETRY])
def test_http_retries_of_a_click_after_it_succeeded_make_no_second_acknowledgement(
    stack: Stack, action_id: str
) -> None:
    order_id, key, ts = card(stack)
    first = stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    retried = {**first.payload, "actions": [{**first.payload["actions"][0], "action_id": action_id}]}
    for attempt, reason in enumerate(REASONS[:3], start=1):
        assert redeliver(stack, retried, attempt, reason) == 200
    stack.slack_sandbox.wait_for(lambda: len(stack.slack_sandbox.calls("response_url")) >= 3)
    assert len(ack_posts(stack)) == 1
    assert stack.graph_sandbox.order(order_id)["merchant_order_id"] == f"FB-{order_id}"


def test_http_retries_racing_a_slow_first_delivery_make_one_acknowledgement(stack: Stack) -> None:
    """Slack retries because the first delivery is slow: original and retries are all in flight at once."""
    order_id, key, ts = card(stack)
    stack.graph_sandbox.set_faults(latency_ms=400, match={"method": "POST"})
    first = stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    with ThreadPoolExecutor(max_workers=len(REASONS)) as pool:
        codes = list(pool.map(lambda n: redeliver(stack, first.payload, n + 1, REASONS[n]), range(len(REASONS))))
    assert codes == [200] * len(REASONS)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    assert len(ack_posts(stack)) == 1


class WebSocketRecorder:
    """Stands in for the Socket Mode connection: records the envelope acks the handler sends back."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.slack_retries")
        self.sent: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


def test_socket_mode_redeliveries_with_retry_attempt_make_one_acknowledgement(stack: Stack) -> None:
    order_id, key, ts = card(stack)
    stack.graph_sandbox.set_faults(latency_ms=200, match={"method": "POST"})
    # A click's payload as the HTTP requester builds it (sent for a button nobody handles: a 404 with no effect);
    # Socket Mode carries the same payload inside an envelope.
    template = stack.slack.block_action("unhandled_probe", "", message_ts=ts).payload
    click = {**template["actions"][0], "action_id": ids.ACK, "value": ack_value(order_id, key)}
    payload = {**template, "actions": [click]}
    work = work_pool(stack.settings)
    app = create_app(stack.settings, services=stack.services, work=work)
    handler = SocketModeHandler(app, app_token="xapp-1-offline")  # never connects: no connect() call
    websocket = WebSocketRecorder()
    try:
        for attempt in range(4):
            retry = {"retry_attempt": attempt, "retry_reason": "timeout"} if attempt else {}
            envelope = {"envelope_id": "env-click", "type": "interactive", "accepts_response_payload": False}
            request = SocketModeRequest.from_dict({**envelope, "payload": payload, **retry})
            assert request is not None
            handler.handle(websocket, request)  # type: ignore[arg-type]
        stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    finally:
        handler.close()
        work.shutdown()
    assert [r.envelope_id for r in websocket.sent] == ["env-click"] * 4
    assert len(ack_posts(stack)) == 1
