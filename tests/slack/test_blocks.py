"""Tests of the Block Kit builders: Slack's validation, Slack's limits, escaping of Meta's text, no buyer PII."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.acknowledgement import MERCHANT_REF_PATTERN, AckStatus
from bot.slack import ids
from bot.slack.views.acknowledge import (
    ack_conflict_blocks,
    ack_not_allowed_blocks,
    ack_reference_modal,
    ack_status_blocks,
    ack_value,
    batch_result_blocks,
    parse_ack_value,
)
from bot.slack.views.changes import change_summary
from bot.slack.views.digest import digest_list, digest_message
from bot.slack.views.help import help_blocks, message_blocks
from bot.slack.views.history import history_blocks
from bot.slack.views.kit import clip, escape, money
from bot.slack.views.order_card import card_metadata, contact_blocks, notification_card, notification_text, order_card
from bot.slack.views.words import STATE_WORDS
from bot.storage.sqlite.store import AuditRow

CM = "https://www.facebook.com/commerce_manager/"
KEY = "0f8e4c2a9b7d41c6a3e5d2b1c4f6a8e0"  # the shape of uuid4().hex; fixed, so xdist workers agree on test ids
EMAIL = "n8miblde3i@marketplace.facebook.com"
PHONE = "+1 555 0100"
STREET1 = "1234 Market St"
STREET2 = "Apt 17"
POSTCODE = "97205"
PII = (EMAIL, PHONE, STREET1, STREET2, POSTCODE)


def money_of(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def item(n: int) -> dict[str, Any]:
    return {
        "id": f"9{n:05d}",
        "retailer_id": f"SKU-{n}",
        "product_id": f"8{n:05d}",
        "product_name": f"Linen Throw Pillow {n}",
        "quantity": 2,
        "price_per_unit": money_of("34.50"),
    }


@pytest.fixture
def order() -> dict[str, Any]:
    """A CREATED order with every field the cards use, shaped exactly as Graph returns it."""
    return {
        "id": "7001234567890",
        "order_status": {"state": "CREATED"},
        "created": "2026-03-01T10:15:00+00:00",
        "last_updated": "2026-03-01T10:20:00+00:00",
        "channel": "instagram",
        "merchant_order_id": "SHOP-1042",
        "ship_by_date": "2026-03-04",
        "buyer_details": {"name": "Ada Lovelace", "email": EMAIL, "phone_number": PHONE},
        "shipping_address": {
            "name": "Ada Lovelace",
            "street1": STREET1,
            "street2": STREET2,
            "city": "Portland",
            "state": "OR",
            "postal_code": POSTCODE,
            "country": "US",
        },
        "estimated_payment_details": {
            "subtotal": {"items": money_of("69.00"), "shipping": money_of("5.99")},
            "tax": money_of("6.00"),
            "total_amount": money_of("80.99"),
        },
        "selected_shipping_option": {
            "name": "Standard",
            "price": money_of("5.99"),
            "estimated_shipping_time": {"min_days": 5, "max_days": 8},
        },
        "items": {"data": [item(1)]},
        "shipments": {
            "data": [{"id": "51", "tracking_info": {"carrier": "UPS", "tracking_number": "1Z999AA1"}, "items": {}}]
        },
        "cancellations": {"data": [{"id": "61", "cancel_reason": {"reason_code": "OUT_OF_STOCK"}}]},
        "refunds": {
            "data": [
                {"id": "71", "refund_reason": {"reason_code": "DAMAGED_GOODS"}, "refund_amount": money_of("12.00")}
            ]
        },
    }


DEFAULT_FIELDS_ONLY = {
    "id": "7001234567891",
    "order_status": {"state": "CREATED"},
    "created": "2026-03-01T10:15:00+00:00",
    "last_updated": "2026-03-01T10:15:00+00:00",
}
FB_PROCESSING = {
    **DEFAULT_FIELDS_ONLY,
    "order_status": {"state": "FB_PROCESSING"},
    "channel": "facebook",
    "items": {"data": [item(1), item(2)]},
}
ODDLY_TYPED = {
    "order_status": "CREATED",
    "created": 12,
    "items": "none",
    "buyer_details": ["Ada"],
    "shipping_address": None,
    "estimated_payment_details": {"total_amount": 5, "tax": {"amount": None}},
    "shipments": {"data": ["x", None]},
}


# The only markup a card may hold: mentions and dates the bot adds, its links, and the three entities.
_OURS = re.compile(
    r"<(?:@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+|!date\^\d+\^\{[a-z_]+\}(?: \{time\})?\|[^<>|]*|https://[^\s|<>]+\|[^<>]*)>"
    r"|&(?:amp|lt|gt);"
)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_no_foreign_markup(value: Any) -> None:
    """Once the bot's own markup and entities are removed, no ``<``, ``>`` or ``&`` may be left anywhere."""
    for text in strings(value):
        rest = _OURS.sub("", text)
        assert not set(rest) & set("<>&"), text


def assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    """Slack's limits, including the ones slack_sdk does not check (block count, field length)."""
    assert 0 < len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(0 < len(f["text"]) <= 2000 for f in block.get("fields", []))
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
        elif block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
            assert len({e["action_id"] for e in block["elements"]}) == len(block["elements"])
            for element in block["elements"]:
                assert len(element["text"]["text"]) <= 75
                assert 0 < len(element.get("value", "x")) <= 2000
    assert_no_foreign_markup(blocks)


CARD_ACTION_IDS = {ids.ORDER_SHIP, ids.ORDER_TRACKING, ids.ORDER_CANCEL, ids.ORDER_REFUND}


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """The card's buttons other than the card actions' (tested in tests/slack/test_action_views.py)."""
    return [
        e["action_id"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] not in CARD_ACTION_IDS
    ]


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def text_of(value: Any) -> str:
    return "\n".join(strings(value))


ORDER_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "order_card": lambda o: order_card(o, commerce_manager_url=CM, ack_key=KEY),
    "order_card_shared": lambda o: order_card(o, commerce_manager_url=CM, ack_key=KEY, shared_by="U0AGENT1"),
    "notification_card": lambda o: notification_card(o, ack_key=KEY, commerce_manager_url=CM),
    "digest_message": lambda o: digest_message([o, o], digest_id="d1"),
    "digest_list": lambda o: digest_list([o, o], commerce_manager_url=CM),
    "contact_blocks": contact_blocks,
}
PII_FREE = ("order_card", "order_card_shared", "notification_card", "digest_message", "digest_list")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("Fish & Chips", "Fish &amp; Chips"),
        ("&lt;", "&amp;lt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        (None, ""),
        (12, "12"),
    ],
)
def test_escape(text: object, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("abcdefghijk", 5, "abcd…"),
        ("ab&amp;cdef", 5, "ab…"),  # never half an entity
        ("ab&amp;cdef", 8, "ab&amp;…"),
        ("see <!date^1^{time}|x> now", 10, "see …"),  # never half of our own markup
    ],
)
def test_clip(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected


@given(st.text(), st.integers(min_value=1, max_value=60))
def test_clip_keeps_escaped_text_escaped(text: str, limit: int) -> None:
    clipped = clip(escape(text), limit)
    assert len(clipped) <= limit
    assert_no_foreign_markup(clipped)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (money_of("12.50"), "USD 12.50"),
        (money_of("12.5"), "USD 12.50"),
        (money_of("1234567.891"), "USD 1,234,567.891"),  # more digits than USD has: shown, never rounded
        (money_of("1234567.890"), "USD 1,234,567.89"),
        ({"amount": "1500", "currency": "JPY"}, "JPY 1,500"),
        ({"amount": "1500.00", "currency": "JPY"}, "JPY 1,500"),
        ({"amount": "1.25", "currency": "KWD"}, "KWD 1.250"),
        ({"amount": "0.5", "currency": "BHD"}, "BHD 0.500"),
        ({"amount": "12", "currency": "VND"}, "VND 12"),
        (money_of("-3.00"), "USD -3.00"),
        ({"amount": "7", "currency": "EUR"}, "EUR 7.00"),
        (money_of("twelve <b>"), "USD twelve &lt;b&gt;"),
        (money_of("1e999999"), "USD 1e999999"),
        ({"currency": "USD"}, None),
        (None, None),
        ("12.50", None),
    ],
)
def test_money(amount: object, expected: str | None) -> None:
    assert money(amount) == expected


@pytest.mark.parametrize(
    ("reference", "valid"),
    [
        ("SHOP-1042", True),
        ("10042", True),
        ("so_1.2/3#4", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("", False),
        ("-leading-dash", False),
        ("with space", False),
        ("<!channel>", False),
        ("SHOP-1\n", False),
        ("ÜBER-1", False),
    ],
)
def test_merchant_ref_pattern(reference: str, valid: bool) -> None:
    assert bool(MERCHANT_REF_PATTERN.match(reference)) is valid


@pytest.mark.parametrize(("order_id", "key"), [("7001234567890", KEY), ("1", "a"), ("9" * 64, "k-_" + "x" * 97)])
def test_ack_value_round_trips(order_id: str, key: str) -> None:
    value = ack_value(order_id, key)
    assert len(value) <= 2000
    assert json.loads(value) == {"o": order_id, "k": key}
    assert parse_ack_value(value) == (order_id, key)


@pytest.mark.parametrize(("order_id", "key"), [("12a", KEY), ("", KEY), ("1", ""), ("1", "a b"), ("1", "k" * 101)])
def test_ack_value_refuses_what_it_could_not_read_back(order_id: str, key: str) -> None:
    with pytest.raises(ValueError, match="not an order id"):
        ack_value(order_id, key)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "7001234567890",
        "not json",
        '{"o":7001234567890,"k":"abc"}',  # wrong type
        '{"o":"70012345a","k":"abc"}',  # non-digit id
        '{"o":"７００","k":"abc"}',  # digits, but not ASCII ones
        '{"o":"1","k":"ab c"}',
        '{"o":"1","k":"' + "a" * 101 + '"}',
        '{"o":"1","k":"abc","x":1}',  # extra junk
        '{"o":"1","k":"abc"} ',
        '{"o":"1","k":"abc"}\n',
        '{"o":"1","o":"2","k":"abc"}',
        '{"k":"abc","o":"1"}',
        '{"o":"1","k":["abc"]}',
        "[" * 1500,
        '{"o":"1","k":"abc"}' + " " * 2000,
    ],
)
def test_parse_ack_value_refuses_tampered_values(value: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_ack_value(value)


@given(st.text(max_size=300))
def test_parse_ack_value_raises_only_value_error(value: str) -> None:
    try:
        order_id, key = parse_ack_value(value)
    except ValueError:
        return
    assert ack_value(order_id, key) == value


def test_order_card_shows_the_order(order: dict[str, Any]) -> None:
    blocks = order_card(order, commerce_manager_url=CM, ack_key=KEY)
    assert_within_limits(blocks)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Order 7001234567890", "emoji": True}}
    text = text_of(blocks)
    for expected in (
        "*State*\nAwaiting acknowledgement",
        "Instagram",
        "<!date^1772360100^{date_short_pretty} {time}|2026-03-01 10:15 UTC>",
        "<!date^1772360400^",
        "7001234567890",
        "SHOP-1042",
        "Ada Lovelace",
        "2 × Linen Throw Pillow 1 · SKU SKU-1 · USD 34.50 each",
        "*Subtotal*\nUSD 69.00",
        "*Shipping*\nUSD 5.99",
        "*Tax*\nUSD 6.00",
        "*Total*\nUSD 80.99",
        "Standard · USD 5.99 · 5-8 days",
        "Portland, US",
        "2026-03-04",
        "UPS 1Z999AA1",
        "Out of stock",
        "USD 12.00 · Damaged goods",
    ):
        assert expected in text
    assert buttons(blocks)[ids.OPEN_IN_COMMERCE_MANAGER]["url"] == CM + "orders/7001234567890"
    assert buttons(blocks)[ids.SHOW_CONTACT]["value"] == "7001234567890"
    assert buttons(blocks)[ids.SHARE_IN_CHANNEL]["value"] == "7001234567890"


@pytest.mark.parametrize("builder", PII_FREE)
def test_no_buyer_contact_or_street_on_shared_surfaces(order: dict[str, Any], builder: str) -> None:
    rendered = json.dumps(ORDER_BUILDERS[builder](order), ensure_ascii=False)
    for value in PII:
        assert value not in rendered
    assert "Portland" in rendered  # city and country do belong on cards


def test_no_buyer_contact_in_notification_text_or_change_summary(order: dict[str, Any]) -> None:
    before = {**order, "order_status": {"state": "CREATED"}, "shipments": {"data": []}}
    after = {**order, "order_status": {"state": "IN_PROGRESS"}}
    rendered = notification_text(order) + str(change_summary(before, after))
    assert not [value for value in (*PII, "Ada Lovelace") if value in rendered]


def test_shared_card_leaves_out_buyer_name_and_contact_button(order: dict[str, Any]) -> None:
    blocks = order_card(order, commerce_manager_url=CM, ack_key=KEY, shared_by="U0AGENT1")
    assert_within_limits(blocks)
    assert "Ada Lovelace" not in json.dumps(blocks)
    assert "Shared by <@U0AGENT1>" in text_of(blocks)
    assert action_ids(blocks) == [ids.ACK, ids.ACK_WITH_REF, ids.OPEN_IN_COMMERCE_MANAGER]


def test_contact_blocks_reveal_contact_and_address(order: dict[str, Any]) -> None:
    blocks = contact_blocks(order)
    assert_within_limits(blocks)
    text = text_of(blocks)
    for value in (*PII, "Ada Lovelace", "Portland OR 97205"):
        assert value in text


@pytest.mark.parametrize(
    ("order", "expected"),
    [(FB_PROCESSING, "Meta shares none while an order is in its processing hold"), (DEFAULT_FIELDS_ONLY, "no contact")],
)
def test_contact_blocks_without_buyer_details_say_so(order: dict[str, Any], expected: str) -> None:
    blocks = contact_blocks(order)
    assert_within_limits(blocks)
    assert expected in text_of(blocks)


SUCCEEDED = AckStatus("succeeded", user_id="U0AGENT1", at=1_772_360_400.0, reference="SHOP-1042")
PENDING = AckStatus("pending", user_id="U0AGENT1", at=1_772_360_400.0)
FAILED = AckStatus("failed", user_id="U0AGENT1", message="The order was cancelled.")
RETRYABLE = AckStatus("retryable", user_id="U0AGENT1", message="Meta did not answer.")
CONTACT_SHARE = [ids.SHOW_CONTACT, ids.SHARE_IN_CHANNEL, ids.OPEN_IN_COMMERCE_MANAGER]


@pytest.mark.parametrize(
    ("state", "ack_key", "status", "expected"),
    [
        ("CREATED", KEY, None, [ids.ACK, ids.ACK_WITH_REF, *CONTACT_SHARE]),
        ("CREATED", None, None, CONTACT_SHARE),
        ("CREATED", KEY, PENDING, CONTACT_SHARE),
        ("CREATED", KEY, SUCCEEDED, CONTACT_SHARE),
        ("CREATED", KEY, FAILED, [ids.ACK, ids.ACK_WITH_REF, *CONTACT_SHARE]),
        ("CREATED", KEY, RETRYABLE, [ids.ACK_RETRY, *CONTACT_SHARE]),
        ("IN_PROGRESS", KEY, RETRYABLE, [ids.ACK_RETRY, *CONTACT_SHARE]),
        ("IN_PROGRESS", KEY, None, CONTACT_SHARE),
        ("COMPLETED", KEY, None, CONTACT_SHARE),
        ("FB_PROCESSING", KEY, None, CONTACT_SHARE),
    ],
)
def test_buttons_follow_state_and_ack_status(
    order: dict[str, Any], state: str, ack_key: str | None, status: AckStatus | None, expected: list[str]
) -> None:
    order["order_status"] = {"state": state}
    card = order_card(order, commerce_manager_url=CM, ack_key=ack_key, ack_status=status)
    notification = notification_card(order, ack_key=ack_key, commerce_manager_url=CM, ack_status=status)
    assert_within_limits(card)
    assert_within_limits(notification)
    assert action_ids(card) == expected
    assert action_ids(notification) == [a for a in expected if a not in (ids.SHOW_CONTACT, ids.SHARE_IN_CHANNEL)]
    for action_id in (ids.ACK, ids.ACK_WITH_REF, ids.ACK_RETRY):
        if action_id in expected:
            assert parse_ack_value(buttons(card)[action_id]["value"]) == ("7001234567890", KEY)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SUCCEEDED, "Acknowledged by <@U0AGENT1> at <!date^1772360400^{date_short_pretty} {time}|"),
        (SUCCEEDED, "· reference SHOP-1042"),
        (
            PENDING,
            ":hourglass_flowing_sand: <@U0AGENT1> is acknowledging this order… "
            "(started <!date^1772360400^{date_short_pretty} {time}|2026-03-01 10:20 UTC>)",
        ),
        (FAILED, "The acknowledgement failed: The order was cancelled."),
        (RETRYABLE, "did not go through yet: Meta did not answer. Retry sends the same request now."),
        (AckStatus("failed", message="<!channel> & co"), "failed: &lt;!channel&gt; &amp; co"),
        (
            AckStatus("succeeded", user_id="<!here>", reference="<@U1>"),
            "Acknowledged by &lt;!here&gt; · reference &lt;@U1&gt;",
        ),
    ],
)
def test_ack_status_line_on_card_and_as_answer(order: dict[str, Any], status: AckStatus, expected: str) -> None:
    card = order_card(order, commerce_manager_url=CM, ack_key=KEY, ack_status=status)
    answer = ack_status_blocks("7001234567890", status)
    for blocks in (card, answer):
        assert_within_limits(blocks)
        assert expected in text_of(blocks)


@pytest.mark.parametrize("builder", ORDER_BUILDERS)
@pytest.mark.parametrize(
    "sparse", [DEFAULT_FIELDS_ONLY, FB_PROCESSING, ODDLY_TYPED, {}], ids=["default", "fb", "odd", "empty"]
)
def test_sparse_orders_render(builder: str, sparse: dict[str, Any]) -> None:
    assert_within_limits(ORDER_BUILDERS[builder](sparse))
    assert_no_foreign_markup(notification_text(sparse))


def test_fb_processing_card_explains_the_hold() -> None:
    blocks = order_card(FB_PROCESSING, commerce_manager_url=CM, ack_key=KEY)
    assert STATE_WORDS["FB_PROCESSING"] in text_of(blocks)
    assert ids.ACK not in action_ids(blocks)


HOSTILE = "<!channel> <@U123> & <https://evil.example|click> "


@pytest.fixture
def hostile_order(order: dict[str, Any]) -> dict[str, Any]:
    """Every piece of text a buyer or seller could have typed is hostile, and some are 3,000 characters."""
    long = HOSTILE + "x" * 3000
    order["buyer_details"]["name"] = long
    order["merchant_order_id"] = HOSTILE
    order["shipping_address"]["city"] = long
    order["items"] = {"data": [{**item(n), "product_name": long, "retailer_id": long} for n in range(20)]}
    order["shipments"]["data"][0]["tracking_info"] = {"carrier": long, "tracking_number": long}
    order["cancellations"]["data"][0]["cancel_reason"] = {"reason_code": HOSTILE, "reason_description": long}
    order["refunds"]["data"][0]["refund_reason"] = {"reason_code": long}
    order["selected_shipping_option"]["name"] = long
    return order


@pytest.mark.parametrize("builder", ORDER_BUILDERS)
def test_hostile_text_comes_out_escaped_and_cut(hostile_order: dict[str, Any], builder: str) -> None:
    blocks = ORDER_BUILDERS[builder](hostile_order)
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;https://evil.example|click&gt;" in text
    assert "x" * 1000 not in text


def test_hostile_text_in_notification_text_and_change_summary(hostile_order: dict[str, Any]) -> None:
    before = copy.deepcopy(hostile_order)
    before["shipments"] = before["cancellations"] = {"data": []}
    for text in (notification_text(hostile_order), change_summary(before, hostile_order)):
        assert text is not None
        assert_no_foreign_markup(text)
        assert "&lt;" in text


def test_order_with_120_items_stays_within_limits(order: dict[str, Any]) -> None:
    order["items"] = {"data": [item(n) for n in range(120)]}
    card = order_card(order, commerce_manager_url=CM, ack_key=KEY)
    notification = notification_card(order, ack_key=KEY, commerce_manager_url=CM)
    assert_within_limits(card)
    assert_within_limits(notification)
    assert "*Items* (120)" in text_of(card)
    assert "Linen Throw Pillow 14 ·" in text_of(card)
    assert "Linen Throw Pillow 15 ·" not in text_of(card)
    assert "…and 105 more items" in text_of(card)
    assert (
        "120 items:\n• 2 × Linen Throw Pillow 0\n• 2 × Linen Throw Pillow 1\n• 2 × Linen Throw Pillow 2\n"
        "…and 117 more items\n"
    ) in text_of(notification)


def test_huge_order_edges_stay_within_limits(hostile_order: dict[str, Any]) -> None:
    hostile_order["items"]["data"] *= 50
    for name in ("shipments", "cancellations", "refunds"):
        hostile_order[name]["data"] = hostile_order[name]["data"] * 500
    assert_within_limits(order_card(hostile_order, commerce_manager_url=CM, ack_key=KEY, ack_status=RETRYABLE))


def test_notification_card_is_compact(order: dict[str, Any]) -> None:
    blocks = notification_card(order, ack_key=KEY, commerce_manager_url=CM)
    assert_within_limits(blocks)
    assert len(blocks) == 2
    text = text_of(blocks)
    for expected in (
        f"*Instagram order <{CM}orders/7001234567890|7001234567890>* · USD 80.99",
        "1 item:\n• 2 × Linen Throw Pillow 1\n",
        "Ship to Portland, US · ship by 2026-03-04",
        "State: Awaiting acknowledgement",
    ):
        assert expected in text
    assert "Ada" not in text


def test_notification_text(order: dict[str, Any]) -> None:
    assert notification_text(order) == (
        "Instagram order 7001234567890: Awaiting acknowledgement, 1 item, USD 80.99, ship to Portland, US"
    )


def test_card_metadata() -> None:
    assert card_metadata("7001234567890") == {
        "event_type": ids.ORDER_CARD_EVENT,
        "event_payload": {"order_id": "7001234567890"},
    }


def _with(order: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**order, **changes}


@pytest.mark.parametrize(
    ("before_changes", "after_changes", "expected"),
    [
        ({}, {}, None),
        ({"last_updated": "2026-03-01T10:00:00+00:00"}, {}, None),
        (
            {"order_status": {"state": "FB_PROCESSING"}},
            {"order_status": {"state": "CREATED"}},
            "Out of Meta's processing hold, awaiting acknowledgement",
        ),
        (
            {"merchant_order_id": None},
            {"order_status": {"state": "IN_PROGRESS"}, "merchant_order_id": "SHOP-1"},
            "Acknowledged (reference SHOP-1)",
        ),
        (
            {"merchant_order_id": None},
            {"order_status": {"state": "IN_PROGRESS"}, "merchant_order_id": None},
            "Acknowledged",
        ),
        ({"shipments": {"data": []}}, {}, "Shipped via UPS 1Z999AA1"),
        ({"cancellations": {"data": []}}, {}, "Cancelled: Out of stock"),
        ({"refunds": {"data": []}}, {}, "Refunded USD 12.00"),
        (
            {"order_status": {"state": "IN_PROGRESS"}, "shipments": {}},
            {"order_status": {"state": "COMPLETED"}},
            "Shipped via UPS 1Z999AA1; Completed",
        ),
        ({"refunds": {"data": []}}, {"refunds": {"data": [{"refund_amount": {"amount": "1"}}]}}, "Refunded 1.00"),
    ],
)
def test_change_summary(
    order: dict[str, Any], before_changes: dict[str, Any], after_changes: dict[str, Any], expected: str | None
) -> None:
    assert change_summary(_with(order, **before_changes), _with(order, **after_changes)) == expected


def test_change_summary_without_an_earlier_version(order: dict[str, Any]) -> None:
    assert change_summary(None, order) is None


def test_digest_message(order: dict[str, Any]) -> None:
    orders = [_with(order, id=str(7001234567000 + n)) for n in range(37)]
    blocks = digest_message(orders, digest_id="digest-1")
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert "*37 new orders* awaiting acknowledgement" in text
    assert "• 7001234567004 · Instagram · USD 80.99 · 1 item · Portland, US · ship by 2026-03-04" in text
    assert "7001234567005" not in text
    assert "…and 32 more orders" in text
    assert {a: b["value"] for a, b in buttons(blocks).items()} == {
        ids.DIGEST_LIST: "digest-1",
        ids.DIGEST_ACK_ALL: "digest-1",
    }
    assert "confirm" in buttons(blocks)[ids.DIGEST_ACK_ALL]


def test_digest_list_links_every_order(hostile_order: dict[str, Any]) -> None:
    orders = [_with(hostile_order, id=str(7001234567000 + n)) for n in range(300)]
    blocks = digest_list(orders, commerce_manager_url=CM)
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert f"<{CM}orders/7001234567099|7001234567099>" in text
    assert "…and 200 more orders" in text


def test_ack_reference_modal() -> None:
    view = ack_reference_modal("7001234567890", KEY)
    View(**view).validate_json()
    assert view["callback_id"] == ids.ACK_REF_MODAL
    assert parse_ack_value(view["private_metadata"]) == ("7001234567890", KEY)
    [input_block] = [b for b in view["blocks"] if b["type"] == "input"]
    assert input_block["block_id"] == ids.ACK_REF_BLOCK
    assert input_block["element"]["action_id"] == ids.ACK_REF_INPUT
    assert input_block["element"]["max_length"] == 64
    assert "initial_value" not in input_block["element"]
    assert view["submit"]["text"] == "Acknowledge"


def test_ack_reference_modal_with_error_and_initial_value() -> None:
    view = ack_reference_modal("7001234567890", KEY, error="SHOP-1 <!channel> is taken", initial="S" * 80)
    View(**view).validate_json()
    assert "SHOP-1 &lt;!channel&gt; is taken" in text_of(view["blocks"])
    [input_block] = [b for b in view["blocks"] if b["type"] == "input"]
    assert input_block["element"]["initial_value"] == "S" * 64


@pytest.mark.parametrize(
    ("owners", "other_workspace", "expected"),
    [
        (
            ["U0OWNER1", "S0ONCALL"],
            False,
            "You are not allowed to acknowledge orders; ask <@U0OWNER1>, <!subteam^S0ONCALL>.",
        ),
        ([], False, "ask a workspace admin."),
        (["<!channel>"], False, "ask &lt;!channel&gt;."),
        (["U0OWNER1"], True, "only be acknowledged by members of this workspace"),
    ],
)
def test_ack_not_allowed(owners: list[str], other_workspace: bool, expected: str) -> None:
    blocks = ack_not_allowed_blocks(owners, other_workspace=other_workspace)
    assert_within_limits(blocks)
    assert expected in text_of(blocks)


def test_ack_conflict() -> None:
    blocks = ack_conflict_blocks("7001234567890")
    assert_within_limits(blocks)
    assert "nothing was sent to Meta" in text_of(blocks)


def test_batch_results() -> None:
    results = [{"id": str(n), "state": "IN_PROGRESS", "merchant_order_reference": f"FB-{n}"} for n in range(150)]
    results += [{"id": "999", "error": {"error_code": 2361003, "error_message": "Invalid Order ID <!channel>"}}]
    blocks = batch_result_blocks(results[-3:] + results, user_id="U0AGENT1")
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert "*<@U0AGENT1> acknowledged 152 orders* · 152 of 154 acknowledged · 2 failed" in text
    assert ":x: 999 not acknowledged: Invalid Order ID &lt;!channel&gt; (2361003)" in text
    assert ":white_check_mark: 148 acknowledged · reference FB-148" in text
    assert "…and 94 more orders" in text


def test_batch_results_count_already_acknowledged_orders_as_done() -> None:
    results: list[dict[str, Any]] = [
        {"id": str(n), "already": {"by": "U0AGENT2", "reference": f"FB-{n}"}} for n in range(16)
    ]
    results.append({"id": "16", "already": {"by": None, "reference": None}})
    blocks = batch_result_blocks(results, user_id="U0AGENT1")
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert "*<@U0AGENT1> acknowledged 0 orders* · 17 of 17 acknowledged (17 already)" in text
    assert "• :white_check_mark: 3 already acknowledged by <@U0AGENT2> · reference FB-3" in text
    assert text.endswith("• :white_check_mark: 16 already acknowledged")
    assert ":x:" not in text
    assert "failed" not in text


def test_batch_results_when_nothing_was_pending() -> None:
    assert "No orders are awaiting acknowledgement" in text_of(batch_result_blocks([]))


def test_history(order: dict[str, Any]) -> None:
    rows: list[Any] = [
        AuditRow(n, 1_772_360_400.0 + n, "acknowledge_order", "7001234567890", "U0AGENT1", "T1", KEY, "succeeded", None)
        for n in range(100)
    ]
    rows.insert(
        0, {"at": 1_772_360_000, "action": "show_contact", "user_id": "U0AGENT2", "outcome": "shown", "detail": "<x>"}
    )
    blocks = history_blocks("7001234567890", rows)
    assert_within_limits(blocks)
    text = text_of(blocks)
    assert "*History of order 7001234567890*" in text
    assert (
        "<!date^1772360000^{date_short_pretty} {time}|2026-03-01 10:13 UTC> <@U0AGENT2> *Viewed contact* · &lt;x&gt;"
        in text
    )
    assert f"<@U0AGENT1> *Acknowledged* · key `{KEY}`" in text
    assert "…and 61 more entries" in text


def test_history_of_an_untouched_order() -> None:
    assert "No history for order 1" in text_of(history_blocks("1", []))


def test_help_blocks() -> None:
    blocks = help_blocks()
    assert_within_limits(blocks)
    text = text_of(blocks)
    for usage in ("/order <Facebook order ID>", "/order <merchant reference>", "at most 5", "/order history <id"):
        assert escape(usage) in text
    assert "/order help" in text
    assert "/order ack-pending" in text


def test_message_blocks() -> None:
    blocks = message_blocks("No order " + escape("<123>") + " on this Page. " + "x" * 4000)
    assert_within_limits(blocks)
    assert blocks[0]["text"]["text"].startswith("No order &lt;123&gt; on this Page. xxx")


START, END = "QZSTARTQZ", "QZENDQZ"
# (path into the order; an int steps into an edge's data list)
META_TEXT_FIELDS: list[tuple[str | int, ...]] = [
    ("id",),
    ("order_status", "state"),
    ("created",),
    ("channel",),
    ("merchant_order_id",),
    ("ship_by_date",),
    ("buyer_details", "name"),
    ("shipping_address", "city"),
    ("shipping_address", "country"),
    ("estimated_payment_details", "total_amount", "amount"),
    ("estimated_payment_details", "tax", "currency"),
    ("selected_shipping_option", "name"),
    ("selected_shipping_option", "estimated_shipping_time", "min_days"),
    ("items", 0, "product_name"),
    ("items", 0, "retailer_id"),
    ("items", 0, "quantity"),
    ("items", 0, "price_per_unit", "amount"),
    ("shipments", 0, "tracking_info", "carrier"),
    ("shipments", 0, "tracking_info", "tracking_number"),
    ("cancellations", 0, "cancel_reason", "reason_code"),
    ("cancellations", 0, "cancel_reason", "reason_description"),
    ("refunds", 0, "refund_reason", "reason_code"),
    ("refunds", 0, "refund_amount", "currency"),
]


def _set(order: dict[str, Any], path: tuple[str | int, ...], value: str) -> None:
    target: Any = order
    for step in path[:-1]:
        target = target["data"][step] if isinstance(step, int) else target[step]
    target[path[-1]] = value


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def assert_shown_escaped(rendered: str, text: str) -> None:
    """Every appearance of the marked text is its exact escaped form, or a prefix of it cut with "…"."""
    for segment in rendered.split(START)[1:]:
        body, found, _ = segment.partition(END)
        if not found:
            body = body.split("…")[0]
        assert not set(body) & set("<>"), body
        assert not re.search(r"&(?!amp;|lt;|gt;)", body), body
        shown = {_unescape(body), unquote(body)}  # unquote: the order id inside a Commerce Manager URL
        assert any(text == s if found else (text + END).startswith(s) for s in shown), (body, text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=400).filter(lambda t: "…" not in t and "QZ" not in t),
    paths=st.sets(st.sampled_from(META_TEXT_FIELDS), min_size=1, max_size=len(META_TEXT_FIELDS)),
)
def test_any_text_in_any_meta_field_is_escaped_and_within_limits(
    order: dict[str, Any], text: str, paths: set[tuple[str | int, ...]]
) -> None:
    hostile = copy.deepcopy(order)
    for path in paths:
        _set(hostile, path, START + text + END)
    before = copy.deepcopy(hostile)
    for edge in ("shipments", "cancellations", "refunds"):
        before[edge] = {"data": []}
    before["order_status"] = {"state": "CREATED"}
    for builder in ORDER_BUILDERS.values():
        blocks = builder(hostile)
        assert_within_limits(blocks)
        for rendered in strings(blocks):
            assert_shown_escaped(rendered, text)
    for plain_text in (notification_text(hostile), change_summary(before, hostile) or ""):
        assert_no_foreign_markup(plain_text)
        assert_shown_escaped(plain_text, text)


def test_the_old_module_still_offers_every_builder_from_its_new_home() -> None:
    """``bot.slack.views.blocks`` only re-exports: each name is the very object of its module per surface."""
    from bot.slack.views import blocks

    homes = {"bot.domain.acknowledgement", "bot.domain.text", "bot.slack.views.words"}
    homes |= {f"bot.slack.views.{m}" for m in ("acknowledge", "changes", "digest", "help", "history", "order_card")}
    homes |= {"bot.slack.views.reading"}
    for name in [*blocks.__all__, "ACKNOWLEDGED_STATES", "REASON_WORDS", "ack_pending_prompt"]:
        value = getattr(blocks, name)
        if callable(value) and not isinstance(value, re.Pattern):
            assert value.__module__ in homes, name
    assert blocks.order_card is order_card
    assert blocks.AckStatus is AckStatus
    assert blocks.MERCHANT_REF_PATTERN is MERCHANT_REF_PATTERN
