"""The bot's HTTP edge, over real HTTP: what reaches Bolt, what is refused before it, and in which words.

* Bodies over the cap get 413 without the bot reading past the cap (declared, chunked, or a length that is not a
  number).
* Unsigned requests get 401 and one warning line without the body; Bolt's own body dump never reaches a log.
* ``HEAD`` gets headers only, so a kept-alive connection's next answer still parses.
* Signed but malformed requests get 400 (or the listener's words for a :class:`BadRequest`), a warning line and no
  traceback; unsigned ones with an odd timestamp likewise.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401 (registers the `stack` fixture)
from slack_bolt import Ack, BoltRequest
from test_e2e_frame import _health_once_graph_probed

from bot.runtime.app import create_app
from bot.runtime.http import EVENTS_PATH, MAX_BODY_BYTES, router
from bot.runtime.later import InlineExecutor
from bot.sandbox.slack import SlackRequester
from bot.slack import ids
from bot.slack.errors import BadRequest
from bot.slack.later import Later

pytestmark = pytest.mark.e2e

CANARY_EMAIL = "canary.buyer.7f3a@example.com"
FORM = "application/x-www-form-urlencoded"


def connect(stack: Stack) -> socket.socket:
    url = urlsplit(stack.server.url)
    return socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)


def read_status_line(sock: socket.socket) -> bytes:
    """The first line of the bot's answer, read as soon as it comes (the client has not finished sending)."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def request_head(stack: Stack, headers: dict[str, str]) -> bytes:
    host = urlsplit(stack.server.url).netloc
    lines = [f"POST {EVENTS_PATH} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_body_declared_over_the_cap_is_refused_before_the_client_sends_it(stack: Stack) -> None:
    """The client sends the headers of a 10 MiB body and 4 KiB of it, then holds the rest: the 413 comes anyway,
    so the bot answered without waiting for (or reading) what was never sent; no listener ran.

    Headers and the 4 KiB go out in one write: the bot reads them together, so it closes the connection with
    nothing unread (unread data would make the close a reset, which can discard the answer before it is read)."""
    head = request_head(stack, {"Content-Type": FORM, "Content-Length": str(10 * MAX_BODY_BYTES)})
    with connect(stack) as sock:
        sock.sendall(head + b"a" * 4096)
        assert read_status_line(sock).startswith(b"HTTP/1.1 413 ")
    assert stack.slack_sandbox.calls() == []  # a listener (and Bolt's authorization) would have called Slack


def test_a_chunked_body_is_cut_off_at_the_cap(stack: Stack) -> None:
    """No length declared: the bot answers 413 once it has read the cap, with the body unfinished (its last chunk
    cut short, the final empty chunk never sent). The client sends exactly one byte past the cap, so that the
    bot has read all of it when it closes (see above)."""
    chunk = b"a" * 65536
    framed = f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n"
    whole = MAX_BODY_BYTES // len(framed)
    body = framed * whole
    body += framed[: MAX_BODY_BYTES + 1 - len(body)]
    assert len(body) == MAX_BODY_BYTES + 1
    with connect(stack) as sock:
        sock.sendall(request_head(stack, {"Content-Type": FORM, "Transfer-Encoding": "chunked"}))
        sock.sendall(body)
        assert read_status_line(sock).startswith(b"HTTP/1.1 413 ")
    assert stack.slack_sandbox.calls() == []


def test_a_signed_body_of_exactly_the_cap_is_taken(stack: Stack) -> None:
    fields = {"command": ids.ORDER_COMMAND, "text": "help", "user_id": "U0AGENT1", "channel_id": "C0ORDERS"}
    response_url = stack.slack_sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    body = urlencode({**fields, "response_url": response_url, "pad": ""}).encode()
    body += b"a" * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES
    response = stack.slack.send_raw(body, {"Content-Type": FORM, **stack.slack.sign(body)})
    assert response.status_code == 200
    assert stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(response_url))


class CountingInput(io.RawIOBase):
    """A request body stream of ``size`` bytes that counts how many were read from it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes, 65536)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


@pytest.mark.parametrize(
    ("declared", "most_read"),
    [
        pytest.param(str(50 * MAX_BODY_BYTES), 0, id="declared over the cap: nothing read"),
        pytest.param("", MAX_BODY_BYTES + 1, id="no length: one byte past the cap"),
        pytest.param("not a number", MAX_BODY_BYTES + 1, id="a length that is not a number"),
    ],
)
def test_the_router_reads_no_further_than_the_cap_under_any_wsgi_server(declared: str, most_read: int) -> None:
    """waitress refuses first (its own limit is set); the router keeps the cap for any other WSGI server."""
    body = CountingInput(50 * MAX_BODY_BYTES)
    bolt_calls: list[object] = []
    statuses: list[str] = []
    app = router(lambda environ, start: bolt_calls.append(environ) or [], lambda: (200, {}), "secret")
    environ = {"PATH_INFO": EVENTS_PATH, "REQUEST_METHOD": "POST", "CONTENT_LENGTH": declared, "wsgi.input": body}
    app(environ, lambda status, headers: statuses.append(status))
    assert statuses[0].startswith("413 ")
    assert body.read_bytes <= most_read
    assert bolt_calls == []


def canary_command(stack: Stack) -> bytes:
    """A slash command as Slack sends it, with a buyer's email in its text and a response URL."""
    fields = {
        "command": ids.ORDER_COMMAND,
        "text": f"who is {CANARY_EMAIL}",
        "user_id": "U0AGENT1",
        "channel_id": "C0ORDERS",
        "response_url": stack.slack_sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1"),
        "trigger_id": stack.slack_sandbox.new_trigger_id(user="U0AGENT1"),
    }
    return urlencode(fields).encode()


def record_texts(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter()
    return "\n".join(
        record.getMessage() + (formatter.formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
    )


def test_a_request_signed_with_another_secret_is_logged_in_one_line_without_its_body(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    body = canary_command(stack)
    with (
        SlackRequester(stack.slack_sandbox, stack.slack.events_url, "not-the-signing-secret") as forger,
        caplog.at_level(logging.DEBUG),
    ):
        response = forger.send_raw(body, {"Content-Type": FORM, **forger.sign(body)})
    assert response.status_code == 401
    assert CANARY_EMAIL not in record_texts(caplog)
    assert "response_url" not in record_texts(caplog)
    [refusal] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert refusal.levelno == logging.WARNING
    assert refusal.getMessage() == (
        f"refused a request with 401: the signature does not match (path {EVENTS_PATH}, {len(body)} bytes)"
    )
    assert stack.slack_sandbox.calls() == []


def test_bolts_own_verification_never_logs_the_body(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """In-process dispatch (no router in front): Bolt still refuses, and its log line keeps no request detail."""
    body = canary_command(stack).decode()
    headers = {"content-type": FORM, "x-slack-signature": "v0=" + "0" * 64, "x-slack-request-timestamp": "1"}
    with caplog.at_level(logging.DEBUG):
        app = create_app(stack.settings, services=stack.services, work=InlineExecutor())
        assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 401
    assert [r for r in caplog.records if r.name == "slack_bolt.RequestVerification"], "Bolt logged no refusal"
    assert CANARY_EMAIL not in record_texts(caplog)
    assert "response_url" not in record_texts(caplog)


@pytest.mark.parametrize(("path", "status"), [("/healthz", None), ("/slack/events", 405), ("/nowhere", 404)])
def test_head_gets_headers_only_and_the_kept_alive_connection_stays_usable(
    stack: Stack, path: str, status: int | None
) -> None:
    _health_once_graph_probed(stack)
    url = urlsplit(stack.server.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request("HEAD", path)
        head = connection.getresponse()
        assert head.read() == b""
        assert head.status == (status or 200)
        assert int(head.headers["Content-Length"]) > 0  # what GET would send, announced, not sent
        connection.request("GET", "/healthz")  # on the same connection: it must parse
        after = connection.getresponse()
        assert after.status == 200
        assert json.loads(after.read())["ok"] is True
    finally:
        connection.close()


def warnings_and_worse(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_one_warning_without_traceback(caplog: pytest.LogCaptureFixture, says: str) -> None:
    records = warnings_and_worse(caplog)
    assert [r.levelno for r in records] == [logging.WARNING], [r.getMessage() for r in records]
    assert records[0].exc_info is None
    assert says in records[0].getMessage()


@pytest.mark.parametrize("timestamp", ["yesterday", "1e9", "-5", "١٧٠٠٠٠٠٠٠٠"])
def test_an_unsigned_request_with_a_timestamp_that_is_not_a_number_gets_401_and_a_warning(
    stack: Stack, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    body = canary_command(stack)
    # Bytes, so that the non-ASCII digits go out as UTF-8 as a forger's client would send them.
    headers = {"Content-Type": FORM, "X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": timestamp}
    with caplog.at_level(logging.INFO):
        response = httpx.post(stack.slack.events_url, content=body, headers={k: v.encode() for k, v in headers.items()})
    assert response.status_code == 401
    assert_one_warning_without_traceback(caplog, "the signature timestamp is not a number")


MALFORMED = {
    "not a form nor JSON": ("text/plain", b"command=%2Forder&text=help", "neither a form nor JSON"),
    "no content type": ("", b"command=%2Forder&text=help", "neither a form nor JSON"),
    "payload not JSON": (FORM, b"payload=%7Bnot+json", "the payload field is not JSON"),
    "payload a JSON list": (FORM, urlencode({"payload": "[1, 2]"}).encode(), "the payload field is JSON but not"),
    "payload a JSON string": (FORM, urlencode({"payload": '"x"'}).encode(), "the payload field is JSON but not"),
    "payload nested too deep": (FORM, urlencode({"payload": "[" * 100_000}).encode(), "the payload field is not"),
    "JSON body not JSON": ("application/json", b'{"type": "event_callback",', "the body is not JSON"),
    "JSON body a list": ("application/json", b'[{"type": "event_callback"}]', "the body is JSON but not an object"),
    "form starting with a brace": (FORM, b"{command=/order", "the body is not JSON"),
    "not UTF-8": (FORM, b"payload=\xff\xfe", "the body is not UTF-8"),
}


@pytest.mark.parametrize(("content_type", "body", "says"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_body_that_is_not_as_slack_sends_it_gets_400_and_reaches_no_listener(
    stack: Stack, caplog: pytest.LogCaptureFixture, content_type: str, body: bytes, says: str
) -> None:
    headers = {**stack.slack.sign(body), **({"Content-Type": content_type} if content_type else {})}
    with caplog.at_level(logging.INFO):
        response = stack.slack.send_raw(body, headers)
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert_one_warning_without_traceback(caplog, says)
    assert stack.slack_sandbox.calls() == []  # Bolt never saw it: its authorization would have called auth.test


REFUSAL = "That button belongs to a card orderdesk <never> showed & cannot act on."


@pytest.fixture(name="refusing_stack")
def refusing_stack_fixture(stack: Stack) -> Stack:
    """The stack's bot with two listeners that refuse their input the way the payload parsers do."""

    def refuse_before_ack(ack: Ack) -> None:
        raise BadRequest(REFUSAL)

    def refuse_later(ack: Ack, later: Later) -> None:
        ack()

        def work() -> None:
            raise BadRequest(REFUSAL)

        later(work)

    stack.server.app.action("test_refuse_before_ack")(refuse_before_ack)
    stack.server.app.action("test_refuse_later")(refuse_later)
    return stack


@pytest.mark.parametrize(("action_id", "status"), [("test_refuse_before_ack", 400), ("test_refuse_later", 200)])
def test_a_bad_request_is_answered_in_its_words_with_a_warning_and_no_traceback(
    refusing_stack: Stack, caplog: pytest.LogCaptureFixture, action_id: str, status: int
) -> None:
    stack = refusing_stack
    with caplog.at_level(logging.INFO):
        sent = stack.slack.block_action(action_id, "x")
        [answer] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert sent.response.status_code == status
    escaped = REFUSAL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert answer["text"] == escaped
    assert answer["response_type"] == "ephemeral"
    assert "Something went wrong" not in json.dumps(answer)
    assert_one_warning_without_traceback(caplog, REFUSAL)
