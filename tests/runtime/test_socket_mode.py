"""Socket Mode, offline: Slack's envelopes handed to Bolt's socket-mode adapter as its WebSocket client would.

The handler is the one ``orderdesk serve --mode socket`` uses (``SocketModeHandler.handle``); only the WebSocket
is replaced by a recorder of what the handler sends back (the envelope acks). Start-up failures run the real
``orderdesk serve`` against the Slack sandbox (or a closed port), as a user at the terminal meets them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401 (registers the `stack` fixture)
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.runtime.app import create_app
from bot.runtime.later import work_pool
from bot.sandbox.slack import SlackSandbox
from bot.slack.views.blocks import help_blocks


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


ORDERDESK = Path(sys.executable).with_name("orderdesk")
APP_TOKEN = "xapp-socket-right-4d1e"
WRONG_APP_TOKEN = "xapp-socket-wrong-8b2c"


def orderdesk(tmp_path: Path, slack_api_url: str, app_token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``orderdesk`` with settings for Socket Mode; Meta at a closed port (only doctor reads it)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-socket-bot",
        "SLACK_SIGNING_SECRET": "socket-signing",
        "SLACK_APP_TOKEN": app_token,
        "SLACK_API_URL": slack_api_url,
        "FB_PAGE_ID": "1122334455",
        "FB_PAGE_ACCESS_TOKEN": "socket-page-token",
        "FB_GRAPH_URL": "http://127.0.0.1:9",
        "ORDERDESK_GRAPH_MAX_RETRIES": "0",
        "ORDERDESK_DB": str(tmp_path / "orderdesk.db"),
    }
    return subprocess.run([str(ORDERDESK), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def doctor_words(done: subprocess.CompletedProcess[str], check: str) -> list[str]:
    """What ``orderdesk doctor`` printed for one failed check: its detail and its fix."""
    lines = done.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.startswith(f"✗ {check}: ")]
    return [lines[at].removeprefix(f"✗ {check}: "), lines[at + 1].removeprefix("  fix: ")]


def assert_stops_with_doctors_words(tmp_path: Path, slack_api_url: str, app_token: str) -> list[str]:
    serve = orderdesk(tmp_path, slack_api_url, app_token, "serve")
    doctor = orderdesk(tmp_path, slack_api_url, app_token, "doctor")
    assert serve.returncode == 2, serve.stderr
    detail, fix = doctor_words(doctor, "slack app token")
    assert serve.stderr.splitlines() == [f"orderdesk serve: Socket Mode cannot connect: {detail}", f"  fix: {fix}"]
    assert app_token not in serve.stderr + serve.stdout
    return [detail, fix]


def test_serve_with_a_refused_app_token_stops_with_doctors_words(tmp_path: Path) -> None:
    with SlackSandbox(app_token=APP_TOKEN).serve() as slack:
        detail, fix = assert_stops_with_doctors_words(tmp_path, f"{slack.url}/api/", WRONG_APP_TOKEN)
    assert detail == "Slack answered invalid_auth"
    assert fix.startswith("set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope")


def test_serve_with_slack_unreachable_stops_with_doctors_words(tmp_path: Path) -> None:
    with SlackSandbox().serve() as gone:
        url = f"{gone.url}/api/"
    detail, fix = assert_stops_with_doctors_words(tmp_path, url, APP_TOKEN)
    assert detail.startswith("cannot reach Slack: ")
    assert fix == f"check SLACK_API_URL ({url}) and this host's network and proxy settings"
