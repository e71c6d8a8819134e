"""``/order find`` over real HTTP: a looked-up order's buyer email and name find it from the index, an unknown
buyer gets an answer of the same shape, nothing searched for reaches the database file or the logs, and a Slack
Connect guest gets nothing."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

from e2e_stack import Stack, stack_fixture  # noqa: F401

from bot import logs
from bot.lookup.find import FIND_ACTION
from bot.slack.access import GUEST_REFUSAL
from bot.slack.find import NOT_CONFIGURED

BUYER = {"name": "Zebulon Quiñones", "email": "Zeb.Quinones@Example.org", "phone_number": "+1 555 0199"}


def looked_up_order(stack: Stack) -> str:
    """An order with a known buyer, indexed by an ordinary lookup over HTTP."""
    order_id = str(stack.graph_sandbox.add_order(buyer_details=BUYER)["id"])
    sent = stack.slack.slash_command(order_id)
    stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    return order_id


def find(stack: Stack, text: str, *, count: int = 1, user: str = "U0AGENT1") -> list[dict[str, Any]]:
    sent = stack.slack.slash_command(f"find {text}", user=user)
    assert sent.response.status_code == 200
    sandbox = stack.slack_sandbox
    answers: list[dict[str, Any]] = sandbox.wait_for(
        lambda: sandbox.wait_responses(sent.response_url or "", count=count, timeout=10)
    )
    return answers


def test_a_buyers_email_and_name_find_the_order_from_the_index(stack: Stack) -> None:
    order_id = looked_up_order(stack)
    stack.graph_sandbox.add_order()  # another buyer, never matched

    for text in ("  zeb.quinones@EXAMPLE.org", "quinones zebulon", "ZEBULON since:2d", "+1 (555) 0199"):
        (answer,) = find(stack, text)
        shown = json.dumps(answer)
        assert order_id in shown, text
        assert "1 order updated in the last" in answer["blocks"][-1]["elements"][0]["text"]
        assert "relay address" in shown

    audit = stack.services.store._select("SELECT detail FROM audit WHERE action = ? ORDER BY id", (FIND_ACTION,))
    assert [row["detail"] for row in audit] == [
        "query=email since=14d results=1",
        "query=name since=14d results=1",
        "query=name since=2d results=1",
        "query=phone since=14d results=1",
    ]


def test_nothing_found_answers_in_the_same_shape(stack: Stack) -> None:
    looked_up_order(stack)
    (answer,) = find(stack, "nobody@example.org")
    assert "No order updated in the last 14d has a buyer with that email." in answer["text"]
    assert "relay address" in answer["text"]
    (partial,) = find(stack, "zebulon smith")  # every name token must match
    assert "No order updated" in partial["text"]


def test_bad_arguments_get_the_usage(stack: Stack) -> None:
    (answer,) = find(stack, "since:1y")
    assert "Usage: `/order find" in answer["text"]
    (answer,) = find(stack, "ana since:120d")
    assert "90 days at most" in answer["text"]


def test_no_searched_value_in_the_database_file_or_the_logs(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logs.configure_logging("DEBUG", secrets=(), stream=stream)  # as `orderdesk serve` does
    try:
        with Stack.start(tmp_path) as stack:
            order_id = looked_up_order(stack)
            for text in ("zeb.quinones@example.org", "Zebulon Quiñones", "555 0199", "Somebody Else"):
                find(stack, text)
            assert order_id in json.dumps(find(stack, "zebulon"))
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    data = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("orderdesk.db"))
    logged = stream.getvalue()
    assert "/order" in logged or logged.count("\n") > 5, "nothing was logged: the check would prove nothing"
    for value in ("Zebulon", "zebulon", "Quiñones", "quinones", "zeb.quinones", "555 0199", "5550199", "Somebody"):
        assert value.encode() not in data, value
        assert value not in logged, value


def test_a_slack_connect_guest_finds_nothing(stack: Stack) -> None:
    looked_up_order(stack)
    sent = stack.slack.slash_command("find zebulon", user="U0FOREIGN")
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert GUEST_REFUSAL.split(" (")[0] in json.dumps(answers)
    time.sleep(0.3)
    assert stack.services.store._select("SELECT 1 FROM audit WHERE action = ?", (FIND_ACTION,)) == []


def test_without_a_search_key_find_says_it_is_not_configured(tmp_path: Path) -> None:
    with Stack.start(tmp_path, search_key=None) as stack:
        (answer,) = find(stack, "zebulon")
        assert answer["text"] == NOT_CONFIGURED
