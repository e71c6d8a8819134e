"""Logs as operators read them: one ``key=value`` line per event, the request's fields on every line written while
handling it, the order id, idempotency key and Graph ``fbtrace_id`` as fields of their own, the level from
settings, and never a token or a buyer's details. Driven through the real stack, as ``orderdesk serve`` logs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack

from bot import logs
from bot.config import Settings
from bot.slack import ids

pytestmark = pytest.mark.e2e

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1-logs",
    "SLACK_SIGNING_SECRET": "logs-signing-secret",
    "FB_PAGE_ID": "1122334455",
    "FB_PAGE_ACCESS_TOKEN": "EAAlogs0000000000000000",
}
FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


@pytest.fixture(name="stream")
def stream_fixture() -> Iterator[io.StringIO]:
    """The root handler ``orderdesk serve`` installs, at DEBUG, writing into a buffer."""
    stream = io.StringIO()
    handler = logs.configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
        logs.start_request()


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path, graph_max_retries=0, merchant_ref_template="FB-{order_id}") as started:
        yield started


def events(stream: io.StringIO) -> list[dict[str, str]]:
    """Every line parsed into its fields; each line must be exactly ``key=value`` pairs."""
    parsed = []
    for line in stream.getvalue().splitlines():
        fields = {key: json.loads(value) if value.startswith('"') else value for key, value in FIELD.findall(line)}
        assert FIELD.sub("", line).strip() == "", f"not key=value: {line[:200]}"
        assert {"ts", "level", "logger", "msg"} <= fields.keys(), line[:200]
        parsed.append(fields)
    return parsed


def test_a_graph_failure_is_one_line_with_the_request_user_and_fbtrace_id(stack: Stack, stream: io.StringIO) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.set_faults(status=503, count=1)
    sent = stack.slack.slash_command(order_id)
    stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    failures = [e for e in events(stream) if e["logger"] == "bot.graph.client" and "failed" in e["msg"]]
    assert failures, stream.getvalue()[-2000:]
    [failure] = failures
    assert failure["level"] == "warning"
    assert failure["user"] == "U0AGENT1"
    assert re.fullmatch(r"[0-9a-f]{10}", failure["request_id"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", failure["fbtrace_id"])  # the sandbox's trace id, quoted to Meta
    assert order_id in failure["msg"]


def test_an_acknowledgement_logs_its_order_id_and_idempotency_key_as_fields(stack: Stack, stream: io.StringIO) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    [card] = answers_of(stack, stack.slack.slash_command(order_id).response_url)
    value = next(e["value"] for b in card["blocks"] for e in b.get("elements", []) if e.get("action_id") == ids.ACK)
    stack.slack.block_action(ids.ACK, value)
    stack.slack_sandbox.wait_for(lambda: stack.graph_sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS")
    [key] = [c["idempotency_key"] for c in stack.graph_sandbox.calls() if c["path"].endswith("/acknowledge_order")]
    tagged = [e for e in events(stream) if e.get("order_id") == order_id and e.get("idempotency_key") == key]
    assert tagged
    assert all(e["user"] == "U0AGENT1" and e.get("request_id") for e in tagged)


def answers_of(stack: Stack, response_url: str | None) -> list[dict[str, object]]:
    return stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(response_url or ""))


def test_no_token_or_buyer_detail_reaches_the_log(stack: Stack, stream: io.StringIO) -> None:
    """A lookup, a contact reveal and a failing Graph call (whose errors carry request details) at DEBUG."""
    order = stack.graph_sandbox.add_order()
    answers_of(stack, stack.slack.slash_command(str(order["id"])).response_url)
    stack.slack.block_action(ids.SHOW_CONTACT, str(order["id"]))
    stack.graph_sandbox.set_faults(invalid_token=True)
    answers_of(stack, stack.slack.slash_command(str(order["id"])).response_url)
    written = stream.getvalue()
    assert "level=debug" in written
    secrets = [stack.settings.slack_bot_token, stack.settings.fb_page_access_token, stack.settings.slack_signing_secret]
    buyer = order["buyer_details"]
    address = order["shipping_address"]
    for secret in [*secrets, buyer["email"], buyer["phone_number"], address["street1"]]:
        assert secret not in written


@pytest.mark.parametrize(("configured", "shown", "hidden"), [("WARNING", "warning", "info"), ("DEBUG", "debug", "")])
def test_the_level_comes_from_settings(configured: str, shown: str, hidden: str) -> None:
    settings = Settings.from_env({**ENV, "ORDERDESK_LOG_LEVEL": configured.lower()}, dotenv_path=None)
    stream = io.StringIO()
    handler = logs.configure_logging(settings.log_level, stream=stream)
    try:
        log = logging.getLogger("bot.test_logs")
        for level in ("debug", "info", "warning"):
            getattr(log, level)("a %s line", level)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    written = stream.getvalue()
    assert f"level={shown} " in written
    if hidden:
        assert f"level={hidden} " not in written
