"""The pure parsers behind ``/order`` and the "Look up order" shortcut."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.lookup.query import MAX_QUERIES, Query, QueryError, find_in_message, parse_order_id, parse_query


def ids(*values: str) -> list[Query]:
    return [Query("id", v) for v in values]


def refs(*values: str) -> list[Query]:
    return [Query("reference", v) for v in values]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7001234567890", ids("7001234567890")),
        ("  7001234567890  ", ids("7001234567890")),
        ("1234567890", ids("1234567890")),  # 10 digits: the shortest ID
        ("12345678901234567890", ids("12345678901234567890")),  # 20 digits: the longest
        ("123456789", refs("123456789")),  # shorter: a shop's own all-digit number
        ("123456789012345678901", refs("123456789012345678901")),
        ("SHOP-1042", refs("SHOP-1042")),
        ("shop-1042", refs("shop-1042")),  # case kept: matching decides about case
        ("SO/2024/17", refs("SO/2024/17")),
        ("A.B_C#1-2", refs("A.B_C#1-2")),
        ("`SO-1`", refs("SO-1")),
        ('"SO-1"', refs("SO-1")),
        ("7001234567890 7001234567891", ids("7001234567890", "7001234567891")),
        ("7001234567890,7001234567891", ids("7001234567890", "7001234567891")),
        ("7001234567890, SO-1 ,\t7001234567891", [*ids("7001234567890"), *refs("SO-1"), *ids("7001234567891")]),
        ("7001234567890 7001234567890", ids("7001234567890")),  # repeats are looked up once
        (" ".join(str(7001234567890 + n) for n in range(5)), ids(*(str(7001234567890 + n) for n in range(5)))),
        ("x" * 64, refs("x" * 64)),
    ],
)
def test_parse_query_accepts(text: str, expected: list[Query]) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Tell me which order"),
        (" , ,", "Tell me which order"),
        ("SO 1042!", "`1042!` is neither"),
        ("-SO-1", "`-SO-1` is neither"),
        ("x" * 65, "is neither"),
        ("<!channel>", "`&lt;!channel&gt;` is neither"),
        ("a`b`c!", "`a'b'c!` is neither"),
        (" ".join(str(7001234567890 + n) for n in range(6)), f"That is 6 orders; I look up at most {MAX_QUERIES}"),
    ],
)
def test_parse_query_refuses_with_a_reason_and_an_example(text: str, reason: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_query(text)
    assert reason in str(refused.value)
    assert "`/order 7001234567890`" in str(refused.value)


def test_a_refused_word_is_shown_clipped() -> None:
    with pytest.raises(QueryError) as refused:
        parse_query("!" * 5000)
    assert len(str(refused.value)) < 400


def outcome(text: str) -> str | list[Query]:
    try:
        return parse_query(text)
    except QueryError as refused:
        return str(refused)


@given(st.text(max_size=300))
def test_parse_query_either_parses_or_refuses_and_never_echoes_markup(text: str) -> None:
    result = outcome(text)
    if isinstance(result, str):
        assert "<" not in result
        assert ">" not in result
    else:
        assert 1 <= len(result) <= MAX_QUERIES


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"text": "buyer asks about 7001234567890, thanks"}, ids("7001234567890")),
        ({"text": "order SO-1042."}, refs("SO-1042")),
        ({"text": "(FB-7001234567890)"}, refs("FB-7001234567890")),
        (
            {"text": "see <https://www.facebook.com/commerce_manager/orders/7001234567890|the order>"},
            ids("7001234567890"),
        ),
        ({"text": "<https://shop.example/o/SO-770|SO-770> please"}, refs("SO-770")),
        ({"text": "hi <@U0AGENT1> and <!channel>, ping <#C0ORDERS|orders>"}, []),
        ({"text": "2 items at 19.99 each, order 1042, v2 of the app"}, []),  # no order-number-like words
        ({"text": "7001234567890 and again 7001234567890"}, ids("7001234567890")),
        (
            {
                "text": "",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Order 7001234567890"}},
                    {"type": "rich_text", "elements": [{"type": "text", "text": "ref SO-1042"}]},
                    {"type": "actions", "elements": [{"type": "button", "value": '{"o":"1","k":"abc123def456"}'}]},
                ],
                "attachments": [{"pretext": "from the shop", "title": "SO-2001", "text": "7009999999999"}],
            },
            [*ids("7001234567890"), *refs("SO-1042"), *refs("SO-2001"), *ids("7009999999999")],
        ),
        ({}, []),
    ],
)
def test_find_in_message(message: dict[str, Any], expected: list[Query]) -> None:
    assert find_in_message(message) == expected


def test_find_in_message_finds_more_than_five_and_leaves_the_cap_to_the_caller() -> None:
    text = " ".join(str(7001234567890 + n) for n in range(7))
    assert len(find_in_message({"text": text})) == 7


@pytest.mark.parametrize("value", ["7001234567890", "1234567890"])
def test_parse_order_id_accepts_ids(value: str) -> None:
    assert parse_order_id(value) == value


@pytest.mark.parametrize("value", ["", "123", "SO-1", "7001234567890 ", "../me", "None"])
def test_parse_order_id_refuses_anything_else(value: str) -> None:
    with pytest.raises(QueryError, match="not a Facebook order ID"):
        parse_order_id(value)


def test_ref_reads_every_word_as_a_reference_even_all_digits() -> None:
    assert parse_query("12345678901", references=True) == refs("12345678901")
    assert parse_query("12345678901") == ids("12345678901")
    assert parse_query("pending, SO-1", references=True) == refs("pending", "SO-1")
    with pytest.raises(QueryError):
        parse_query("a<b", references=True)
