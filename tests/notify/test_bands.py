"""Posted cards are redrawn when their deadline band changes, and only then (Slack sandbox over real HTTP, the
Graph sandbox in-process, a clock the test moves)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.notify.bands import BandRefresher
from bot.notify.poller import Notifier
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackSandbox
from bot.slack.publisher import SlackPublisher
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    graph_sandbox: GraphSandbox
    slack: SlackSandbox
    store: Store
    notifier: Notifier
    bands: BandRefresher
    clock: Clock

    def updates(self) -> int:
        return len(self.slack.calls("chat.update"))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    graph_sandbox = GraphSandbox(orders=0)
    slack = SlackSandbox()
    server = slack.serve()
    clock = Clock()
    try:
        settings = Settings(
            slack_bot_token=slack.bot_token,
            slack_signing_secret="secret",
            slack_api_url=f"{server.url}/api/",
            fb_page_id=graph_sandbox.page_id,
            fb_page_access_token=graph_sandbox.token,
            fb_graph_url="http://graph.test",
            db_path=str(tmp_path / "orderdesk.db"),
            notify_channel=CHANNEL,
            digest_after=2,
        )
        graph = GraphClient.from_settings(settings, transport=graph_sandbox.transport())
        publisher = SlackPublisher.from_settings(settings, pace=0, sleep=lambda _: None, clock=clock)
        with graph, Store(settings.db_path, clock=clock) as store:
            notifier = Notifier(settings, graph, store, publisher, clock=clock)
            bands = BandRefresher(store, publisher, settings.zone, clock=clock)
            yield Rig(graph_sandbox, slack, store, notifier, bands, clock)
        publisher.close()
    finally:
        server.stop()


def test_a_card_is_redrawn_once_per_band_change(rig: Rig) -> None:
    order = rig.graph_sandbox.add_order(created=int(START))
    rig.notifier.poll()
    (card,) = rig.slack.messages(CHANNEL)
    assert "ack due <!date^" in str(card["blocks"])
    assert "less than a day left" in str(card["blocks"])

    assert rig.bands.refresh() == 0  # nothing moved
    rig.clock.now += 11 * 3600
    assert rig.bands.refresh() == 0  # still due soon
    rig.clock.now += 3600 + 1  # 12 h after creation: overdue
    assert rig.bands.refresh() == 1
    assert rig.updates() == 1
    redrawn = rig.slack.message(CHANNEL, card["ts"])
    assert "ack overdue since" in str(redrawn["blocks"])
    for _ in range(3):
        rig.clock.now += 600
        assert rig.bands.refresh() == 0
    assert rig.updates() == 1
    assert rig.store.shown_band(order["id"], CHANNEL) == "overdue"


def test_a_digest_is_redrawn_once_for_all_its_orders_that_moved(rig: Rig) -> None:
    for _ in range(3):
        rig.graph_sandbox.add_order(created=int(START))
    rig.notifier.poll()
    (digest,) = rig.slack.messages(CHANNEL)
    rig.clock.now += 13 * 3600
    assert rig.bands.refresh() == 1
    assert rig.updates() == 1
    assert "ack overdue since" in str(rig.slack.message(CHANNEL, digest["ts"])["blocks"])
    assert rig.bands.refresh() == 0


def test_a_shared_card_is_redrawn_as_shared_when_its_band_changes(rig: Rig) -> None:
    from slack_sdk import WebClient

    from bot.actions.status import CARD_SHARED

    order = rig.graph_sandbox.add_order(created=int(START))
    rig.store.upsert_order(order)  # as looking it up does
    client = WebClient(token=rig.slack.bot_token, base_url=rig.slack.api_url)
    posted = [str(client.chat_postMessage(channel=CHANNEL, text="shared card")["ts"]) for _ in range(2)]
    for ts in posted:  # shared twice in the channel: two cards, each kept current
        rig.store.remember_card(order["id"], channel=CHANNEL, ts=ts, response_url=None, kind=CARD_SHARED + "U0AGENT1")
    assert rig.bands.refresh() == 0  # drawn when shared; nothing moved
    rig.clock.now += 12 * 3600 + 1  # the acknowledgement deadline passed
    assert rig.bands.refresh() == 2
    for ts in posted:
        redrawn = str(rig.slack.message(CHANNEL, ts)["blocks"])
        assert "ack overdue since" in redrawn
        assert "U0AGENT1" in redrawn  # still credited to its sharer: drawn as a shared card
    assert rig.bands.refresh() == 0
    assert rig.updates() == 2
