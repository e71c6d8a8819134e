"""Crash recovery of a card action: a real ``orderdesk serve`` is SIGKILLed in the middle of a shipment, after the
review was submitted, and restarted (see :mod:`test_crash` for the crash points).

* ``before_call``: the claim is committed, Meta was never called. After the restart the sweeper (lease expired)
  reads the order (no shipment with the intent's id) and sends the stored request with the stored key.
* ``after_call`` with the Graph sandbox dropping the connection after committing: Meta shipped, the bot never
  heard. After the restart the sweeper finds the shipment by its ``external_shipment_id`` and records it.

Either way: one shipment at Meta, with the key from the card's button, and the card and its thread updated.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from slack_sdk import WebClient
from test_crash import LEASE_SECONDS, bot_process, wait_until

from bot.actions.ledger import new_key
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import notification_card, notification_text
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"


@pytest.mark.parametrize("point", ["before_call", "after_call"])
def test_a_killed_bot_finishes_the_shipment_after_restart(tmp_path: Path, point: str) -> None:
    graph_sandbox, slack_sandbox = GraphSandbox(), SlackSandbox()
    with graph_sandbox.serve() as graph_server, slack_sandbox.serve():
        order_id = str(graph_sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 1}])["id"])
        settings = sandbox_settings(
            graph_sandbox,
            graph_server.url,
            slack_sandbox,
            tmp_path / "orderdesk.db",
            ack_lease_seconds=LEASE_SECONDS,
            sweep_seconds=1,
            graph_max_retries=0,
        )
        env = {"PATH": os.environ.get("PATH", ""), **settings.to_env()}
        order = graph_sandbox.order(order_id)
        blocks = notification_card(order, ack_key=new_key(), commerce_manager_url="https://cm.example/")
        web = WebClient(token=slack_sandbox.bot_token, base_url=slack_sandbox.api_url)
        ts = str(web.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"])
        with Store(tmp_path / "orderdesk.db") as store:
            store.upsert_order(order)
            store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
        value = next(e["value"] for b in blocks for e in b.get("elements", []) if e["action_id"] == ids.ORDER_SHIP)
        key = json.loads(value)["k"]
        item = order["items"]["data"][0]["id"]

        crash_points = tmp_path / "crash-points"
        crash_points.mkdir()
        (crash_points / point).touch()
        if point == "after_call":
            graph_sandbox.set_faults(drop_after_commit=1, match={"method": "POST"})
        with bot_process(env, tmp_path / "killed.log", "--crash-points", str(crash_points)) as (process, url):
            with SlackRequester(slack_sandbox, url) as slack:
                slack.block_action(ids.ORDER_SHIP, value, message_ts=ts)
                view = slack_sandbox.wait_for(lambda: next((v for v in slack_sandbox.views() if v.get("submit")), {}))
                values = {
                    "carrier": {ids.CARRIER_SELECT: {"type": "external_select", "selected_option": {"value": "UPS"}}},
                    "tracking_number": {"tracking_number": {"type": "plain_text_input", "value": "1ZCRASH"}},
                    f"qty_{item}": {f"qty_{item}": {"type": "number_input", "value": "1"}},
                }
                slack.view_submission(view, values)
                slack.view_submission(slack_sandbox.view(view["id"]), {})
            wait_until((crash_points / f"{point}.reached").exists)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

        posts = [c for c in graph_sandbox.calls() if c["method"] == "POST"]
        assert len(posts) == (1 if point == "after_call" else 0)

        with bot_process(env, tmp_path / "restarted.log"):
            wait_until(lambda: "Completed" in str(slack_sandbox.message(CHANNEL, ts)["blocks"]))
            wait_until(lambda: len(slack_sandbox.messages(CHANNEL, thread_ts=ts)) > 1)

        posts = [c for c in graph_sandbox.calls() if c["method"] == "POST"]
        assert [(p["path"].rsplit("/", 1)[-1], p["params"]["idempotency_key"]) for p in posts] == [("shipments", key)]
        shipments = graph_sandbox.order(order_id)["shipments"]["data"]
        assert [s["tracking_info"]["tracking_number"] for s in shipments] == ["1ZCRASH"]
        assert "Shipped 1 item with UPS 1ZCRASH" in slack_sandbox.messages(CHANNEL, thread_ts=ts)[-1]["text"]
        with Store(tmp_path / "orderdesk.db") as store:
            outcomes = [(row.key, row.outcome) for row in store.audit_for_order(order_id)]
        assert outcomes == [(key, "succeeded")]
