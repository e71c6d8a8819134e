"""Plain words wherever an agent reads: no Meta enum or audit code in any message, right plurals, who acted.

Every builder is rendered for every state an order can be in, every audit action and outcome, and every kind of
bulk result, and the text people read (the ``text`` of every element, never ids or button values) must hold none
of Meta's names (``CREATED``, ``FB_PROCESSING``, ``OUT_OF_STOCK``) nor the bot's own codes (``acknowledge_order``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.domain.acknowledgement import AckStatus
from bot.lookup.service import Ambiguous
from bot.sandbox.slack import SlackSandbox
from bot.slack.views.acknowledge import ack_not_allowed_blocks, ack_status_blocks, batch_result_blocks
from bot.slack.views.changes import change_summary, digest_changes_text
from bot.slack.views.digest import digest_list, digest_message, digest_text
from bot.slack.views.history import history_blocks
from bot.slack.views.kit import plural, summarised
from bot.slack.views.lookup import render
from bot.slack.views.order_card import contact_blocks, notification_card, notification_text, order_card
from bot.slack.views.words import STATE_WORDS, state_words
from bot.storage.sqlite.store import AuditRow, IndexedOrder

CM = "https://www.facebook.com/commerce_manager/"
KEY = "0f8e4c2a9b7d41c6a3e5d2b1c4f6a8e0"
STATES = ("FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED")
CANCEL_REASONS = ("CUSTOMER_REQUESTED", "OUT_OF_STOCK", "INVALID_ADDRESS", "SUSPICIOUS_ORDER", "CANCEL_REASON_OTHER")
REFUND_REASONS = (
    "BUYERS_REMORSE",
    "DAMAGED_GOODS",
    "NOT_AS_DESCRIBED",
    "QUALITY_ISSUE",
    "REFUND_REASON_OTHER",
    "WRONG_ITEM",
    "FACEBOOK_INITIATED",
    "REFUND_COMPROMISED",
    "REFUND_FOR_RETURN",
    "REFUND_SFI_FAKE",
    "REFUND_SFI_REAL",
)
AUDIT_ACTIONS = ("acknowledge_order", "acknowledge_orders", "show_contact")
AUDIT_OUTCOMES = (
    "succeeded",
    "failed",
    "failed, retryable",
    "conflict",
    "refused",
    "refused: button not from orderdesk",
    "shown",
    "failed: GraphPermissionError",
)
# No code of Meta's or of the bot's own may be read by an agent: states, reasons, audit actions, config names.
RAW = re.compile(
    r"\b(?:"
    + "|".join((*STATES, *CANCEL_REASONS, *REFUND_REASONS, *AUDIT_ACTIONS, "ORDERDESK_ACK_ALLOWED", "S0ONCALL"))
    + r")\b|→"
)
LABELLED_GROUP = re.compile(r"<!subteam\^\w+\|([^>]*)>")


def readable(value: Any) -> Iterator[str]:
    """The text people read in blocks: every ``text`` (sections, fields, context, buttons, dialogs), nothing else."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "text" and isinstance(inner, str):
                yield inner
            else:
                yield from readable(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from readable(inner)
    elif isinstance(value, str):
        yield value


def order_in(state: str, n: int = 0) -> dict[str, Any]:
    return {
        "id": str(7001234567890 + n),
        "order_status": {"state": state},
        "created": "2026-03-01T10:15:00+00:00",
        "channel": "facebook",
        "merchant_order_id": "SHOP-1" if state in ("IN_PROGRESS", "COMPLETED") else None,
        "items": {"data": [{"product_name": "Mug", "quantity": 1}]},
        "shipments": {"data": [{"id": "s1", "tracking_info": {"carrier": "ups", "tracking_number": "1Z9"}}]},
        "cancellations": {"data": [{"id": "c1", "cancel_reason": {"reason_code": code}} for code in CANCEL_REASONS]},
        "refunds": {
            "data": [{"id": f"r{n}", "refund_reason": {"reason_code": c}} for n, c in enumerate(REFUND_REASONS)]
        },
    }


STATUSES = (
    None,
    AckStatus("pending", "U0AGENT1", 1_772_360_400.0),
    AckStatus("succeeded", "U0AGENT1", 1_772_360_400.0, "SHOP-1"),
    AckStatus("failed", "U0AGENT1", message="Meta refused it."),
    AckStatus("retryable", "U0AGENT1", message="Meta did not answer."),
)


def rendered() -> Iterator[tuple[str, Any]]:
    """(what, rendering) for every builder an agent reads, over every state, status, audit row and result kind."""
    for state in STATES:
        order = order_in(state)
        for status in STATUSES:
            label = f"{state}/{status.state if status else 'none'}"
            yield f"order_card {label}", order_card(order, commerce_manager_url=CM, ack_key=KEY, ack_status=status)
            yield (
                f"shared card {label}",
                order_card(order, commerce_manager_url=CM, ack_key=KEY, ack_status=status, shared_by="U0AGENT1"),
            )
            yield (
                f"notification_card {label}",
                notification_card(order, ack_key=KEY, commerce_manager_url=CM, ack_status=status),
            )
            if status is not None:
                yield f"ack_status_blocks {label}", ack_status_blocks(order["id"], status)
        yield f"notification_text {state}", notification_text(order)
        yield f"contact_blocks {state}", contact_blocks({"id": "1", "order_status": {"state": state}})
        for before in STATES:
            was = {**order_in(before), "shipments": {"data": []}, "cancellations": {"data": []}, "refunds": {}}
            yield f"change_summary {before}->{state}", change_summary(was, order, acknowledged_by="U0AGENT1")
    mixed = [order_in(state, n) for n, state in enumerate(STATES * 3)]
    for orders in (mixed, [o for o in mixed if o["order_status"]["state"] == "IN_PROGRESS"]):
        yield "digest_message", digest_message(orders, digest_id="d1")
        yield "digest_list", digest_list(orders, commerce_manager_url=CM)
        yield "digest_text", digest_text(orders)
    yield "digest_changes_text", digest_changes_text([("1", "Acknowledged"), ("2", "Completed")])
    rows = [
        AuditRow(n, 1_772_360_400.0, action, "1", "U0AGENT1", "T1", KEY, outcome, detail)
        for n, (action, outcome, detail) in enumerate(
            (action, outcome, detail)
            for action in AUDIT_ACTIONS
            for outcome in AUDIT_OUTCOMES
            for detail in (None, "not in ORDERDESK_ACK_ALLOWED", '{"code": 200, "message": "No permission."}')
        )
    ]
    yield "history_blocks", history_blocks("1", rows)
    yield (
        "batch_result_blocks",
        batch_result_blocks(
            [
                {"id": "1", "state": "IN_PROGRESS"},
                {"id": "2", "already": {"by": "U0AGENT2", "reference": "SHOP-2"}},
                {"id": "3", "error": {"error_code": 2361009, "error_message": "Cannot acknowledge."}},
            ],
            user_id="U0AGENT1",
        ),
    )
    yield "ack_not_allowed_blocks", ack_not_allowed_blocks(["U0AGENT1", "S0ONCALL"], group_names={"S0ONCALL": "oncall"})


RENDERED = list(rendered())


@pytest.mark.parametrize(("what", "value"), RENDERED, ids=[what for what, _ in RENDERED])
def test_no_raw_code_reaches_an_agent(what: str, value: Any) -> None:
    for text in readable(value):
        shown = LABELLED_GROUP.sub(r"\1", text)  # a client shows a labelled group mention as its label
        assert not RAW.search(shown), f"{what}: {text!r}"


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("CREATED", "Awaiting acknowledgement"),
        ("IN_PROGRESS", "Acknowledged, being fulfilled"),
        ("COMPLETED", "Completed"),
        ("FB_PROCESSING", "In Meta's processing hold (nothing to do until Meta releases it)"),
        ("SOME_NEW_STATE", "Some new state"),  # a state Meta adds later still reads as words
        ("<b>", "&lt;b&gt;"),
        (None, "Unknown"),
    ],
)
def test_state_words(state: str | None, words: str) -> None:
    assert state_words(state) == words
    if state in STATE_WORDS:
        assert f"State: {words}" in str(notification_card(order_in(state), ack_key=KEY, commerce_manager_url=CM))


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (0, "order", "0 orders"),
        (1, "order", "1 order"),
        (2, "order", "2 orders"),
        (1, "entry", "1 entry"),
        (3, "entry", "3 entries"),
        (2, "day", "2 days"),
        (2, "match", "2 matches"),
        (1, "new order", "1 new order"),
        (2, "person", "2 people"),
    ],
)
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun, "people" if noun == "person" else None) == expected


@pytest.mark.parametrize(
    ("entries", "expected"),
    [(3, ["0", "1", "2"]), (4, ["0", "1", "2", "…and 1 more item"]), (5, ["0", "1", "2", "…and 2 more items"])],
)
def test_summarised_counts_the_rest_in_the_right_number(entries: int, expected: list[str]) -> None:
    assert summarised(list(range(entries)), str, 3, "item") == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda orders: digest_text(orders[:1]), "1 new order awaiting acknowledgement"),
        (lambda orders: digest_text(orders[:2]), "2 new orders awaiting acknowledgement"),
        (lambda orders: str(digest_message(orders[:1], digest_id="d")), "*1 new order* awaiting acknowledgement"),
        (lambda orders: str(digest_message(orders[:1], digest_id="d")), "This acknowledges this order at Meta"),
        (lambda orders: str(digest_message(orders[:3], digest_id="d")), "This acknowledges all 3 orders at Meta"),
        (lambda orders: notification_text(orders[0]), "1 item"),
        (lambda orders: str(notification_card(orders[0], ack_key=KEY, commerce_manager_url=CM)), "1 item:"),
        (lambda orders: str(batch_result_blocks(orders[:1], user_id="U0AGENT1")), "acknowledged 1 order*"),
        (lambda orders: str(batch_result_blocks(orders[:2], user_id="U0AGENT1")), "acknowledged 2 orders*"),
    ],
)
def test_plurals_in_messages(build: Callable[[list[dict[str, Any]]], str], expected: str) -> None:
    orders = [order_in("CREATED", n) for n in range(3)]
    assert expected in build(orders)


def test_digest_counts_what_is_still_awaiting_acknowledgement() -> None:
    orders = [order_in("CREATED" if n < 3 else "IN_PROGRESS", n) for n in range(17)]
    assert digest_text(orders) == "3 of 17 new orders still awaiting acknowledgement"
    partial = str(digest_message(orders, digest_id="d"))
    assert "*3 of 17 new orders* still awaiting acknowledgement" in partial
    assert "This acknowledges the 3 orders still awaiting acknowledgement at Meta" in partial
    done = [order_in("IN_PROGRESS" if n % 2 else "COMPLETED", n) for n in range(17)]
    assert digest_text(done) == "All 17 new orders acknowledged"
    assert digest_text(done[:1]) == "The new order was acknowledged"
    blocks = digest_message(done, digest_id="d")
    assert [b["type"] for b in blocks] == ["section"]  # no buttons left: nothing to acknowledge
    assert ":white_check_mark: *All 17 new orders acknowledged*" in str(blocks)


AT = 1_772_360_400.0


@pytest.mark.parametrize(
    ("action", "outcome", "detail", "expected"),
    [
        ("show_contact", "shown", None, "*Viewed contact*"),
        ("show_contact", "failed: GraphPermissionError", None, "*Viewing contact failed*"),
        ("acknowledge_order", "succeeded", "reference SHOP-1", "*Acknowledged* · reference SHOP-1"),
        ("acknowledge_orders", "succeeded", None, "*Acknowledged (batch)*"),
        (
            "acknowledge_order",
            "failed",
            '{"code":200,"message":"Missing permission.","subcode":null,"type":"GraphPermissionError"}',
            "*Acknowledgement failed* · Missing permission.",
        ),
        ("acknowledge_order", "failed, retryable", None, "*Acknowledgement did not go through yet*"),
        (
            "acknowledge_order",
            "refused",
            "not in ORDERDESK_ACK_ALLOWED",
            "*Refused: acknowledge* · not on the list of who may acknowledge orders",
        ),
        ("acknowledge_orders", "refused", "user from another workspace", "*Refused: acknowledge in bulk*"),
        (
            "acknowledge_order",
            "refused: button not from orderdesk",
            None,
            "*Refused: acknowledge (button not from orderdesk)*",
        ),
        ("acknowledge_order", "conflict", None, "*Acknowledgement refused: the card was already used"),
        ("ship_order", "succeeded", None, "*Ship order*"),
    ],
)
def test_history_words(action: str, outcome: str, detail: str | None, expected: str) -> None:
    row = AuditRow(1, AT, action, "1", "U0AGENT1", "T1", KEY, outcome, detail)
    text = history_blocks("1", [row])[0]["text"]["text"]
    assert f"<@U0AGENT1> {expected}" in text
    assert f"key `{KEY}`" in text


def test_group_mentions_carry_the_groups_handle() -> None:
    named = str(ack_not_allowed_blocks(["U0AGENT1", "S0ONCALL"], group_names={"S0ONCALL": "@oncall"}))
    assert "ask <@U0AGENT1>, <!subteam^S0ONCALL|@oncall>." in named
    unnamed = str(ack_not_allowed_blocks(["S0ONCALL"]))
    assert "<!subteam^S0ONCALL>" in unnamed  # still a mention Slack resolves; never a bare id as text
    hostile = str(ack_not_allowed_blocks(["S0ONCALL"], group_names={"S0ONCALL": "a|b<!channel>"}))
    assert "<!subteam^S0ONCALL|@ab!channel>" in hostile


def test_bulk_results_and_thread_replies_say_who_acted() -> None:
    header = batch_result_blocks([{"id": str(n), "state": "IN_PROGRESS"} for n in range(17)], user_id="U0AGENT1")
    assert header[0]["text"]["text"].startswith("*<@U0AGENT1> acknowledged 17 orders*\n")
    before, after = order_in("CREATED"), order_in("IN_PROGRESS")
    assert change_summary(before, after, acknowledged_by="U0AGENT1") == "Acknowledged by <@U0AGENT1> (reference SHOP-1)"


def test_the_pending_answer_shows_a_slack_emoji_and_an_absolute_time() -> None:
    text = str(ack_status_blocks("1", AckStatus("pending", "U0AGENT1", AT)))
    assert ":hourglass_flowing_sand: <@U0AGENT1> is acknowledging this order" in text
    assert "(started <!date^1772360400^{date_short_pretty} {time}|2026-03-01 10:20 UTC>)" in text
    assert "{ago}" not in text
    assert "⧗" not in text


def test_slack_sandbox_lists_user_groups_with_their_handles() -> None:
    sandbox = SlackSandbox()
    server = sandbox.serve()
    try:
        client = WebClient(token=sandbox.bot_token, base_url=f"{server.url}/api/")
        (group,) = client.usergroups_list()["usergroups"]
        assert (group["id"], group["handle"], group["name"]) == ("S0ONCALL", "oncall", "On-call")
        assert "users" not in group
        (counted,) = client.usergroups_list(include_users=True, include_count=True)["usergroups"]
        assert (counted["users"], counted["user_count"]) == (["U0AGENT1"], 1)
    finally:
        server.stop()


def test_orders_sharing_a_reference_are_listed_with_their_state_in_words() -> None:
    orders = [
        IndexedOrder(str(n), "SHOP-1", state, "facebook", None, None, {"id": str(n)}, AT)
        for n, state in enumerate(("IN_PROGRESS", "COMPLETED"))
    ]
    blocks, _ = render(Ambiguous("SHOP-1", orders), commerce_manager_url=CM)
    text = "\n".join(readable(blocks))
    assert "`0` · Acknowledged, being fulfilled" in text
    assert "`1` · Completed" in text
    assert not RAW.search(text)


def test_bulk_results_without_a_known_user_name_nobody() -> None:
    text = batch_result_blocks([{"id": "1", "state": "IN_PROGRESS"}])[0]["text"]["text"]
    assert text.startswith("*Acknowledged 1 order*\n")
