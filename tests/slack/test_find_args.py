"""What ``/order find`` understands, and that its words never repeat what was searched for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.lookup.export import DAY_SECONDS
from bot.lookup.find import FindRequest
from bot.slack.find import RELAY_NOTE, FindUsage, find_summary, parse_find


@pytest.mark.parametrize(
    ("text", "kind", "query", "days"),
    [
        ("ana@example.com", "email", "ana@example.com", 14),
        ("  Ana Díaz since:30d", "name", "Ana Díaz", 30),
        ("+1 555 0142 SINCE:2d", "phone", "+1 555 0142", 2),
        ("ana since:90d", "name", "ana", 90),
    ],
)
def test_a_query_and_its_window(text: str, kind: str, query: str, days: int) -> None:
    assert parse_find(text) == FindRequest(kind=kind, text=query, since_seconds=days * DAY_SECONDS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Tell me a buyer's email"),
        ("since:7d", "Tell me a buyer's email"),
        ("ana since:1y", "a duration such as"),
        ("ana since:91d", "90 days at most"),
        ("ana since:0d", "more than nothing"),
        ("555-01", "Tell me a buyer's email"),
    ],
)
def test_bad_arguments_say_what_is_wrong_and_how_to_write_them(text: str, words: str) -> None:
    with pytest.raises(FindUsage) as raised:
        parse_find(text)
    assert words in str(raised.value)
    assert "Usage: `/order find" in str(raised.value)


@given(st.text(max_size=200))
def test_any_text_is_a_request_or_words(text: str) -> None:
    try:
        request = parse_find(text)
    except FindUsage:
        return
    assert request.text
    assert request.kind in {"email", "phone", "name"}


def test_the_summary_has_one_shape_and_never_the_query() -> None:
    request = FindRequest(kind="email", text="ana@example.com", since_seconds=14 * DAY_SECONDS)
    none, one, many = find_summary(request, 0, 0), find_summary(request, 1, 1), find_summary(request, 9, 4)
    assert none.startswith("No order updated in the last 14d has a buyer with that email.")
    assert one.startswith("1 order updated in the last 14d matched that email.")
    assert "the 4 most recently updated are shown" in many
    for summary in (none, one, many):
        assert summary.endswith(RELAY_NOTE)
        assert "ana" not in summary
