"""Secrets and buyer PII: one stack run with canary credentials through lookups, contact reveals, shares,
notifications, acknowledgements and failures, then every place a secret or a buyer's details could end up is read.

* No canary (Slack bot token, signing secret, Graph token) in any log line (the structured stream, as
  ``orderdesk serve`` configures it, and every record the ``bot`` loggers wrote, exceptions included), any sqlite
  row, the Slack sandbox's record or the Graph sandbox's call record.
* No buyer email, phone number or street address in anything the bot posted to a channel (``chat.postMessage``,
  ``chat.update``, thread replies, ``in_channel`` responses); the contact reveal shows them to the agent only.
The canaries have no token shape, so they are caught by value, not by the formatter's shape patterns.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack

from bot import logs
from bot.notify.poller import Notifier
from bot.runtime.serve import EVENTS_PATH
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.publisher import SlackPublisher

pytestmark = pytest.mark.e2e

CANARY_BOT_TOKEN = "canary-slack-bot-4f1d2a9c77"
CANARY_SIGNING_SECRET = "canary-signing-secret-2d6f0e93aa"
CANARY_GRAPH_TOKEN = "canary-graph-token-8e3b7c51dd"
CANARIES = (CANARY_BOT_TOKEN, CANARY_SIGNING_SECRET, CANARY_GRAPH_TOKEN)
CHANNEL = "C0ORDERS"


@dataclass(frozen=True)
class Run:
    stack: Stack
    slack: SlackRequester  # signs with the canary signing secret
    log_stream: str
    records: list[logging.LogRecord]
    contact_answers: list[dict[str, Any]]


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {e["action_id"]: e.get("value", "") for b in blocks for e in b.get("elements", []) if "action_id" in e}


def lookup(slack: SlackRequester, sandbox: SlackSandbox, text: str) -> list[dict[str, Any]]:
    sent = slack.slash_command(text)
    assert sent.response.status_code == 200
    return sandbox.wait_for(lambda: sandbox.responses(sent.response_url or ""))


def scenario(stack: Stack, slack: SlackRequester) -> list[dict[str, Any]]:
    """Everything the bot does with orders, good paths and failures; returns the contact reveals' answers."""
    graph, sandbox = stack.graph_sandbox, stack.slack_sandbox
    order_id = str(graph.add_order()["id"])
    referenced = graph.order_ids(with_reference=True)[0]

    [card] = lookup(slack, sandbox, order_id)
    contact_value = buttons(card["blocks"])[ids.SHOW_CONTACT]
    contact = slack.block_action(ids.SHOW_CONTACT, contact_value, message_ts=None)
    contact_answers = sandbox.wait_for(lambda: sandbox.responses(contact.response_url or ""))
    slack.block_action(ids.SHARE_IN_CHANNEL, contact_value)
    sandbox.wait_for(lambda: sandbox.messages(CHANNEL))
    lookup(slack, sandbox, str(graph.order(referenced)["merchant_order_id"]))

    publisher = SlackPublisher.from_settings(stack.settings, pace=0)
    Notifier(stack.settings, stack.services.graph, stack.services.store, publisher).poll()
    posted = [m for m in sandbox.messages(CHANNEL) if ids.ACK in buttons(m.get("blocks", []))]
    assert posted, "the poll announced no order with an Acknowledge button"
    ack = slack.block_action(ids.ACK, buttons(posted[0]["blocks"])[ids.ACK], message_ts=posted[0]["ts"])
    assert ack.response.status_code == 200
    sandbox.wait_for(lambda: "Acknowledged by" in json.dumps(sandbox.message(CHANNEL, posted[0]["ts"])["blocks"]))

    buyer = graph.order(referenced).get("buyer_details") or {}  # /order find: a scan of Meta, then the index
    for query in (buyer.get("email"), buyer.get("name"), buyer.get("email")):
        assert query, "the sandbox order has no buyer to search for"
        answers = lookup(slack, sandbox, f"find {query}")
        assert referenced in json.dumps(answers), f"/order find did not find order {referenced}"
    Notifier(stack.settings, stack.services.graph, stack.services.store, publisher).poll()

    graph.set_faults(invalid_token=True)  # every Graph failure path writes its error somewhere
    lookup(slack, sandbox, order_id)
    if len(posted) > 1:
        failing = slack.block_action(ids.ACK, buttons(posted[1]["blocks"])[ids.ACK], message_ts=posted[1]["ts"])
        sandbox.wait_for(
            lambda: sandbox.responses(failing.response_url or "") or sandbox.edits(CHANNEL, posted[1]["ts"])
        )
    graph.set_faults(clear=True)
    sandbox.fail_next("chat.postMessage", status=500, error="internal_error")
    slack.block_action(ids.SHARE_IN_CHANNEL, contact_value)
    return contact_answers


@pytest.fixture(scope="module", name="run")
def run_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp_path = tmp_path_factory.mktemp("canaries")
    stream = io.StringIO()
    handler = logs.configure_logging("DEBUG", secrets=CANARIES, stream=stream)  # as `orderdesk serve` does
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(collector)
    try:
        with (
            Stack.start(
                tmp_path,
                graph_sandbox=GraphSandbox(token=CANARY_GRAPH_TOKEN),
                slack_sandbox=SlackSandbox(bot_token=CANARY_BOT_TOKEN),
                slack_signing_secret=CANARY_SIGNING_SECRET,
                notify_channel=CHANNEL,
                poll_seconds=3600,
                graph_max_retries=0,
            ) as stack,
            SlackRequester(stack.slack_sandbox, stack.server.url + EVENTS_PATH, CANARY_SIGNING_SECRET) as slack,
        ):
            contact_answers = scenario(stack, slack)
            yield Run(stack, slack, stream.getvalue(), records, contact_answers)
    finally:
        logging.getLogger().removeHandler(collector)
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def test_no_canary_in_the_structured_log_stream(run: Run) -> None:
    assert run.log_stream.count("\n") > 10, "the scenario logged almost nothing: the check would prove nothing"
    for canary in CANARIES:
        assert canary not in run.log_stream


def test_no_canary_in_any_log_record_or_exception_text(run: Run) -> None:
    formatter = logging.Formatter()
    for record in run.records:
        text = record.getMessage() + (formatter.formatException(record.exc_info) if record.exc_info else "")
        text += json.dumps({k: str(v) for k, v in vars(record).items() if k not in ("msg", "args", "exc_info")})
        for canary in CANARIES:
            assert canary not in text, f"{record.name}: {text[:300]}"


def test_no_canary_in_any_sqlite_row(run: Run) -> None:
    connection = sqlite3.connect(run.stack.settings.db_path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"'))  # noqa: S608
    finally:
        connection.close()
    assert "ledger" in tables
    assert "audit" in tables
    assert dump
    for canary in CANARIES:
        assert canary not in dump


def test_no_canary_in_the_sandboxes_records(run: Run) -> None:
    slack_record = json.dumps(run.stack.slack_sandbox.calls())
    graph_record = json.dumps(run.stack.graph_sandbox.calls())
    assert "chat.postMessage" in slack_record
    assert "acknowledge_order" in graph_record
    for canary in CANARIES:
        assert canary not in slack_record
        assert canary not in graph_record


def buyer_pii(graph: GraphSandbox) -> list[str]:
    """Every buyer email, phone number and street line the sandbox holds."""
    found = []
    for order_id in graph.order_ids():
        order = graph.order(order_id)
        buyer, address = order.get("buyer_details") or {}, order.get("shipping_address") or {}
        found += [buyer.get("email"), buyer.get("phone_number"), address.get("street1"), address.get("street2")]
    return [value for value in found if value]


def channel_posts(sandbox: SlackSandbox) -> list[str]:
    """Everything the bot put into a channel (not ephemeral): posts, updates, thread replies, in-channel answers."""
    posts = [json.dumps(c["args"]) for c in sandbox.calls() if c["method"] in ("chat.postMessage", "chat.update")]
    posts += [
        json.dumps(c["args"]) for c in sandbox.calls("response_url") if c["args"].get("response_type") == "in_channel"
    ]
    return posts


def test_no_buyer_pii_in_any_channel_message(run: Run) -> None:
    pii = buyer_pii(run.stack.graph_sandbox)
    revealed = json.dumps(run.contact_answers, ensure_ascii=False)
    assert any(value in revealed for value in pii), "the contact reveal showed no PII: the check would prove nothing"
    posts = channel_posts(run.stack.slack_sandbox)
    assert len(posts) >= 3
    for post in posts:
        for value in pii:
            assert value not in post, f"buyer data {value!r} posted to a channel: {post[:300]}"


def test_no_buyer_name_email_phone_or_street_anywhere_in_the_database_file(run: Run) -> None:
    """Rows and free pages alike: after lookups, contact reveals, acknowledgements, notifications, polls and buyer
    searches (which read buyer fields from Meta and index their hashes), the file holds no buyer data in clear (cards
    that show the buyer fetch the order live)."""
    names = []
    for order_id in run.stack.graph_sandbox.order_ids():
        order = run.stack.graph_sandbox.order(order_id)
        names += [(order.get("buyer_details") or {}).get("name"), (order.get("shipping_address") or {}).get("name")]
    values = [value for value in buyer_pii(run.stack.graph_sandbox) + names if value and len(value) >= 5]
    assert values
    path = Path(run.stack.settings.db_path)
    on_disk = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    assert b"Cupertino" in on_disk or b'"city"' in on_disk  # the cache is there: the check can find text
    for value in values:
        assert value.encode() not in on_disk, f"buyer data {value!r} is in the database file"
