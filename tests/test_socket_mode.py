"""Socket Mode, offline: Slack's envelopes handed to Bolt's socket-mode adapter as its WebSocket client would.

The handler is the one ``orderdesk serve --mode socket`` uses (``SocketModeHandler.handle``); only the WebSocket
is replaced by a recorder of what the handler sends back (the envelope acks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401 (registers the `stack` fixture)
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.app import create_app
from bot.blocks import help_blocks
from bot.later import work_pool


class WebSocketRecorder:
    """Stands in for the Socket Mode client: records each envelope ack the handler sends."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.socket_mode")
        self.sent: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


@pytest.fixture
def app(stack: Stack) -> Iterator[App]:
    with work_pool(stack.settings) as work:
        yield create_app(stack.settings, services=stack.services, work=work)


@pytest.fixture
def handler(app: App) -> Iterator[SocketModeHandler]:
    handler = SocketModeHandler(app, app_token="xapp-1-offline")  # never connects: no connect() call
    try:
        yield handler
    finally:
        handler.close()


def command_envelope(stack: Stack, text: str, envelope_id: str, **retry: Any) -> SocketModeRequest:
    """A ``slash_commands`` envelope as Slack sends it over the WebSocket (the payload is the form, as JSON)."""
    payload = {
        "team_id": stack.slack_sandbox.team_id,
        "channel_id": "C0ORDERS",
        "user_id": "U0AGENT1",
        "command": "/order",
        "text": text,
        "response_url": stack.slack_sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1"),
        "trigger_id": stack.slack_sandbox.new_trigger_id(user="U0AGENT1"),
    }
    envelope = {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": payload,
        **retry,
    }
    request = SocketModeRequest.from_dict(envelope)
    assert request is not None
    return request


def test_order_help_over_socket_mode_is_acked_and_answered(stack: Stack, handler: SocketModeHandler) -> None:
    websocket = WebSocketRecorder()
    request = command_envelope(stack, "help", "env-1")

    handler.handle(websocket, request)  # type: ignore[arg-type]

    assert [r.envelope_id for r in websocket.sent] == ["env-1"]
    response_url = request.payload["response_url"]
    [answer] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(response_url))
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"] == help_blocks()


def test_a_retried_envelope_is_acked_once_and_carries_the_retry_to_listeners(
    stack: Stack, app: App, handler: SocketModeHandler
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    @app.command("/probe")
    def probe(ack: Any, request: Any) -> None:
        ack()
        headers = request.headers
        seen.append((headers.get("x-slack-retry-num", [None])[0], headers.get("x-slack-retry-reason", [None])[0]))

    websocket = WebSocketRecorder()
    request = command_envelope(stack, "", "env-2", retry_attempt=1, retry_reason="timeout")
    request.payload["command"] = "/probe"

    handler.handle(websocket, request)  # type: ignore[arg-type]

    assert [r.envelope_id for r in websocket.sent] == ["env-2"]
    stack.slack_sandbox.wait_for(lambda: seen)
    assert seen == [("1", "timeout")]
