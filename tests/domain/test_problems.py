"""Graph failures in words (``bot.domain.problems``): one classification, words for agents, the ledger and admins.

The texts are the ones agents, cards and ``orderdesk doctor`` showed before they were written here once.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.domain import problems
from bot.graph.client import (
    GraphClient,
    GraphError,
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    OrderStateError,
    RateLimitedError,
    TransientError,
)
from bot.graph.errors import error_from_response
from bot.sandbox.graph import GraphSandbox

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


# Every number of section 11.3 of orderdesk's Order Management API reference (Meta's Error Codes page, plus 2361003
# from the acknowledgement page and 2361126 from the onboarding page), copied here on purpose: the table must
# cover each of them, and nothing the reference does not list.
SECTION_11_3 = (
    (2361009, "stop"),
    (2361003, "stop"),
    (2361081, "retry"),
    (2361050, "retry"),
    (1818111, "stop"),
    (1818015, "stop"),
    (1818050, "stop"),
    (1818048, "stop"),
    (1818049, "stop"),
    (1818214, "stop"),
    (1818215, "stop"),
    (1818105, "stop"),
    (1818107, "stop"),
    (2361076, "retry"),
    (2382021, "fix"),
    (2382324, "fix"),
    (2361091, "fix"),
    (2382030, "fix"),
    (2382325, "fix"),
    (2382023, "fix"),
    (2382022, "fix"),
    (2382326, "fix"),
    (2382319, "stop"),
    (2382323, "stop"),
    (2361084, "fix"),
    (2361086, "fix"),
    (2382045, "fix"),
    (2361357, "fix"),
    (2382322, "fix"),
    (2361126, "stop"),
    (2382052, "stop"),
    (2361163, "stop"),
)


def test_the_table_covers_exactly_the_codes_of_the_reference() -> None:
    assert len(SECTION_11_3) == 32
    assert set(problems.COMMERCE_PROBLEMS) == {code for code, _ in SECTION_11_3}


@pytest.mark.parametrize(("code", "action"), SECTION_11_3)
def test_every_commerce_code_has_words_and_a_class(code: int, action: str) -> None:
    problem = problems.COMMERCE_PROBLEMS[code]
    assert problem.code == code
    assert problem.action == action
    assert problem.words[0].isupper()
    assert problem.words.endswith(".")
    assert not {"<", ">", "&", "`", "*"} & set(problem.words)  # plain words: safe in mrkdwn as they are
    assert str(code) not in problem.words  # words, not numbers


def _response(status: int, envelope: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json={"error": envelope}, request=httpx.Request("POST", "https://graph.test/x"))


@pytest.mark.parametrize(("code", "action"), SECTION_11_3)
@pytest.mark.parametrize("where", ["error_subcode", "code"])
def test_every_code_is_reachable_from_a_graph_error(code: int, action: str, where: str) -> None:
    """Magento reads these numbers from ``error_subcode``, WooCommerce from ``code``: both lead to the table."""
    envelope: dict[str, Any] = {"message": "(#100) refused", "type": "OAuthException", "code": 100}
    envelope[where] = code
    error = error_from_response(_response(400, envelope), {"error": envelope}, lambda text: text)
    assert error.commerce_code == code
    assert problems.commerce_problem(error) == problems.COMMERCE_PROBLEMS[code]
    assert problems.action_of(error) == action


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (TransientError("timed out"), "retry"),
        (RateLimitedError("slow down", code=80001), "retry"),
        (GraphError("(#100) Param tracking_info[carrier] must be ...", code=100), "fix"),
        (GraphError("(#100) odd", code=100, subcode=1234), "stop"),
        (IdempotencyConflictError("key reused", code=100, subcode=9000001), "stop"),
        (InvalidTokenError("expired", code=190), "stop"),
        (GraphPermissionError("missing", code=200), "stop"),
        (NotFoundError("gone", code=100, subcode=33), "stop"),
        (OrderStateError("pending", code=100, subcode=2361081), "retry"),
    ],
)
def test_every_graph_failure_has_a_class(error: GraphError, action: str) -> None:
    assert problems.action_of(error) == action


def test_the_sandboxes_own_conflict_subcode_is_not_a_commerce_code() -> None:
    error = IdempotencyConflictError("key reused", code=100, subcode=9000001)
    assert error.commerce_code is None
    assert problems.commerce_problem(error) is None


def test_a_real_refusal_from_the_sandbox_reaches_the_table() -> None:
    """Over the Graph client, the sandbox's answer to a reused tracking number is 2382045, in words, to fix."""
    sandbox = GraphSandbox(orders=0)
    order_id = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}])["id"]
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test") as http:
        graph = GraphClient(http, page_id=sandbox.page_id, token=sandbox.token)
        item = sandbox.order(order_id)["items"]["data"][0]["id"]
        tracking = {"carrier": "UPS", "tracking_number": "1Z9"}
        graph.create_shipment(order_id, "s1", tracking_info=tracking, items=[{"item_id": item, "quantity": 1}])
        with pytest.raises(GraphError) as caught:
            graph.create_shipment(order_id, "s2", tracking_info=tracking, items=[{"item_id": item, "quantity": 1}])
    problem = problems.commerce_problem(caught.value)
    assert problem is not None
    assert (problem.code, problem.action) == (2382045, "fix")
    assert "tracking number" in problem.words
