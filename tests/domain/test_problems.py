"""Graph failures in words (``bot.domain.problems``): one classification, words for agents, the ledger and admins.

The texts are the ones agents, cards and ``orderdesk doctor`` showed before they were written here once.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import problems
from bot.graph.client import (
    GraphError,
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    OrderStateError,
    RateLimitedError,
    TransientError,
)

ERRORS: list[tuple[GraphError, problems.Kind]] = [
    (NotFoundError("no such order", code=100, subcode=33), "not_found"),
    (InvalidTokenError("expired", code=190, fbtrace_id="A<b>"), "token"),
    (GraphPermissionError("missing permission", code=200, fbtrace_id=None), "permission"),
    (RateLimitedError("slow down", code=4, retry_after_seconds=61), "rate_limited"),
    (TransientError("timed out"), "transient"),
    (OrderStateError("cannot", code=2361009, user_message="Order <b>cancelled</b>"), "refused"),
    (IdempotencyConflictError("key reused", code=100), "refused"),
]


@pytest.mark.parametrize(("error", "kind"), ERRORS)
def test_every_graph_error_has_one_kind(error: GraphError, kind: problems.Kind) -> None:
    assert problems.kind_of(error) == kind
    assert problems.needs_admin(error) == (kind in ("token", "permission"))


def test_agent_words_say_what_to_do_and_escape_what_meta_sent() -> None:
    words = {kind: problems.for_agent(error, "SO-1", example="`/order 1`") for error, kind in ERRORS}
    assert (
        words["not_found"]
        == "No order SO-1 on this Page. Check the number, or try its merchant reference. Try `/order 1`."
    )
    assert "no longer valid" in words["token"]
    assert "trace A&lt;b&gt;" in words["token"]
    assert "lacks a permission" in words["permission"]
    assert "trace none" in words["permission"]
    assert words["rate_limited"] == "Meta is rate limiting us, try again in about 2 minutes."
    assert words["transient"] == "Meta did not answer while I looked up SO-1, try again."
    assert words["refused"] == "Meta could not look up SO-1: key reused (Graph error 100)."
    refused = problems.for_agent(ERRORS[5][0], "SO-1", example="")
    assert "Order &lt;b&gt;cancelled&lt;/b&gt;" in refused


def test_a_rate_limit_without_a_wait_says_a_few_minutes() -> None:
    words = problems.for_agent(RateLimitedError("slow down"), "1", example="")
    assert words == "Meta is rate limiting us, try again in a few minutes."


@pytest.mark.parametrize(
    ("seconds", "words"), [(0, "1 minute"), (60, "1 minute"), (61, "2 minutes"), (3600, "60 minutes")]
)
def test_minutes_round_up_and_never_say_zero(seconds: float, words: str) -> None:
    assert problems.minutes(seconds) == words


def test_the_ledger_keeps_graphs_numbers_and_the_best_words() -> None:
    error = OrderStateError("cannot", code=2361009, subcode=7, user_message="Order cancelled")
    record = {"type": "OrderStateError", "code": 2361009, "subcode": 7, "message": "Order cancelled"}
    assert problems.for_ledger(error) == record
    assert problems.for_ledger(error, "Better words.") == {**record, "message": "Better words."}
    assert problems.for_ledger(TransientError("timed out"))["message"] == "timed out"


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (
            {"order_status": {"state": "IN_PROGRESS"}, "merchant_order_id": "SHOP-1"},
            "It was already acknowledged outside orderdesk (reference SHOP-1).",
        ),
        ({"order_status": {"state": "IN_PROGRESS"}}, "It was already acknowledged outside orderdesk (reference none)."),
        (
            {"order_status": {"state": "FB_PROCESSING"}},
            "The order is still in Meta's processing hold; it cannot be acknowledged yet.",
        ),
        ({"order_status": {"state": "COMPLETED"}}, "The order is already completed."),
        ({"order_status": {"state": "CREATED"}}, None),
        ({}, None),
    ],
)
def test_a_refusal_is_explained_by_the_state_the_order_is_in(order: dict[str, Any], words: str | None) -> None:
    assert problems.refused_words(order) == words


@pytest.mark.parametrize(("error", "kind"), ERRORS)
def test_admins_get_the_step_that_fixes_it(error: GraphError, kind: problems.Kind) -> None:
    fix = problems.for_admin(error, graph_url="https://graph.example", graph_version="v99.0")
    expected = {
        "token": "set FB_PAGE_ACCESS_TOKEN",
        "permission": "give the system user EDITOR",
        "not_found": "check FB_PAGE_ID",
    }.get(kind, "check FB_GRAPH_URL (https://graph.example) and FB_GRAPH_VERSION (v99.0)")
    assert expected in fix
