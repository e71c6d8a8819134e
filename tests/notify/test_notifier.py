"""The notifier against the Graph sandbox (in-process) and the Slack sandbox (over HTTP: slack_sdk speaks urllib).

Lanes run with ``pace=0`` and a recording ``sleep``, so the tests check what the lanes *would* wait without waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.cli.status import main as status_main
from bot.cli.sync import main as sync_main
from bot.config import Route, Settings
from bot.graph.client import GraphClient, GraphError
from bot.notify.poller import (
    NOTIFY_FIELDS,
    WATERMARK,
    Notifier,
    PollerBusy,
    _poll_lock,
    stored_status,
)
from bot.notify.routing import channel_for, snapshot
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.server import ServerThread
from bot.sandbox.slack import SlackSandbox
from bot.slack import ids
from bot.slack.publisher import DIGEST_EVENT, SlackPublisher, publisher_client
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"


@dataclass
class Rig:
    graph_sandbox: GraphSandbox
    slack: SlackSandbox
    settings: Settings
    graph: GraphClient
    store: Store
    slept: list[float] = field(default_factory=list)

    def notifier(self, **overrides: Any) -> Notifier:
        settings = self.settings.with_overrides(**overrides)
        publisher = SlackPublisher.from_settings(settings, pace=0, sleep=self.slept.append)
        return Notifier(settings, self.graph, self.store, publisher)

    def cards(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        """Top-level messages carrying an order card's metadata (history with metadata, as the bot reads it)."""
        return [m for m in self.slack.messages(channel) if _event(m) == ids.ORDER_CARD_EVENT]

    def card_ids(self, channel: str = CHANNEL) -> list[str]:
        return [m["metadata"]["event_payload"]["order_id"] for m in self.cards(channel)]


def _event(message: dict[str, Any]) -> str | None:
    return (message.get("metadata") or {}).get("event_type")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    graph_sandbox = GraphSandbox(orders=0)
    slack = SlackSandbox()
    slack_server = slack.serve()
    try:
        settings = Settings(
            slack_bot_token=slack.bot_token,
            slack_signing_secret="secret",
            slack_api_url=f"{slack_server.url}/api/",
            fb_page_id=graph_sandbox.page_id,
            fb_page_access_token=graph_sandbox.token,
            fb_graph_url="http://graph.test",
            db_path=str(tmp_path / "orderdesk.db"),
            notify_channel=CHANNEL,
        )
        graph = GraphClient.from_settings(settings, transport=graph_sandbox.transport())
        with graph, Store(settings.db_path) as store:
            yield Rig(graph_sandbox, slack, settings, graph, store)
    finally:
        slack_server.stop()


def test_new_orders_are_announced_once_each_with_metadata(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order(items=2) for _ in range(3)]
    notifier = rig.notifier()

    first = notifier.poll()
    second = notifier.poll()

    assert sorted(rig.card_ids()) == sorted(o["id"] for o in orders)
    assert (first.announced, second.announced) == (3, 0)
    for order in orders:
        row = rig.store.get_notification(order["id"], CHANNEL)
        assert row is not None
        assert row.ts is not None
        assert [c.ts for c in rig.store.cards_for_order(order["id"])] == [row.ts]  # acks will update it


def test_card_is_pii_free_and_has_the_acknowledge_buttons(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order(
        buyer_details={"email": "buyer@example.com", "phone_number": "+15550100"},
        shipping_address={"street1": "1 Secret Lane", "postal_code": "94107", "city": "Springfield"},
    )
    rig.notifier().poll()

    (card,) = rig.cards()
    text = json.dumps(card)
    assert "buyer@example.com" not in text
    assert "+15550100" not in text
    assert "Secret Lane" not in text
    assert "94107" not in text
    assert "Springfield" in text
    actions = [e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids.ACK in actions
    assert ids.ACK_WITH_REF in actions
    indexed = rig.store.get_order(order["id"])
    assert indexed is not None
    assert "email" not in json.dumps(indexed.data)


def test_fb_processing_waits_until_created(rig: Rig) -> None:
    held = rig.graph_sandbox.add_order(state="FB_PROCESSING")
    notifier = rig.notifier()
    notifier.poll()
    assert rig.card_ids() == []

    rig.graph_sandbox.advance(held["id"], "CREATED")
    notifier.poll()
    assert rig.card_ids() == [held["id"]]


def test_an_order_acknowledged_elsewhere_gets_its_card_updated_and_a_thread_reply(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    notifier = rig.notifier()
    notifier.poll()
    (card,) = rig.cards()

    rig.graph_sandbox.advance(order["id"], "IN_PROGRESS", merchant_order_reference="SHOP-1")
    result = notifier.poll()
    again = notifier.poll()

    assert (result.updated, again.updated) == (1, 0)
    updated = rig.slack.message(CHANNEL, card["ts"])
    assert "State: Acknowledged, being fulfilled" in json.dumps(updated["blocks"])
    assert "IN_PROGRESS" not in json.dumps(updated["blocks"])
    assert ids.ACK not in json.dumps(updated["blocks"])  # nobody works an order that is already handled
    replies = rig.slack.messages(CHANNEL, thread_ts=card["ts"])[1:]
    assert [r["text"] for r in replies] == ["Acknowledged (reference SHOP-1)"]
    assert len(rig.cards()) == 1


def test_a_burst_above_digest_after_becomes_one_digest(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order() for _ in range(6)]
    result = rig.notifier(digest_after=5).poll()

    messages = rig.slack.messages(CHANNEL)
    assert len(messages) == 1
    assert _event(messages[0]) == DIGEST_EVENT
    assert messages[0]["text"] == "6 new orders awaiting acknowledgement"
    assert (result.digests, result.announced) == (1, 6)
    digest = rig.store.get_digest(messages[0]["metadata"]["event_payload"]["digest_id"])
    assert digest is not None
    assert sorted(digest.order_ids) == sorted(o["id"] for o in orders)
    assert all(rig.store.get_notification(o["id"], CHANNEL).ts == messages[0]["ts"] for o in orders)  # type: ignore[union-attr]


def _actions(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


def test_a_digest_order_that_changes_is_told_in_the_digest_thread_and_the_digest_counts_it(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order() for _ in range(3)]
    notifier = rig.notifier(digest_after=2)
    notifier.poll()
    (digest,) = rig.slack.messages(CHANNEL)

    rig.graph_sandbox.advance(orders[0]["id"], "IN_PROGRESS")
    notifier.poll()
    again = notifier.poll()

    replies = rig.slack.messages(CHANNEL, thread_ts=digest["ts"])[1:]
    assert [r["text"] for r in replies] == [f"Order {orders[0]['id']}: Acknowledged"]
    assert len(rig.slack.edits(CHANNEL, digest["ts"])) == 1
    now = rig.slack.message(CHANNEL, digest["ts"])
    assert now["text"] == "2 of 3 new orders still awaiting acknowledgement"
    assert "*2 of 3 new orders* still awaiting acknowledgement" in json.dumps(now["blocks"])
    assert _actions(now) == [ids.DIGEST_LIST, ids.DIGEST_ACK_ALL]
    assert again.updated == 0


def test_a_digest_whose_orders_were_all_acknowledged_says_so_without_buttons_and_who_did_it(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order() for _ in range(4)]
    notifier = rig.notifier(digest_after=2)
    notifier.poll()
    (digest,) = rig.slack.messages(CHANNEL)

    for order in orders:  # as "Acknowledge all" leaves them: acknowledged at Meta, audited per order in bulk
        rig.graph_sandbox.advance(order["id"], "IN_PROGRESS", merchant_order_reference=f"FB-{order['id']}")
        rig.store.add_audit(
            action="acknowledge_orders", order_id=order["id"], user_id="U0AGENT1", key="k1", outcome="succeeded"
        )
    result = notifier.poll()

    assert result.updated == 4
    now = rig.slack.message(CHANNEL, digest["ts"])
    assert now["text"] == "All 4 new orders acknowledged"
    assert _actions(now) == []
    assert "awaiting" not in json.dumps(now["blocks"])
    (reply,) = rig.slack.messages(CHANNEL, thread_ts=digest["ts"])[1:]  # one reply for the pass, not four
    stored = rig.store.get_digest(digest["metadata"]["event_payload"]["digest_id"])
    assert stored is not None
    assert reply["text"].splitlines() == [  # in the digest's order
        f"• Order {order_id}: Acknowledged by <@U0AGENT1> (reference FB-{order_id})" for order_id in stored.order_ids
    ]


def test_a_digest_update_that_fails_is_done_by_the_next_pass(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order() for _ in range(3)]
    notifier = rig.notifier(digest_after=2)
    notifier.poll()
    (digest,) = rig.slack.messages(CHANNEL)
    rig.graph_sandbox.advance(orders[1]["id"], "IN_PROGRESS")
    rig.slack.fail_next("chat.update", 5, status=500, error="internal_error")

    assert notifier.poll().failed == 1
    assert rig.slack.message(CHANNEL, digest["ts"])["text"] == "3 new orders awaiting acknowledgement"

    notifier.poll()
    assert rig.slack.message(CHANNEL, digest["ts"])["text"] == "2 of 3 new orders still awaiting acknowledgement"
    assert len(rig.slack.messages(CHANNEL, thread_ts=digest["ts"])) == 2


def test_a_card_acknowledged_in_bulk_says_who_did_it(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    notifier = rig.notifier()
    notifier.poll()
    (card,) = rig.cards()

    rig.graph_sandbox.advance(order["id"], "IN_PROGRESS", merchant_order_reference="FB-1")
    rig.store.add_audit(
        action="acknowledge_orders", order_id=order["id"], user_id="U0AGENT2", key="k2", outcome="succeeded"
    )
    notifier.poll()

    assert "Acknowledged by <@U0AGENT2>" in json.dumps(rig.slack.message(CHANNEL, card["ts"])["blocks"])
    replies = rig.slack.messages(CHANNEL, thread_ts=card["ts"])[1:]
    assert [r["text"] for r in replies] == ["Acknowledged by <@U0AGENT2> (reference FB-1)"]


def test_429s_are_waited_out_and_no_card_is_lost(rig: Rig) -> None:
    orders = [rig.graph_sandbox.add_order() for _ in range(4)]
    rig.slack.fail_next("chat.postMessage", 3, retry_after=7)

    result = rig.notifier().poll()

    assert sorted(rig.card_ids()) == sorted(o["id"] for o in orders)
    assert result.failed == 0
    assert [round(wait) for wait in rig.slept if wait > 1] == [7, 7, 7]  # what Retry-After said, each time


def test_a_slack_failure_is_retried_and_never_announced_into_slack(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    rig.slack.fail_next("chat.postMessage", 2, status=500, error="internal_error")

    rig.notifier().poll()

    assert rig.card_ids() == [order["id"]]
    assert len(rig.slack.messages(CHANNEL)) == 1
    assert "internal_error" in str(stored_status(rig.store)["last_error"])


def test_a_post_that_keeps_failing_stays_claimed_and_the_next_pass_posts_it(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    rig.slack.fail_next("chat.postMessage", 5, status=500, error="internal_error")
    notifier = rig.notifier()

    failed = notifier.poll()
    assert failed.failed == 1
    assert rig.card_ids() == []
    assert stored_status(rig.store)["unfinished"] == 1

    notifier.poll()
    assert rig.card_ids() == [order["id"]]


def test_crash_after_posting_completes_from_history_without_posting_again(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    notifier = rig.notifier()
    rig.store.upsert_order(order)
    rig.store.claim_notification(order["id"], CHANNEL)
    posted = publisher_client(rig.settings).chat_postMessage(  # the dead process got this far
        channel=CHANNEL,
        text="card",
        metadata={"event_type": ids.ORDER_CARD_EVENT, "event_payload": {"order_id": order["id"]}},
    )

    result = notifier.poll()

    assert result.recovered == 1
    assert len(rig.cards()) == 1
    row = rig.store.get_notification(order["id"], CHANNEL)
    assert row is not None
    assert row.ts == posted["ts"]


def test_crash_before_posting_posts_once(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order()
    rig.store.upsert_order(order)
    rig.store.claim_notification(order["id"], CHANNEL)

    rig.notifier().poll()

    assert rig.card_ids() == [order["id"]]


def test_watermark_minus_overlap_on_later_polls(rig: Rig) -> None:
    notifier = rig.notifier(poll_overlap_seconds=120)
    notifier.poll()
    watermark = float(rig.store.get_state(WATERMARK) or 0)
    rig.graph_sandbox.clear_calls()

    notifier.poll()

    params = rig.graph_sandbox.calls()[0]["params"]
    assert int(params["updated_after"]) == int(watermark - 120)
    assert params["fields"] == NOTIFY_FIELDS


def test_a_graph_failure_keeps_the_watermark_and_is_reported(rig: Rig) -> None:
    notifier = rig.notifier()
    notifier.poll()
    before = rig.store.get_state(WATERMARK)
    rig.graph_sandbox.set_faults(status=500, count=10)

    with pytest.raises(GraphError):
        notifier.poll()

    assert rig.store.get_state(WATERMARK) == before
    assert "graph" in str(stored_status(rig.store)["last_error"])


def test_one_pass_at_a_time_per_database(rig: Rig) -> None:
    with _poll_lock(rig.store, wait=False):
        assert rig.notifier().poll_in_service() is None
        with pytest.raises(PollerBusy):
            rig.notifier().poll(wait_for_lock=False)


def test_a_backfill_follows_the_cursors_over_every_state(rig: Rig) -> None:
    for _ in range(30):
        rig.graph_sandbox.add_order(state="IN_PROGRESS")
    result = rig.notifier().poll(since=0)
    pages = [c for c in rig.graph_sandbox.calls() if c["path"].endswith("commerce_orders")]
    assert len(pages) >= 2
    assert result.scanned == 30


def test_orders_are_indexed_while_the_scan_goes_on_never_collected_first(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By the time the generator is asked for order 250, the first batch is in the index: the scan streams."""
    orders = [{"id": str(1000 + n), "order_status": {"state": "IN_PROGRESS"}} for n in range(300)]
    indexed_at: list[int] = []

    def stream(**_: Any) -> Any:
        for n, order in enumerate(orders):
            if n == 250:
                indexed_at.append(sum(rig.store.get_order(o["id"]) is not None for o in orders))
            yield order

    monkeypatch.setattr(rig.graph, "iter_orders", stream)
    assert rig.notifier().poll().scanned == 300
    assert indexed_at == [200]  # two batches of 100 written, the third still being read


@pytest.mark.parametrize(
    ("routes", "order", "expected"),
    [
        ((), {"channel": "facebook"}, CHANNEL),
        ((Route("C0INSTA", sales_channel="instagram"),), {"channel": "instagram"}, "C0INSTA"),
        ((Route("C0INSTA", sales_channel="instagram"),), {"channel": "facebook"}, CHANNEL),
        (
            (Route("C0BIG", min_total=500),),
            {"estimated_payment_details": {"total_amount": {"amount": "500.00"}}},
            "C0BIG",
        ),
        (
            (Route("C0BIG", min_total=500),),
            {"estimated_payment_details": {"total_amount": {"amount": "499.99"}}},
            CHANNEL,
        ),
        ((Route("C0BIG", min_total=500),), {}, CHANNEL),
        ((Route("C0A", sales_channel="instagram"), Route("C0B", min_total=1)), {"channel": "INSTAGRAM"}, "C0A"),
    ],
)
def test_routing(rig: Rig, routes: tuple[Route, ...], order: dict[str, Any], expected: str) -> None:
    assert channel_for(rig.settings.with_overrides(routes=routes), order) == expected


def test_routed_orders_go_to_their_channel(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order(channel="instagram")
    rig.notifier(routes=(Route("C0SUPPORT", sales_channel="instagram"),)).poll()
    assert rig.card_ids("C0SUPPORT") == [order["id"]]
    assert rig.card_ids() == []


def test_snapshot_follows_what_the_card_shows() -> None:
    order = {"id": "1", "order_status": {"state": "CREATED"}, "items": {"data": []}}
    assert snapshot(order) == snapshot({**order, "last_updated": "later"})
    assert snapshot(order) != snapshot({**order, "order_status": {"state": "IN_PROGRESS"}})
    assert snapshot(order) != snapshot({**order, "shipments": {"data": [{"id": "s1"}]}})


def test_status_reports_poll_watermark_queue_and_error(rig: Rig) -> None:
    notifier = rig.notifier()
    assert notifier.status()["last_successful_poll"] is None
    rig.graph_sandbox.add_order()
    notifier.poll()
    status = notifier.status()
    assert status["last_successful_poll"]
    assert status["watermark"]
    assert (status["queue"], status["unfinished"], status["last_error"]) == (0, 0, None)


def _env(rig: Rig, monkeypatch: pytest.MonkeyPatch, graph_url: str) -> None:
    for name, value in {
        "SLACK_BOT_TOKEN": rig.settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": rig.settings.slack_api_url,
        "FB_PAGE_ID": rig.settings.fb_page_id,
        "FB_PAGE_ACCESS_TOKEN": rig.settings.fb_page_access_token,
        "FB_GRAPH_URL": graph_url,
        "ORDERDESK_DB": rig.settings.db_path,
        "ORDERDESK_NOTIFY_CHANNEL": CHANNEL,
    }.items():
        monkeypatch.setenv(name, value)


def test_sync_and_status_commands(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    order = rig.graph_sandbox.add_order()
    with ServerThread(rig.graph_sandbox, "127.0.0.1") as graph_server:
        _env(rig, monkeypatch, graph_server.url)
        monkeypatch.chdir(Path(rig.settings.db_path).parent)  # no stray .env
        assert sync_main(["--pace", "0", "--since", "7d"]) == 0
        assert "announced 1" in capsys.readouterr().out
        assert status_main(["--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["watermark"]
    assert status["unfinished"] == 0
    assert rig.card_ids() == [order["id"]]


def test_sync_needs_a_channel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "FB_PAGE_ID": "1",
        "FB_PAGE_ACCESS_TOKEN": "t",
    }.items():
        monkeypatch.setenv(name, value)
    assert sync_main([]) == 2
