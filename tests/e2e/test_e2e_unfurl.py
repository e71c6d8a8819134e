"""Commerce Manager order links unfurl over real HTTP: ``link_shared`` → one Graph read per order per minute →
``chat.unfurl`` with a card that holds no buyer data. Unknown orders and other links get nothing; guests nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from e2e_stack import Stack, stack_fixture  # noqa: F401
from slack_sdk.models.blocks import Block

GUEST = "U0FOREIGN"


def order_url(order_id: str) -> str:
    return f"https://business.facebook.com/commerce/1234/orders/{order_id}"


def reads_of(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    return [c for c in stack.graph_sandbox.calls() if c["method"] == "GET" and order_id in c["path"]]


def unfurls(stack: Stack) -> list[dict[str, Any]]:
    return stack.slack_sandbox.calls("chat.unfurl")


def buyer_values(order: dict[str, Any]) -> list[str]:
    buyer, address = order.get("buyer_details") or {}, order.get("shipping_address") or {}
    values = [buyer.get("name"), buyer.get("email"), buyer.get("phone_number"), address.get("name")]
    values += [address.get("street1"), address.get("street2"), address.get("postal_code")]
    return [v for v in values if v]


def test_a_posted_link_unfurls_once_into_a_valid_card_without_buyer_data(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order()
    order_id = str(order["id"])
    url = order_url(order_id)
    stack.graph_sandbox.clear_calls()
    sent = stack.slack.link_shared([url, "https://example.com/unrelated"])
    assert sent.response.status_code == 200
    [call] = stack.slack_sandbox.wait_for(lambda: unfurls(stack))
    assert call["error"] is None
    args = call["args"]
    assert args["source"] == "conversations_history"
    assert args["unfurl_id"]
    assert list(args["unfurls"]) == [url]
    blocks = args["unfurls"][url]["blocks"]
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    text = json.dumps(blocks)
    assert order_id in text
    assert "Acknowledge" not in text  # no buttons for whoever shares the channel
    assert "ack due <!date^" in text  # the deadline as a date, with no band that nothing would redraw
    assert "left" not in text
    assert ":large_" not in text
    for value in buyer_values(stack.graph_sandbox.order(order_id)):
        assert value not in text, f"buyer data {value!r} in the unfurl"
    assert len(reads_of(stack, order_id)) == 1


def test_the_second_event_within_a_minute_reads_nothing_from_meta_and_unfurls_from_the_index(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    url = order_url(order_id)
    stack.graph_sandbox.clear_calls()
    stack.slack.link_shared([url], source="composer", message_ts="1700000000.000200")
    stack.slack_sandbox.wait_for(lambda: unfurls(stack))
    stack.slack.link_shared([url], message_ts="1700000000.000200")
    first, second = stack.slack_sandbox.wait_for(lambda: len(unfurls(stack)) == 2 and unfurls(stack))
    assert [c["args"]["source"] for c in (first, second)] == ["composer", "conversations_history"]
    assert first["args"]["unfurls"] == second["args"]["unfurls"]
    assert len(reads_of(stack, order_id)) == 1


def test_an_unknown_order_unfurls_to_nothing(stack: Stack) -> None:
    known = str(stack.graph_sandbox.add_order()["id"])
    unknown = "9999999999999999"
    stack.slack.link_shared([order_url(unknown), order_url(known)])
    [call] = stack.slack_sandbox.wait_for(lambda: unfurls(stack))
    assert list(call["args"]["unfurls"]) == [order_url(known)]
    stack.slack.link_shared([order_url(unknown)], message_ts="1700000000.000300")
    stack.slack_sandbox.wait_for(lambda: reads_of(stack, unknown))
    time.sleep(1)  # long enough for a wrong unfurl to arrive
    assert len(unfurls(stack)) == 1  # a message with only unknown orders gets no chat.unfurl at all


def test_a_guests_link_unfurls_nothing_and_reads_nothing(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.clear_calls()
    stack.slack.link_shared([order_url(order_id)], user=GUEST)
    [told] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.ephemerals(user=GUEST))
    assert "only to members of this workspace" in told["text"]
    time.sleep(1)  # long enough for a wrong unfurl to arrive
    assert unfurls(stack) == []
    assert reads_of(stack, order_id) == []


def test_a_malformed_event_is_acked_and_unfurls_nothing(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    for links in ("garbage", [None, {"url": 7}], [{"url": order_url(order_id)}]):
        event = {"type": "link_shared", "user": "U0AGENT1", "links": links}  # no channel, ts or unfurl_id
        assert stack.slack.event(event).response.status_code == 200
    time.sleep(1)  # long enough for a wrong unfurl to arrive
    assert unfurls(stack) == []
    assert reads_of(stack, order_id) == []


def test_a_link_where_orderdesk_is_not_a_member_unfurls_nothing_and_reads_nothing(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    url = order_url(order_id)
    stack.graph_sandbox.clear_calls()
    event = {
        "type": "link_shared",
        "channel": "C0ELSEWHERE",
        "user": "U0AGENT1",
        "message_ts": "1700000000.000400",
        "unfurl_id": "U0ELSEWHERE0001",
        "source": "conversations_history",
        "is_bot_user_member": False,
        "links": [{"domain": "business.facebook.com", "url": url}],
    }
    assert stack.slack.event(event).response.status_code == 200
    member = {**event, "channel": "C0ORDERS", "unfurl_id": "U0ORDERS0001", "is_bot_user_member": True}
    assert stack.slack.event(member).response.status_code == 200
    [call] = stack.slack_sandbox.wait_for(lambda: unfurls(stack))  # the member channel's, after the other's
    assert call["args"]["unfurl_id"] == "U0ORDERS0001"
    time.sleep(0.5)  # long enough for a wrong unfurl to arrive
    assert len(unfurls(stack)) == 1
    assert len(reads_of(stack, order_id)) == 1


def test_a_read_that_failed_leaves_the_next_event_free_to_read(tmp_path: Path) -> None:
    with Stack.start(tmp_path, graph_max_retries=0) as stack:
        order_id = str(stack.graph_sandbox.add_order()["id"])
        url = order_url(order_id)
        stack.graph_sandbox.clear_calls()
        stack.graph_sandbox.set_faults(status=503, count=1, match={"method": "GET", "path": order_id})
        stack.slack.link_shared([url], source="composer", message_ts="1700000000.000500")
        stack.slack_sandbox.wait_for(lambda: reads_of(stack, order_id))
        time.sleep(0.5)  # the failed read is over: its claim given back
        assert unfurls(stack) == []
        stack.slack.link_shared([url], message_ts="1700000000.000500")
        [call] = stack.slack_sandbox.wait_for(lambda: unfurls(stack))
        assert list(call["args"]["unfurls"]) == [url]
        assert [c["status"] for c in reads_of(stack, order_id)] == [503, 200]
