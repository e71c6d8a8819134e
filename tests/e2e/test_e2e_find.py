"""``/order find`` over real HTTP: a buyer's email and name find their orders by a scan of Meta and then from the
index; the scan reads only the pages of the uncovered window, and a second search of the same window reads nothing
from Meta; a long scan shows progress; an unknown buyer gets an answer of the same shape; nothing searched for or
read (names, emails, phones, streets) reaches the database file, its WAL or the logs; a Slack Connect guest gets
nothing."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

from e2e_stack import Stack, stack_fixture  # noqa: F401

from bot import logs
from bot.lookup.find import FIND_ACTION, SCAN_FIELDS, SCAN_LOCK, SCAN_WAIT_NOTICE_SECONDS
from bot.sandbox.graph import GraphSandbox
from bot.slack.access import GUEST_REFUSAL
from bot.slack.find import NOT_CONFIGURED, WAITING
from bot.storage.sqlite.store import Store

BUYER = {"name": "Zebulon Quiñones", "email": "Zeb.Quinones@Example.org", "phone_number": "+1 555 0199"}
DAY = 86_400


def list_requests(stack: Stack, since: int = 0) -> list[dict[str, Any]]:
    """The Graph sandbox's record of order-list requests (``GET /{page}/commerce_orders``) after ``since``."""
    return [
        call
        for call in stack.graph_sandbox.calls(since)
        if call["method"] == "GET" and call["path"].endswith("/commerce_orders")
    ]


def last_seq(stack: Stack) -> int:
    calls = stack.graph_sandbox.calls()
    return int(calls[-1]["seq"]) if calls else 0


def summary(answer: dict[str, Any]) -> str:
    """The answer's words: the context block under the last card, or the one section of an empty answer."""
    last = answer["blocks"][-1]
    return str(last["elements"][0]["text"] if last["type"] == "context" else last["text"]["text"])


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
        assert "1 order updated in the last" in summary(answer)
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
    assert "No order updated in the last 14 days has a buyer with that email." in answer["text"]
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
            assert list_requests(stack), "no scan of Meta: the check would prove less"
            read = buyer_values(stack.graph_sandbox)
            files = [path for path in tmp_path.iterdir() if path.name.startswith("orderdesk.db")]
            assert any(path.name.endswith("-wal") for path in files)
            data = b"".join(path.read_bytes() for path in files)  # while the WAL still holds the recent pages
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    assert b'"city"' in data, "the order cache is not in the file: the check would prove nothing"
    logged = stream.getvalue()
    assert "/order" in logged or logged.count("\n") > 5, "nothing was logged: the check would prove nothing"
    for value in ("Zebulon", "zebulon", "Quiñones", "quinones", "zeb.quinones", "555 0199", "5550199", "Somebody"):
        assert value.encode() not in data, value
        assert value not in logged, value
    for value in read:  # every buyer the scans read, and their streets (which no scan asks for)
        assert value.encode() not in data, value
        assert value not in logged, value


def buyer_values(graph: GraphSandbox) -> list[str]:
    """Every buyer name, email and phone and every recipient name and street the Graph sandbox holds."""
    values: list[str] = []
    for order_id in graph.order_ids():
        order = graph.order(order_id)
        buyer, address = order.get("buyer_details") or {}, order.get("shipping_address") or {}
        values += [buyer.get("name"), buyer.get("email"), buyer.get("phone_number")]
        values += [address.get("name"), address.get("street1")]
    return [value for value in values if isinstance(value, str) and len(value) >= 5]


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


def test_a_buyer_is_found_by_a_scan_of_only_the_windows_pages_then_from_the_index(tmp_path: Path) -> None:
    graph = GraphSandbox(orders=0)
    now = int(time.time())
    for n in range(29):  # other buyers in the window, and orders last updated before it
        graph.add_order()
        graph.add_order(created=now - 20 * DAY - n)
    wanted = str(graph.add_order(buyer_details=BUYER)["id"])
    old = str(graph.add_order(buyer_details=BUYER, created=now - 20 * DAY)["id"])
    with Stack.start(tmp_path, graph_sandbox=graph) as stack:
        before = last_seq(stack)
        (scanned,) = find(stack, "zeb.quinones@example.org")
        assert wanted in json.dumps(scanned)
        assert old not in json.dumps(scanned)  # outside the 14 days
        words = summary(scanned)
        assert "1 order updated in the last 14 days matched that email." in words
        assert "Searched orders updated in the last 14 days: 14 days read from Meta just now (2 pages)." in words

        lists = list_requests(stack, before)
        assert len(lists) == 2  # 30 orders in the window, 25 a page; the 31 older ones are never read
        first = lists[0]["params"]
        assert first["fields"] == SCAN_FIELDS
        assert first["state"] == "CREATED,IN_PROGRESS,COMPLETED"
        assert now - 14 * DAY - 2 <= int(first["updated_after"]) <= now - 14 * DAY
        assert "updated_before" not in first  # the newest part reads up to Meta's now, whatever its clock says
        assert "after" in lists[1]["params"]
        assert all(call["status"] == 200 for call in lists)

        before = last_seq(stack)
        for text in ("Quiñones Zebulon", "zeb.quinones@example.org since:7d"):
            (indexed,) = find(stack, text)
            assert wanted in json.dumps(indexed), text
            assert "from orderdesk's index" in summary(indexed)
            assert "read from Meta" not in summary(indexed)
        assert list_requests(stack, before) == []  # the window is covered: nothing is read again

        before = last_seq(stack)
        newer, wider = find(stack, "zebulon since:30d", count=2)  # only the 16 days not covered yet are read
        assert wanted in json.dumps(newer)  # one card each, most recently updated first
        assert old in json.dumps(wider)
        assert "2 orders updated in the last 30 days matched that name." in summary(wider)
        assert "14 days from orderdesk's index, 16 days read from Meta just now (2 pages)" in summary(wider)
        lists = list_requests(stack, before)
        assert len(lists) == 2
        assert now - 14 * DAY <= int(lists[0]["params"]["updated_before"]) <= now - 14 * DAY + 5


def test_a_long_scan_shows_progress_then_the_answer_takes_its_place(tmp_path: Path) -> None:
    graph = GraphSandbox(orders=0)
    for _ in range(99):
        graph.add_order()
    wanted = str(graph.add_order(buyer_details=BUYER)["id"])
    graph.set_faults(latency_ms=800, match={"method": "GET", "path": "commerce_orders"})
    with Stack.start(tmp_path, graph_sandbox=graph) as stack:
        sent = stack.slack.slash_command("find zebulon")
        sandbox = stack.slack_sandbox
        url = sent.response_url or ""

        def answered() -> list[dict[str, Any]] | None:
            posts = sandbox.responses(url)
            return posts if posts and not posts[-1]["text"].startswith("Searching Meta") else None

        *progress, answer = sandbox.wait_for(answered, timeout=30)
        assert 1 <= len(progress) <= 2  # five pages of 0.8 s: past the first few seconds, paced after that
        assert all(post["text"].startswith("Searching Meta: page ") for post in progress)
        assert [post.get("replace_original") for post in progress] == [False, True][: len(progress)]
        assert answer["replace_original"] is True
        assert wanted in json.dumps(answer)
        shown = stack.slack_sandbox.ephemerals(user="U0AGENT1")
        assert len(shown) == 1  # the card replaced the progress message
        assert wanted in json.dumps(shown[0])
        assert "Searching Meta" not in json.dumps(shown)


def test_when_meta_cannot_be_read_the_index_answers_and_says_what_was_not_searched(tmp_path: Path) -> None:
    with Stack.start(tmp_path, graph_max_retries=0) as stack:
        order_id = looked_up_order(stack)
        stack.graph_sandbox.set_faults(status=503, count=1, match={"method": "GET", "path": "commerce_orders"})
        (answer,) = find(stack, "zebulon")
        assert order_id in json.dumps(answer)  # the lookup indexed it
        assert "14 days not searched: Meta did not answer, search again in a moment" in summary(answer)
        before = last_seq(stack)
        (again,) = find(stack, "zebulon")
        assert "14 days read from Meta just now" in summary(again)  # nothing was remembered as covered
        assert list_requests(stack, before)


def test_since_before_the_buyer_is_the_window_not_part_of_the_name(stack: Stack) -> None:
    order_id = looked_up_order(stack)
    (answer,) = find(stack, "since:7d Zebulon Quiñones")
    assert order_id in json.dumps(answer)
    assert "1 order updated in the last 7 days matched that name." in summary(answer)
    audit = stack.services.store._select("SELECT detail FROM audit WHERE action = ?", (FIND_ACTION,))
    assert [row["detail"] for row in audit] == ["query=name since=7d results=1"]


def test_a_search_during_anothers_scan_says_it_waits_then_answers(stack: Stack) -> None:
    order_id = looked_up_order(stack)
    sandbox = stack.slack_sandbox
    with Store(stack.settings.db_path) as other, other.run_lock(SCAN_LOCK):
        sent = stack.slack.slash_command("find zebulon")
        url = sent.response_url or ""
        (told,) = sandbox.wait_for(lambda: sandbox.responses(url), timeout=SCAN_WAIT_NOTICE_SECONDS + 10)
        assert told["text"] == WAITING
    _, answer = sandbox.wait_for(lambda: sandbox.wait_responses(url, count=2, timeout=10))
    assert answer["replace_original"] is True
    assert order_id in json.dumps(answer)
    assert "read from Meta just now" in summary(answer)
