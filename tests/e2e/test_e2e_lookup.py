"""Order lookup end to end over real HTTP: signed ``/order`` commands, the "Look up order" shortcut and the card
buttons → ``orderdesk serve`` → the Graph sandbox and the Slack sandbox, asserting on what each sandbox recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk.models.blocks import Block

from bot.graph.client import ORDER_CARD_FIELDS
from bot.sandbox.slack_requester import Sent
from bot.slack import ids

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
USER = "U0AGENT1"
JSON = dict[str, Any]


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    """Retries off in the Graph client, so one injected fault reaches the agent as its answer."""
    with Stack.start(tmp_path, graph_max_retries=0, lookup_scan_max_pages=3) as started:
        yield started


def answers(stack: Stack, sent: Sent, count: int = 1) -> list[JSON]:
    """The ephemeral answers posted to the request's response URL, once ``count`` have arrived."""
    url = sent.response_url or ""
    posted = stack.slack_sandbox.wait_for(lambda: len(stack.slack_sandbox.responses(url)) >= count and url)
    found = stack.slack_sandbox.responses(posted)
    assert len(found) == count
    assert all(answer["response_type"] == "ephemeral" for answer in found)
    return found


def ask(stack: Stack, text: str, count: int = 1) -> list[JSON]:
    sent = stack.slack.slash_command(text, user=USER, channel=CHANNEL)
    assert sent.response.status_code == 200
    return answers(stack, sent, count)


def text_of(answer: JSON) -> str:
    return json.dumps(answer["blocks"])


def card_requests(stack: Stack) -> list[JSON]:
    return [c for c in stack.graph_sandbox.calls() if c["params"].get("fields") == ORDER_CARD_FIELDS]


def with_reference(stack: Stack, reference: str) -> str:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.advance(order_id, "IN_PROGRESS", reference)
    return order_id


def buttons(answer: JSON) -> dict[str, str]:
    return {
        e["action_id"]: e.get("value", "") for b in answer["blocks"] for e in b.get("elements", []) if "action_id" in e
    }


def valid(answer: JSON) -> None:
    assert len(answer["blocks"]) <= 50
    for block in answer["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def test_order_by_id_answers_with_its_card_from_one_graph_request(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order()
    stack.graph_sandbox.clear_calls()
    [answer] = ask(stack, str(order["id"]))
    valid(answer)
    assert f"Order {order['id']}" in text_of(answer)
    assert "Awaiting acknowledgement" in text_of(answer)
    assert order["buyer_details"]["name"] in text_of(answer)
    assert order["buyer_details"]["email"] not in text_of(answer)  # PII only behind Show contact
    assert set(buttons(answer)) >= {ids.ACK, ids.SHOW_CONTACT, ids.SHARE_IN_CHANNEL}
    assert json.loads(buttons(answer)[ids.ACK])["o"] == order["id"]
    assert len(stack.graph_sandbox.calls()) == 1
    assert len(card_requests(stack)) == 1


@pytest.mark.parametrize("typed", ["SO-1042", "so-1042"])
def test_order_by_indexed_reference_any_case_is_one_graph_request(stack: Stack, typed: str) -> None:
    order_id = with_reference(stack, "SO-1042")
    stack.services.store.upsert_order(stack.graph_sandbox.order(order_id))
    stack.graph_sandbox.clear_calls()
    [answer] = ask(stack, typed)
    assert f"Order {order_id}" in text_of(answer)
    assert "SO-1042" in text_of(answer)
    assert len(stack.graph_sandbox.calls()) == 1
    assert len(card_requests(stack)) == 1


def test_order_by_reference_found_by_the_fallback_scan(stack: Stack) -> None:
    order_id = with_reference(stack, "SHOP-7731")
    stack.graph_sandbox.clear_calls()
    [answer] = ask(stack, "shop-7731")
    assert f"Order {order_id}" in text_of(answer)
    scans = [c for c in stack.graph_sandbox.calls() if c["path"].endswith("/commerce_orders")]
    assert 1 <= len(scans) <= 3
    assert len(card_requests(stack)) == 1
    stack.graph_sandbox.clear_calls()
    ask(stack, "SHOP-7731")
    assert len(stack.graph_sandbox.calls()) == 1  # now indexed


def test_an_ambiguous_reference_lists_every_order(stack: Stack) -> None:
    order_ids = [with_reference(stack, "DUP-1"), with_reference(stack, "DUP-1")]
    [answer] = ask(stack, "DUP-1")
    valid(answer)
    assert "is used by 2 orders" in text_of(answer)
    assert all(order_id in text_of(answer) for order_id in order_ids)
    assert card_requests(stack) == []


def test_several_ids_give_one_card_each_in_their_own_message(stack: Stack) -> None:
    order_ids = [str(stack.graph_sandbox.add_order()["id"]) for _ in range(3)]
    stack.graph_sandbox.clear_calls()
    found = ask(stack, f"{order_ids[0]}, {order_ids[1]} {order_ids[2]}", count=3)
    assert [f"Order {order_id}" in text_of(answer) for answer, order_id in zip(found, order_ids, strict=True)] == [
        True,
        True,
        True,
    ]
    assert len(card_requests(stack)) == 3
    assert len(stack.graph_sandbox.calls()) == 3


@pytest.mark.parametrize("text", ["", "help"])
def test_usage(stack: Stack, text: str) -> None:
    [answer] = ask(stack, text)
    assert "/order &lt;Facebook order ID&gt;" in text_of(answer)
    assert stack.graph_sandbox.calls() == []


def test_the_shortcut_looks_up_the_ids_in_a_message(stack: Stack) -> None:
    a, b = (str(stack.graph_sandbox.add_order()["id"]) for _ in range(2))
    message = stack.slack_sandbox.post_as_user(CHANNEL, f"Buyer asks about {a} and <@U0AGENT2> about {b}.", "U0AGENT2")
    found = answers(stack, stack.slack.message_shortcut(message, channel=CHANNEL, user=USER), count=2)
    assert f"Order {a}" in text_of(found[0])
    assert f"Order {b}" in text_of(found[1])
    assert all(e["user"] == USER for e in stack.slack_sandbox.ephemerals(channel=CHANNEL))
    assert len(card_requests(stack)) == 2


def test_the_shortcut_finds_a_reference_in_blocks(stack: Stack) -> None:
    order_id = with_reference(stack, "SO-5150")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Receipt number *SO-5150*, please check"}}]
    message = stack.slack_sandbox.post_as_user(CHANNEL, "see below", "U0AGENT2", blocks=blocks)
    [answer] = answers(stack, stack.slack.message_shortcut(message, channel=CHANNEL, user=USER))
    assert f"Order {order_id}" in text_of(answer)


def test_the_shortcut_on_a_message_without_order_numbers_says_so(stack: Stack) -> None:
    message = stack.slack_sandbox.post_as_user(CHANNEL, "Lunch at 12? Room 42.", "U0AGENT2")
    [answer] = answers(stack, stack.slack.message_shortcut(message, channel=CHANNEL, user=USER))
    assert "No order number found in that message" in text_of(answer)
    assert stack.graph_sandbox.calls() == []


def test_the_shortcut_looks_up_five_and_names_the_rest(stack: Stack) -> None:
    order_ids = [str(stack.graph_sandbox.add_order()["id"]) for _ in range(7)]
    message = stack.slack_sandbox.post_as_user(CHANNEL, " ".join(order_ids), "U0AGENT2")
    found = answers(stack, stack.slack.message_shortcut(message, channel=CHANNEL, user=USER), count=5)
    assert "names 7 order numbers; I looked up the first 5" in text_of(found[-1])
    assert all(order_id in text_of(found[-1]) for order_id in order_ids[5:])
    assert len(card_requests(stack)) == 5


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"invalid_token": True}, "Please ask an orderdesk admin"),
        ({"revoke_permission": True}, "Please ask an orderdesk admin"),
        ({"throttle": 1, "regain_minutes": 12}, "Meta is rate limiting us, try again in about 12 minutes."),
        ({"status": 503, "count": 1}, "Meta did not answer"),
    ],
)
def test_graph_failures_are_answered_in_words(stack: Stack, fault: JSON, expected: str) -> None:
    order_id = str(stack.graph_sandbox.add_order()["id"])
    stack.graph_sandbox.set_faults(**fault)
    [answer] = ask(stack, order_id)
    assert expected in text_of(answer)
    assert "Traceback" not in text_of(answer)


def test_a_wrong_page_token_asks_for_an_admin(tmp_path: Path) -> None:
    with Stack.start(tmp_path, fb_page_access_token="not-the-page-token") as stack:
        [answer] = ask(stack, "7001234567890")
    assert "its Page access token is no longer valid. Please ask an orderdesk admin" in text_of(answer)
    assert "not-the-page-token" not in text_of(answer)


def test_an_unknown_order_and_an_unknown_reference_say_what_was_searched(stack: Stack) -> None:
    unknown_id, unknown_reference = ask(stack, "7000000000001 NOPE-404", count=2)
    assert "No order 7000000000001 on this Page." in text_of(unknown_id)
    assert "No order with merchant reference `NOPE-404` on this Page. I searched orderdesk's index and" in text_of(
        unknown_reference
    )


def test_invalid_input_says_what_is_wrong_with_an_example(stack: Stack) -> None:
    [answer] = ask(stack, "order <!channel>?")
    assert "is neither a Facebook order ID" in text_of(answer)
    assert "`/order 7001234567890`" in text_of(answer)
    assert "<!channel>" not in text_of(answer)
    assert stack.graph_sandbox.calls() == []


def test_markup_from_meta_is_escaped_and_long_texts_cut(stack: Stack) -> None:
    hostile = "<!channel> <@U123> & " + "x" * 3000
    order = stack.graph_sandbox.add_order(
        buyer_details={"name": hostile},
        items=[{"product_name": hostile}, {"product_name": "<!here> & <@U123>", "retailer_id": "<@U123>&"}],
    )
    [answer] = ask(stack, str(order["id"]))
    valid(answer)
    text = text_of(answer)
    for mention in ("<!channel>", "<@U123>", "<!here>"):
        assert mention not in text
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; x" in text
    assert "x" * 3000 not in text  # cut
    assert all(len(e.get("text", "")) <= 3000 for b in answer["blocks"] for e in [b.get("text") or {}])


def test_an_order_with_120_items_fits_in_one_card(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(items=120)
    stack.graph_sandbox.clear_calls()
    [answer] = ask(stack, str(order["id"]))
    valid(answer)
    assert "more items" in text_of(answer)
    assert len(stack.graph_sandbox.calls()) == 1


def test_a_120_item_card_does_not_understate_the_item_count(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order(items=120)
    [answer] = ask(stack, str(order["id"]))
    assert "*Items* (25)" not in text_of(answer)
    assert "*Items* (100+)" in text_of(answer)


def test_show_contact_reveals_pii_to_the_clicker_only_and_audits_it(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order()
    order_id = str(order["id"])
    [card] = ask(stack, order_id)
    click = stack.slack.block_action(ids.SHOW_CONTACT, buttons(card)[ids.SHOW_CONTACT], user=USER, channel=CHANNEL)
    [reveal] = answers(stack, click)
    assert order["buyer_details"]["email"] in text_of(reveal)
    assert order["shipping_address"]["street1"] in text_of(reveal)
    assert reveal.get("replace_original") is False  # the card stays
    [row] = stack.services.store.audit_for_order(order_id)
    assert (row.action, row.user_id, row.outcome) == ("show_contact", USER, "shown")
    assert order["buyer_details"]["email"] not in json.dumps(stack.slack_sandbox.messages(CHANNEL))


def test_share_in_channel_posts_the_pii_free_card_and_remembers_it(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order()
    order_id = str(order["id"])
    [card] = ask(stack, order_id)
    stack.slack.block_action(ids.SHARE_IN_CHANNEL, buttons(card)[ids.SHARE_IN_CHANNEL], user=USER, channel=CHANNEL)
    [posted] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.messages(CHANNEL))
    text = json.dumps(posted["blocks"])
    assert f"Order {order_id}" in text
    assert f"Shared by <@{USER}>" in text
    for pii in (order["buyer_details"]["name"], order["buyer_details"]["email"], order["shipping_address"]["street1"]):
        assert pii not in text
    assert ids.SHOW_CONTACT not in text
    [remembered] = stack.slack_sandbox.wait_for(lambda: stack.services.store.cards_for_order(order_id))
    assert (remembered.channel, remembered.ts, remembered.kind) == (CHANNEL, posted["ts"], f"shared:{USER}")
    assert len(card_requests(stack)) == 2  # the lookup's card and the shared one
