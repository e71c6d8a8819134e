"""What ``/order find`` understands, and that its words never repeat what was searched for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.graph.errors import RateLimitedError
from bot.lookup.export import DAY_SECONDS
from bot.lookup.find import FindRequest, FindResult, Scanned
from bot.slack.find import (
    PROGRESS_AFTER_SECONDS,
    PROGRESS_AT_SECONDS,
    PROGRESS_UPDATES,
    RELAY_NOTE,
    RESPONSE_URL_POSTS,
    WAITING,
    FindUsage,
    ScanProgress,
    find_summary,
    parse_find,
    span_words,
)


@pytest.mark.parametrize(
    ("text", "kind", "query", "days"),
    [
        ("ana@example.com", "email", "ana@example.com", 14),
        ("  Ana Díaz since:30d", "name", "Ana Díaz", 30),
        ("+1 555 0142 SINCE:2d", "phone", "+1 555 0142", 2),
        ("ana since:90d", "name", "ana", 90),
        ("since:7d Ana Diaz", "name", "Ana Diaz", 7),
        ("Ana since:3d Diaz", "name", "Ana Diaz", 3),
        ("Since:2d ana@example.com", "email", "ana@example.com", 2),
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
        ("since:7d ana since:3d", "given twice"),
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


def _result(matches: int, *, indexed: float = 0, read: float = 0, pages: int = 0, **more: Any) -> FindResult:
    scanned = Scanned(indexed_seconds=indexed, seconds=read, pages=pages, **more)
    return FindResult([str(7000 + n) for n in range(matches)], 14 * DAY_SECONDS, scanned)


def test_the_summary_has_one_shape_and_never_the_query() -> None:
    none = find_summary(_result(0, indexed=14 * DAY_SECONDS), "email", 0)
    one = find_summary(_result(1, indexed=14 * DAY_SECONDS), "email", 1)
    many = find_summary(_result(9, indexed=14 * DAY_SECONDS), "email", 4)
    assert none.startswith("No order updated in the last 14 days has a buyer with that email.")
    assert one.startswith("1 order updated in the last 14 days matched that email.")
    assert "the 4 most recently updated are shown" in many
    assert "14d" not in none + one + many  # one spelling of the window in one answer
    for summary in (none, one, many):
        assert summary.endswith(RELAY_NOTE)
        assert "ana" not in summary
        assert "Searched orders updated in the last 14 days: 14 days from orderdesk's index." in summary


def test_the_summary_says_how_much_came_from_the_index_and_how_much_from_meta() -> None:
    split = find_summary(_result(1, indexed=12 * DAY_SECONDS, read=2 * DAY_SECONDS, pages=3), "name", 1)
    assert (
        "Searched orders updated in the last 14 days: 12 days from orderdesk's index, 2 days read from Meta just "
        "now (3 pages)." in split
    )
    rekeyed = find_summary(_result(0, read=14 * DAY_SECONDS, pages=1, rekeyed=True), "name", 0)
    assert "14 days read from Meta just now (1 page). (The search key changed since the last search" in rekeyed
    recent = find_summary(_result(0, indexed=14 * DAY_SECONDS - 40), "name", 0)
    assert "14 days from orderdesk's index, the last 40 seconds from the index alone" in recent


def test_a_failed_read_of_meta_says_what_was_not_searched_and_why() -> None:
    error = RateLimitedError("(#80001) too many calls", code=80001, retry_after_seconds=300)
    summary = find_summary(
        _result(0, indexed=10 * DAY_SECONDS, read=DAY_SECONDS, pages=2, missed_seconds=3 * DAY_SECONDS, error=error),
        "email",
        0,
    )
    assert "1 day read from Meta just now (2 pages), 3 days not searched: Meta is rate limiting orderdesk" in summary
    assert "5 minutes" in summary


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (14 * DAY_SECONDS, "14 days"),
        (DAY_SECONDS, "1 day"),
        (36 * 3600, "36 hours"),
        (150, "2 minutes"),
        (1, "1 second"),
    ],
)
def test_spans_in_words(seconds: float, words: str) -> None:
    assert span_words(seconds) == words


def test_progress_waits_a_few_seconds_then_replaces_itself_at_a_pace() -> None:
    posts: list[dict[str, Any]] = []
    now = [100.0]
    progress = ScanProgress(lambda **post: posts.append(post), lambda: now[0])
    progress(1)
    now[0] += PROGRESS_AFTER_SECONDS - 0.1
    progress(2)
    assert posts == []
    assert not progress.replace_next
    now[0] += 0.2
    progress(3)
    progress(4)  # too soon after the last
    for number, at in enumerate(PROGRESS_AT_SECONDS[1:], start=5):
        now[0] = 100.0 + at
        progress(number)
    now[0] += 600
    progress(90)  # no more: the answer keeps the response URL's last post
    assert [(post["text"], post["replace_original"]) for post in posts] == [
        ("Searching Meta: page 3…", False),
        ("Searching Meta: page 5…", True),
        ("Searching Meta: page 6…", True),
        ("Searching Meta: page 7…", True),
    ]
    assert progress.updates == PROGRESS_UPDATES == RESPONSE_URL_POSTS - 1
    assert progress.posts_left == 1
    assert progress.replace_next


def test_a_search_waiting_for_another_says_so_from_the_same_posts() -> None:
    posts: list[dict[str, Any]] = []
    now = [100.0]
    progress = ScanProgress(lambda **post: posts.append(post), lambda: now[0])
    now[0] += PROGRESS_AFTER_SECONDS
    progress.waiting()
    progress(1)  # the next post waits for its own moment
    now[0] = 100.0 + PROGRESS_AT_SECONDS[1]
    progress(2)
    assert [(post["text"], post["replace_original"]) for post in posts] == [
        (WAITING, False),
        ("Searching Meta: page 2…", True),
    ]
    assert progress.posts_left == RESPONSE_URL_POSTS - 2


def test_a_search_that_could_not_wait_longer_says_what_it_did_not_search() -> None:
    result = FindResult(
        [], 14 * DAY_SECONDS, Scanned(indexed_seconds=4 * DAY_SECONDS, missed_seconds=10 * DAY_SECONDS, busy=True)
    )
    words = find_summary(result, "email", 0)
    assert "4 days from orderdesk's index" in words
    assert "10 days not searched: another search was still reading Meta" in words
