"""Four-eyes refunds without Slack: the approval service over a real store and the Graph sandbox in process, with a
board that records what would be posted and told.

Self-approval and approvers not allowed to refund are refused; of ten concurrent Approve clicks one sends, once;
Decline and expiry tell the requester; an order that changed meanwhile is refused in words; an approval whose
process died is resumed by the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from service_settings import service_settings

from bot.actions.answers import Answer, NotAllowed, Requester
from bot.actions.approvals import (
    Approval,
    ApprovalBusy,
    ApprovalClosed,
    ApprovalConflict,
    ApprovalEnded,
    ApprovalNews,
    ApprovalNotPossible,
    ApprovalService,
    AwaitingApproval,
    OwnRequest,
    Person,
    RefundSent,
)
from bot.actions.ledger import Ledger
from bot.actions.operation import Actor, Request
from bot.actions.permissions import Permissions
from bot.actions.refund import REFUND_ACTION
from bot.actions.runner import Runner
from bot.actions.status import AckStatus
from bot.domain.remaining import ItemAsk, RefundAsk, RefundPreview, check_refund, remaining
from bot.graph.client import ORDER_CARD_FIELDS, GraphClient
from bot.sandbox.graph import GraphSandbox
from bot.storage.sqlite.store import Card, Store

KEY = "0123456789abcdef0123456789abcdef"
REQUESTER = "U0ASKER"
APPROVERS = tuple(f"U0BOSS{n}" for n in range(10))


class Quiet:
    def order_changed(
        self, order: Mapping[str, Any], cards: Sequence[Card], status: AckStatus, key: str | None
    ) -> list[Card]:
        return list(cards)

    def tell(self, requester: Requester, answer: Answer) -> None:
        pass


class Board:
    """Records posts, redraws and what each person was told."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, Approval]] = []
        self.shown: list[tuple[Approval, AckStatus | None]] = []
        self.told: list[tuple[Person, ApprovalNews]] = []
        self.fail_posts = False
        self.shared: set[str] = set()
        self._lock = threading.Lock()

    def post_request(self, channel: str, approval: Approval) -> str | None:
        if self.fail_posts:
            return None
        with self._lock:
            self.posted.append((channel, approval))
        return f"9.{len(self.posted):06d}"

    def show_request(self, approval: Approval, status: AckStatus | None = None) -> None:
        with self._lock:
            self.shown.append((approval, status))

    def tell(self, person: Person, news: ApprovalNews) -> None:
        with self._lock:
            self.told.append((person, news))

    def shared_channel(self, channel: str) -> bool:
        return channel in self.shared

    def news_for(self, user_id: str) -> list[ApprovalNews]:
        return [news for person, news in self.told if person.user_id == user_id]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="graph")
def graph_fixture(sandbox: GraphSandbox) -> Iterator[GraphClient]:
    with GraphClient.from_settings(service_settings(sandbox), transport=sandbox.transport()) as graph:
        yield graph


@pytest.fixture(name="board")
def board_fixture() -> Board:
    return Board()


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


def service(
    graph: GraphClient, store: Store, board: Board, clock: Clock, *, channel: str | None = None
) -> ApprovalService:
    ledger = Ledger(store, clock=clock)
    runner = Runner(graph, store, ledger, Quiet(), [REFUND_ACTION])
    return ApprovalService(
        graph,
        store,
        runner=runner,
        board=board,
        permissions=Permissions((REQUESTER, *APPROVERS), store),
        over=Decimal("100.00"),
        channel=channel,
        ttl_seconds=24 * 3600,
        clock=clock,
    )


def shipped(sandbox: GraphSandbox, graph: GraphClient) -> dict[str, Any]:
    placed = sandbox.add_order(
        state="IN_PROGRESS",
        items=[{"quantity": 3, "price_per_unit": {"amount": "60.00", "currency": "USD"}}],
    )
    item = placed["items"]["data"][0]["id"]
    graph.create_shipment(
        placed["id"],
        "ship1",
        items=[{"item_id": item, "quantity": 3}],
        tracking_info={"carrier": "UPS", "tracking_number": "1Z"},
    )
    return graph.get_order(placed["id"], ORDER_CARD_FIELDS)


def preview(order: Mapping[str, Any], quantity: int = 2) -> RefundPreview:
    item = order["items"]["data"][0]["id"]
    checked = check_refund(
        remaining(order), RefundAsk("DAMAGED_GOODS", "Sorry", {item: ItemAsk(quantity=str(quantity))})
    )
    assert isinstance(checked, RefundPreview)
    return checked


def asked(order_id: str, *, channel: str = "C0ORDERS", user: str = REQUESTER, key: str = KEY) -> Request:
    return Request(
        order_id=order_id,
        key=key,
        user_id=user,
        user_team_id="T0SANDBOX",
        workspace_id="T0SANDBOX",
        channel_id=channel,
        message_ts="1.000100",
        ephemeral=False,
        response_url=None,
    )


def actor(user: str) -> Actor:
    return Actor(user, "T0SANDBOX", "T0SANDBOX")


def refund_posts(sandbox: GraphSandbox) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls() if c["method"] == "POST" and c["path"].endswith("/refunds")]


def test_only_a_total_strictly_over_the_setting_needs_approval(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    assert not approvals.needs_approval(preview(order, 1))  # USD 60.00
    fixed = check_refund(
        remaining(order), RefundAsk("WRONG_ITEM", items={order["items"]["data"][0]["id"]: ItemAsk(amount="100")})
    )
    assert isinstance(fixed, RefundPreview)
    assert not approvals.needs_approval(fixed)  # equal is not over
    assert approvals.needs_approval(preview(order, 2))  # USD 120.00


def test_a_request_is_posted_once_per_intent_and_a_different_refund_on_the_same_key_is_refused(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    first = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(first, AwaitingApproval)
    assert (first.approval.channel, first.approval.state, first.approval.total) == ("C0ORDERS", "pending", "USD 120.00")
    again = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(again, AwaitingApproval)
    assert again.again
    assert again.approval.id == first.approval.id
    other = approvals.ask(asked(order["id"]), preview(order, 3))
    assert isinstance(other, ApprovalConflict)
    assert len(board.posted) == 1
    assert refund_posts(sandbox) == []
    audit = [(row.outcome, row.user_id) for row in store.audit_for_order(order["id"])]
    assert ("requested", REQUESTER) in audit


def test_requests_are_never_asked_in_a_dm_or_a_slack_connect_channel_unless_a_channel_is_set(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    order = shipped(sandbox, graph)
    approvals = service(graph, store, board, clock)
    in_dm = approvals.ask(asked(order["id"], channel="D0DIRECT"), preview(order))
    assert isinstance(in_dm, ApprovalNotPossible)
    assert "direct message" in in_dm.words
    assert "ORDERDESK_APPROVAL_CHANNEL" in in_dm.words
    board.shared.add("C0PARTNER")
    shared = approvals.ask(asked(order["id"], channel="C0PARTNER", key="k" * 32), preview(order))
    assert isinstance(shared, ApprovalNotPossible)
    assert "Slack Connect" in shared.words
    assert board.posted == []
    configured = service(graph, store, board, clock, channel="C0APPROVE")
    from_dm = configured.ask(asked(order["id"], channel="D0DIRECT"), preview(order))
    assert isinstance(from_dm, AwaitingApproval)
    assert board.posted[0][0] == "C0APPROVE"


def test_the_requester_cannot_approve_their_own_and_only_refunders_may_approve(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    approvals.approve(answer.approval.id, actor(REQUESTER), Person(REQUESTER, "C0ORDERS"))
    approvals.approve(answer.approval.id, actor("U0STRANGER"), Person("U0STRANGER", "C0ORDERS"))
    guest = Actor("U0GUEST", "T0OTHER", "T0SANDBOX")
    approvals.approve(answer.approval.id, guest, Person("U0GUEST", "C0ORDERS"))
    assert [type(news) for news in board.news_for(REQUESTER)] == [OwnRequest]
    assert [type(news) for news in board.news_for("U0STRANGER")] == [NotAllowed]
    assert [type(news) for news in board.news_for("U0GUEST")] == [NotAllowed]
    assert refund_posts(sandbox) == []
    still = approvals.get(answer.approval.id)
    assert still is not None
    assert still.state == "pending"


def test_of_ten_concurrent_approvals_one_sends_the_refund_once(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    start = threading.Barrier(len(APPROVERS))

    def click(user: str) -> None:
        start.wait()
        approvals.approve(answer.approval.id, actor(user), Person(user, "C0APPROVE"))

    threads = [threading.Thread(target=click, args=(user,)) for user in APPROVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (post,) = refund_posts(sandbox)
    assert post["status"] == 200
    assert post["idempotency_key"] == KEY
    done = approvals.get(answer.approval.id)
    assert done is not None
    assert done.state == "sent"
    assert done.decided_by in APPROVERS
    sent_news = [news for _, news in board.told if isinstance(news, RefundSent)]
    assert {news.status.state for news in sent_news} == {"succeeded"}
    assert isinstance(board.news_for(REQUESTER)[-1], RefundSent)
    closed = [news for user in APPROVERS if user != done.decided_by for news in board.news_for(user)]
    assert len(closed) == len(APPROVERS) - 1
    assert all(isinstance(news, ApprovalClosed) for news in closed)
    assert board.shown[-1][0].state == "sent"
    refunds = sandbox.order(order["id"])["refunds"]["data"]
    assert [line["quantity"] for line in refunds[0]["items"]["data"]] == [2]


def test_decline_tells_the_requester_and_ends_the_request(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    approvals.decline(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0ORDERS"))
    approvals.approve(answer.approval.id, actor("U0BOSS2"), Person("U0BOSS2", "C0ORDERS"))
    told = board.news_for(REQUESTER)
    assert len(told) == 1
    assert isinstance(told[0], ApprovalEnded)
    assert (told[0].approval.state, told[0].approval.decided_by) == ("declined", "U0BOSS1")
    assert isinstance(board.news_for("U0BOSS2")[0], ApprovalClosed)
    assert board.shown[-1][0].state == "declined"
    assert refund_posts(sandbox) == []


def test_requests_expire_after_their_time_and_cannot_be_approved_then(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    clock.now += 24 * 3600 - 1
    assert approvals.expire_due() == 0
    clock.now += 1
    approvals.approve(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0ORDERS"))  # too late
    closed = board.news_for("U0BOSS1")
    assert isinstance(closed[0], ApprovalClosed)
    assert closed[0].approval.state == "expired"
    assert approvals.expire_due() == 0  # ended once, by whoever came first
    told = board.news_for(REQUESTER)
    assert len(told) == 1
    assert isinstance(told[0], ApprovalEnded)
    assert board.shown[-1][0].state == "expired"
    assert refund_posts(sandbox) == []


def test_an_order_that_changed_meanwhile_is_refused_in_words_and_nothing_is_sent(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    item = order["items"]["data"][0]["id"]
    graph.refund_order(
        order["id"], "elsewhere", reason_code="WRONG_ITEM", items=[{"item_id": item, "item_refund_quantity": 2}]
    )
    approvals.approve(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0ORDERS"))
    ended = approvals.get(answer.approval.id)
    assert ended is not None
    assert ended.state == "declined"
    assert (
        ended.detail == "The order changed since the request: At most 1 unit can be refunded (3 shipped, 2 refunded)."
    )
    assert isinstance(board.news_for(REQUESTER)[-1], ApprovalEnded)
    assert isinstance(board.news_for("U0BOSS1")[-1], ApprovalEnded)
    assert [post["idempotency_key"] for post in refund_posts(sandbox)] == ["elsewhere"]


def test_another_refund_in_between_changes_the_order_even_when_this_one_still_fits(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    item = order["items"]["data"][0]["id"]
    graph.refund_order(
        order["id"], "elsewhere", reason_code="WRONG_ITEM", items=[{"item_id": item, "item_refund_quantity": 1}]
    )
    approvals.approve(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0ORDERS"))
    ended = approvals.get(answer.approval.id)
    assert ended is not None
    assert (ended.state, ended.detail) == (
        "declined",
        "The order changed since the request: another refund was made. Check the order and ask again.",
    )


def test_an_approval_whose_process_died_is_sent_by_the_worker(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    # Approved, then the process died before anything was claimed.
    store.approval_move(answer.approval.id, from_state="pending", to_state="approved", now=clock.now, user_id="U0BOSS1")
    approvals.work()
    assert refund_posts(sandbox) == []  # not stalled yet
    clock.now += 600
    approvals.work()
    approvals.work()
    assert len(refund_posts(sandbox)) == 1
    done = approvals.get(answer.approval.id)
    assert done is not None
    assert (done.state, done.decided_by) == ("sent", "U0BOSS1")


def test_a_request_that_cannot_be_posted_is_not_left_waiting(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    board.fail_posts = True
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, ApprovalNotPossible)
    assert store.approvals_due(now=clock.now + 10**6) == []


def test_a_write_in_flight_on_the_order_puts_the_request_back_to_approve_later(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    busy = Ledger(store, clock=clock).claim(
        key="b" * 32, operation="refund_order", order_id=order["id"], params={"x": 1}, user_id="U0OTHER"
    )
    assert busy.won  # another agent's refund of this order, in flight
    approvals.approve(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0ORDERS"))
    assert refund_posts(sandbox) == []
    told = board.news_for("U0BOSS1")
    assert isinstance(told[-1], ApprovalBusy)
    back = approvals.get(answer.approval.id)
    assert back is not None
    assert back.state == "pending"


def test_an_approval_meta_could_not_check_for_a_whole_window_is_ended_not_sent(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    answer = approvals.ask(asked(order["id"]), preview(order))
    assert isinstance(answer, AwaitingApproval)
    store.approval_move(answer.approval.id, from_state="pending", to_state="approved", now=clock.now, user_id="U0BOSS1")
    clock.now += 24 * 3600 + 1
    approvals.work()
    ended = approvals.get(answer.approval.id)
    assert ended is not None
    assert ended.state == "declined"
    assert isinstance(board.news_for(REQUESTER)[-1], ApprovalEnded)
    assert refund_posts(sandbox) == []


def test_an_approved_refund_asked_from_a_list_line_never_takes_the_list_for_its_card(
    sandbox: GraphSandbox, graph: GraphClient, store: Store, board: Board, clock: Clock
) -> None:
    approvals = service(graph, store, board, clock)
    order = shipped(sandbox, graph)
    listed = replace(asked(order["id"]), ephemeral=True, response_url="https://hooks.slack.test/list/1", listed=True)
    answer = approvals.ask(listed, preview(order))
    assert isinstance(answer, AwaitingApproval)
    approvals.approve(answer.approval.id, actor("U0BOSS1"), Person("U0BOSS1", "C0APPROVE"))
    assert len(refund_posts(sandbox)) == 1
    assert store.cards_for_order(order["id"]) == []  # the list is not remembered as the order's card
    (person, news) = next((p, n) for p, n in board.told if p.user_id == REQUESTER)
    assert isinstance(news, RefundSent)
    assert (person.channel, person.response_url) == ("C0ORDERS", None)  # told privately in the channel, or a DM
