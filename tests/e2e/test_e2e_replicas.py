"""Two ``orderdesk serve --mode http`` replicas on one PostgreSQL, as deployed behind a load balancer.

Each replica is a real process with a sqlite path of its own (unused: ``ORDERDESK_DATABASE_URL`` wins, as on two
hosts), the sandboxes run in the test process, and requests are spread across both replicas. Exactly once must
hold across them: double-clicks sent to both make one acknowledgement each, every new order is announced once,
and when the replica running the poller is killed with ``kill -9`` the other takes the poller over within one
interval plus 5 seconds, announcing nothing twice and missing nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from postgres import Cluster, postgres_cluster, postgres_url
from slack_sdk import WebClient

from bot.actions.entries import CREATE_SHIPMENT
from bot.actions.ledger import new_key
from bot.config import Settings
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.publisher import DIGEST_EVENT
from bot.slack.views.blocks import ack_value, notification_card, notification_text
from bot.storage.postgres.store import PostgresStore

__all__ = ["Cluster", "postgres_cluster", "postgres_url"]

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
POLL_SECONDS = 5  # the smallest interval Settings accepts
SHIPPED = 10  # cards shipped through both replicas
ORDERDESK = Path(sys.executable).with_name("orderdesk")
_SERVING = re.compile(r"serving Slack requests at (http://127\.0\.0\.1:\d+)/slack/events")


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:port
    log: Path

    def jobs(self) -> dict[str, str]:
        jobs: dict[str, str] = httpx.get(f"{self.url}/healthz", timeout=10).json().get("jobs", {})
        return jobs


@contextmanager
def replica(settings: Settings, folder: Path) -> Iterator[Replica]:
    """``orderdesk serve --mode http --port 0`` with its own folder (and sqlite path, unused), configured only
    through its environment."""
    folder.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), **settings.with_overrides(db_path=str(folder / "unused.db")).to_env()}
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ORDERDESK), "serve", "--mode", "http", "--port", "0"],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := _SERVING.findall(log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Replica(folder.name, process, match[0], log)
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: still not after {timeout}s"
        time.sleep(0.1)
    return value


def announcements(slack: SlackSandbox, store: PostgresStore) -> Counter[str]:
    """How many times each order was announced in the channel: on its own card or in a digest."""
    counted: Counter[str] = Counter()
    for message in slack.messages(CHANNEL):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ids.ORDER_CARD_EVENT:
            counted[metadata["event_payload"]["order_id"]] += 1
        elif metadata.get("event_type") == DIGEST_EVENT:
            digest = store.get_digest(metadata["event_payload"]["digest_id"])
            assert digest is not None
            counted.update(digest.order_ids)
    return counted


def digest_of(slack: SlackSandbox, store: PostgresStore, order_ids: list[str]) -> dict[str, str] | None:
    """The posted digest announcing exactly these orders: its id and ts."""
    for message in slack.messages(CHANNEL):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == DIGEST_EVENT:
            digest = store.get_digest(metadata["event_payload"]["digest_id"])
            if digest is not None and sorted(digest.order_ids) == sorted(order_ids):
                return {"id": digest.id, "ts": str(message["ts"])}
    return None


def post_card(slack: SlackSandbox, store: PostgresStore, graph: GraphSandbox, order_id: str) -> tuple[str, str]:
    """A card with an Acknowledge button, as the bot posts them, remembered in the shared database: (key, ts)."""
    key = new_key()
    order = graph.order(order_id)
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    blocks = notification_card(order, ack_key=key, commerce_manager_url="https://cm.example/")
    ts = str(web.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"])
    store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
    return key, ts


def ship_review(
    slack: SlackSandbox, graph: GraphSandbox, via: SlackRequester, order_id: str, ts: str, tracking: str
) -> dict[str, Any]:
    """Click the card's Mark shipped through ``via``, fill the form with every unit and ``tracking``, and return
    the review the replica answered with (the modal as Slack holds it, ready to confirm)."""
    message = slack.message(CHANNEL, ts)
    elements = [e for b in message["blocks"] for e in b.get("elements", []) if "action_id" in e]
    buttons = {e["action_id"]: e.get("value", "") for e in elements}
    before = {view["id"] for view in slack.views()}
    assert via.block_action(ids.ORDER_SHIP, buttons[ids.ORDER_SHIP], message_ts=ts).response.status_code == 200
    form = slack.wait_for(lambda: [v for v in slack.views() if v["id"] not in before and v.get("submit")], timeout=30)
    order = graph.order(order_id)
    entered: dict[str, Any] = {
        "carrier": {ids.CARRIER_SELECT: {"type": "external_select", "selected_option": _option("UPS")}},
        "tracking_number": {"tracking_number": {"type": "plain_text_input", "value": tracking}},
        "shipping_method": {"shipping_method": {"type": "plain_text_input", "value": ""}},
        "external_shipment_id": {"external_shipment_id": {"type": "plain_text_input", "value": ""}},
    }
    for item in order["items"]["data"]:
        entered[f"qty_{item['id']}"] = {f"qty_{item['id']}": {"type": "number_input", "value": str(item["quantity"])}}
    answer = via.view_submission(form[0], entered).response.json()
    assert answer.get("response_action") == "update", answer
    return slack.view(form[0]["id"])


def _option(value: str) -> dict[str, Any]:
    return {"value": value, "text": {"type": "plain_text", "text": value}}


def confirm(via: SlackRequester, review: dict[str, Any]) -> httpx.Response:
    """Confirm a reviewed modal, signed as Slack sends it (raw, so several can go at once)."""
    payload = {
        "type": "view_submission",
        "token": "sandbox-verification-token",
        "user": {"id": "U0AGENT1", "team_id": via.sandbox.team_id},
        "team": {"id": via.sandbox.team_id},
        "view": {k: v for k, v in review.items() if k in ("id", "type", "callback_id", "private_metadata", "blocks")}
        | {"state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return via.send_raw(body, {**headers, **via.sign(body)})


def test_two_replicas_acknowledge_and_announce_once_and_survive_a_kill(tmp_path: Path, postgres_url: str) -> None:
    graph, slack = GraphSandbox(orders=0), SlackSandbox()
    with graph.serve() as graph_server, slack.serve(), PostgresStore(postgres_url, pool_size=4) as store:
        settings = sandbox_settings(
            graph,
            graph_server.url,
            slack,
            tmp_path / "unused.db",
            # The test cluster trusts every local connection, so a password changes nothing but what is logged.
            database_url=postgres_url.replace("postgresql://postgres@", "postgresql://postgres:pw-s3cret@")
            + "?password=pw-s3cret-q&application_name=replica",
            notify_channel=CHANNEL,
            poll_seconds=POLL_SECONDS,
            merchant_ref_template="FB-{order_id}",
            graph_max_retries=0,
        )
        first_orders = [str(graph.add_order()["id"]) for _ in range(25)]
        with ExitStack() as running:
            a = running.enter_context(replica(settings, tmp_path / "a"))
            b = running.enter_context(replica(settings, tmp_path / "b"))

            # The 25 waiting orders are announced once (a burst: one digest), by whichever replica polls.
            wait_until(lambda: set(first_orders) <= set(announcements(slack, store)), 30, "the first announcements")

            # 50 concurrent clicks: each of 25 cards double-clicked, one click through each replica.
            cards = {order_id: post_card(slack, store, graph, order_id) for order_id in first_orders}
            graph.set_faults(latency_ms=300, match={"method": "POST"})  # keep the first click of each in flight
            with (
                SlackRequester(slack, f"{a.url}/slack/events") as via_a,
                SlackRequester(slack, f"{b.url}/slack/events") as via_b,
                ThreadPoolExecutor(max_workers=50) as pool,
            ):
                clicks = [(via, order_id, key, ts) for order_id, (key, ts) in cards.items() for via in (via_a, via_b)]
                sent = list(
                    pool.map(
                        lambda c: c[0].block_action(ids.ACK, ack_value(c[1], c[2]), message_ts=c[3]).response, clicks
                    )
                )
            assert [response.status_code for response in sent] == [200] * 50

            def acknowledged() -> bool:
                return all(
                    "Acknowledged by" in json.dumps(slack.message(CHANNEL, ts)["blocks"]) for _, ts in cards.values()
                )

            wait_until(acknowledged, 60, "every card showing its acknowledgement")
            posts = [c for c in graph.calls() if c["method"] == "POST" and c["path"].endswith("/acknowledge_order")]
            assert len([p for p in posts if 200 <= p["status"] < 300]) == 25
            assert sorted(p["path"].split("/")[-2] for p in posts) == sorted(first_orders)
            assert {p["params"]["idempotency_key"] for p in posts} == {key for key, _ in cards.values()}
            audit = {order_id: [r.outcome for r in store.audit_for_order(order_id)] for order_id in first_orders}
            assert audit == {order_id: ["succeeded"] for order_id in first_orders}

            # The same for a batch of the actions engine: "Acknowledge all" on a digest, clicked through both.
            batch = [str(graph.add_order()["id"]) for _ in range(12)]
            digest = wait_until(lambda: digest_of(slack, store, batch), POLL_SECONDS + 30, "the second digest")
            with (
                SlackRequester(slack, f"{a.url}/slack/events") as via_a,
                SlackRequester(slack, f"{b.url}/slack/events") as via_b,
                ThreadPoolExecutor(max_workers=2) as pool,
            ):
                both = pool.map(
                    lambda via: via.block_action(ids.DIGEST_ACK_ALL, digest["id"], message_ts=digest["ts"]).response,
                    (via_a, via_b),
                )
                assert [response.status_code for response in both] == [200, 200]
            wait_until(
                lambda: all(graph.order(o)["order_status"]["state"] == "IN_PROGRESS" for o in batch),
                30,
                "the batch acknowledged",
            )
            batched = [
                order["id"]
                for call in graph.calls()
                if call["path"].endswith("/acknowledge_orders") and 200 <= call["status"] < 300
                for order in json.loads(call["params"]["orders"])
            ]
            assert sorted(batched) == sorted(batch)  # each once, whichever replica's click got it

            # The same for an action of the actions engine: Mark shipped on cards spread across both replicas,
            # each reviewed shipment confirmed twice at once, once through each replica.
            shipping = first_orders[:SHIPPED]  # acknowledged above: their cards offer Mark shipped
            with (
                SlackRequester(slack, f"{a.url}/slack/events") as via_a,
                SlackRequester(slack, f"{b.url}/slack/events") as via_b,
            ):
                reviews = [
                    ship_review(slack, graph, (via_a, via_b)[n % 2], order_id, cards[order_id][1], f"1ZREPLICA{n}")
                    for n, order_id in enumerate(shipping)
                ]
                confirmations = [(via, review) for review in reviews for via in (via_a, via_b)]
                with ThreadPoolExecutor(max_workers=len(confirmations)) as pool:
                    confirmed = list(pool.map(lambda c: confirm(c[0], c[1]), confirmations))
            assert [response.status_code for response in confirmed] == [200] * len(confirmations)

            def audited() -> dict[str, list[str]]:
                return {
                    order_id: [r.outcome for r in store.audit_for_order(order_id) if r.action == CREATE_SHIPMENT]
                    for order_id in shipping
                }

            wait_until(lambda: all(audited().values()), 60, "every shipment audited")
            shipped = [c for c in graph.calls() if c["method"] == "POST" and c["path"].endswith("/shipments")]
            assert len([c for c in shipped if 200 <= c["status"] < 300]) == SHIPPED
            assert sorted(c["path"].split("/")[-2] for c in shipped) == sorted(shipping)
            assert [len(graph.order(order_id)["shipments"]["data"]) for order_id in shipping] == [1] * SHIPPED
            assert audited() == {order_id: ["succeeded"] for order_id in shipping}

            # kill -9 the replica running the poller: the other takes it over within one interval plus 5 s.
            runners = [r for r in (a, b) if r.jobs().get("poller") == "running here"]
            assert len(runners) == 1, [r.jobs() for r in (a, b)]
            (victim,) = runners
            survivor = b if victim is a else a
            assert survivor.jobs()["poller"].startswith("standby")
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)

            def polls() -> int:  # the list reads only the poller makes here; the victim is gone, so the survivor's
                return len([c for c in graph.calls() if c["path"].endswith("commerce_orders")])

            polled = polls()
            later_orders = [str(graph.add_order()["id"]) for _ in range(3)]
            wait_until(lambda: polls() > polled, POLL_SECONDS + 5, "the survivor's first poll after the kill")
            assert survivor.jobs()["poller"] == "running here"
            wait_until(
                lambda: set(later_orders) & set(announcements(slack, store)),
                30,
                "the survivor's first announcement after the kill",
            )
            wait_until(lambda: set(later_orders) <= set(announcements(slack, store)), 30, "the later announcements")

            # One more poll by the survivor changes nothing: every order announced exactly once, none missed.
            lists = len([c for c in graph.calls() if c["path"].endswith("commerce_orders")])
            wait_until(
                lambda: len([c for c in graph.calls() if c["path"].endswith("commerce_orders")]) > lists,
                POLL_SECONDS + 5,
                "another poll",
            )
            assert announcements(slack, store) == Counter(dict.fromkeys(first_orders + batch + later_orders, 1))
        for started in (a, b):  # each said which database it uses, never with the password
            log = started.log.read_text()
            assert "storage: PostgreSQL at postgresql://postgres:***@127.0.0.1:" in log
            assert "?password=***&application_name=replica" in log
            assert "pw-s3cret" not in log
