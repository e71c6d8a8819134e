"""Crash recovery: a real ``orderdesk serve --mode http`` process is SIGKILLed mid-acknowledgement and restarted.

The sandboxes run in the test process; the bot runs as a subprocess configured only through its environment,
as deployed. ``--crash-points DIR`` (test-only) makes the bot stop dead at a named point, where the test kills it:

* ``before_call``: the claim is committed, Meta was never called. After the restart the sweeper (lease expired)
  re-sends the stored request with the stored key.
* ``after_call`` with the Graph sandbox dropping the connection after committing: Meta acknowledged, the bot never
  heard. After the restart the sweeper reads the order, finds it ``IN_PROGRESS`` with our reference, and records
  success without a second call.

Either way: one acknowledgement at Meta, with the key from the button, and the card updated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import ack_value, notification_card, notification_text
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"
LEASE_SECONDS = 5  # the smallest lease Settings accepts: the sweeper may take over 5 s after the claim
ORDERDESK = Path(sys.executable).with_name("orderdesk")
_SERVING = re.compile(r"serving Slack requests at (http://127\.0\.0\.1:\d+/slack/events)")


@contextmanager
def bot_process(env: dict[str, str], log: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``orderdesk serve --mode http --port 0``; yields the process and its events URL (read from its log)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ORDERDESK), "serve", "--mode", "http", "--port", "0", *extra],
            env=env,
            cwd=log.parent,  # no stray .env from the repository
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not (match := _SERVING.findall(log.read_text())[-1:]):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield process, match[0]
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def wait_until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"still false after {timeout}s"
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["before_call", "after_call"])
def test_a_killed_bot_finishes_the_acknowledgement_after_restart(tmp_path: Path, point: str) -> None:
    graph_sandbox, slack_sandbox = GraphSandbox(), SlackSandbox()
    with graph_sandbox.serve() as graph_server, slack_sandbox.serve():
        order_id = str(graph_sandbox.add_order()["id"])
        settings = sandbox_settings(
            graph_sandbox,
            graph_server.url,
            slack_sandbox,
            tmp_path / "orderdesk.db",
            merchant_ref_template="FB-{order_id}",
            ack_lease_seconds=LEASE_SECONDS,
            sweep_seconds=1,
            graph_max_retries=0,  # a dropped answer must reach the crash point, not a retry
        )
        env = {"PATH": os.environ.get("PATH", ""), **settings.to_env()}
        # A card as the notifier would have posted and remembered it.
        key = new_key()
        order = graph_sandbox.order(order_id)
        blocks = notification_card(order, ack_key=key, commerce_manager_url="https://cm.example/")
        web = WebClient(token=slack_sandbox.bot_token, base_url=slack_sandbox.api_url)
        ts = str(web.chat_postMessage(channel=CHANNEL, blocks=blocks, text=notification_text(order))["ts"])
        with Store(tmp_path / "orderdesk.db") as store:
            store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")

        crash_points = tmp_path / "crash-points"
        crash_points.mkdir()
        (crash_points / point).touch()
        if point == "after_call":
            graph_sandbox.set_faults(drop_after_commit=1, match={"method": "POST"})
        with bot_process(env, tmp_path / "killed.log", "--crash-points", str(crash_points)) as (process, url):
            with SlackRequester(slack_sandbox, url) as slack:
                assert slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts).response.status_code == 200
            wait_until((crash_points / f"{point}.reached").exists)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

        posts = [c for c in graph_sandbox.calls() if c["method"] == "POST"]
        assert len(posts) == (1 if point == "after_call" else 0)
        assert "Acknowledged by" not in str(slack_sandbox.message(CHANNEL, ts)["blocks"])

        with bot_process(env, tmp_path / "restarted.log"):
            wait_until(lambda: "Acknowledged by" in str(slack_sandbox.message(CHANNEL, ts)["blocks"]))

        posts = [c for c in graph_sandbox.calls() if c["method"] == "POST"]
        assert [(p["path"].rsplit("/", 1)[-1], p["params"]["idempotency_key"]) for p in posts] == [
            ("acknowledge_order", key)
        ]
        assert graph_sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
        assert graph_sandbox.order(order_id)["merchant_order_id"] == f"FB-{order_id}"
        with Store(tmp_path / "orderdesk.db") as store:
            outcomes = [(row.key, row.outcome) for row in store.audit_for_order(order_id)]
        assert outcomes == [(key, "succeeded")]
