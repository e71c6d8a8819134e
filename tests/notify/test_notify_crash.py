"""kill -9 of a real ``orderdesk sync`` at random points of a poll with 200 new orders, then a clean pass: every
order must be announced exactly once, judged by the Slack sandbox's record (not by the bot's database).

Each run draws its own seed (printed on failure; ``NOTIFY_CRASH_SEED`` replays one). The seed picks how many
times the bot is killed (1 or 2), after how many posted messages (0 to 200, so some kills land during start-up
or the scan), a little extra delay (so kills also land between Slack's answer and the claim's completion), and
whether the burst is posted as 200 cards or as one digest.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import SlackSandbox
from bot.slack import ids
from bot.slack.publisher import DIGEST_EVENT

pytestmark = pytest.mark.e2e

ORDERS = 200
RUNS = 20
CHANNEL = "C0ORDERS"
REPO = Path(__file__).resolve().parents[2]


def _sync(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """One ``orderdesk sync`` pass in its own process; its stderr goes to ``sync.log`` (a pipe would block it)."""
    with (cwd / "sync.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "sync", "--pace", "0"], env=env, cwd=cwd, stdout=log, stderr=log
        )


def _kill_after(slack: SlackSandbox, process: subprocess.Popen[bytes], messages: int, delay: float) -> int | None:
    """SIGKILL once ``messages`` are in the channel (or the process ended by itself); its exit code."""
    try:
        slack.wait_for(lambda: len(slack.messages(CHANNEL)) >= messages or process.poll() is not None, 30)
        time.sleep(delay)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return process.returncode


def _announcements(slack: SlackSandbox) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Cards per order id, and the digest messages, as Slack recorded them."""
    cards: Counter[str] = Counter()
    digests = []
    for message in slack.messages(CHANNEL):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ids.ORDER_CARD_EVENT:
            cards[metadata["event_payload"]["order_id"]] += 1
        elif metadata.get("event_type") == DIGEST_EVENT:
            digests.append(message)
    return cards, digests


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_during_a_poll_then_restart_announces_each_order_once(tmp_path: Path, run: int) -> None:
    seed = int(os.environ.get("NOTIFY_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    digest = rng.random() < 0.25
    graph, slack = GraphSandbox(orders=0, seed=seed % 1000), SlackSandbox()
    orders = {graph.add_order()["id"] for _ in range(ORDERS)}
    graph_server, slack_server = graph.serve(), slack.serve()
    try:
        settings = sandbox_settings(
            graph,
            graph_server.url,
            slack,
            tmp_path / "orderdesk.db",
            notify_channel=CHANNEL,
            digest_after=50 if digest else 1000,
        )
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **settings.to_env()}
        kills = []
        for _ in range(rng.choice((1, 2))):
            after = rng.randrange(0, 2 if digest else ORDERS)
            kills.append((after, _kill_after(slack, _sync(env, tmp_path), after, rng.random() * 0.02)))
        final = _sync(env, tmp_path)
        final.wait(timeout=60)
        log = (tmp_path / "sync.log").read_text()[-3000:]
        assert final.returncode == 0, f"seed {seed}: the clean pass failed: {log}"
    finally:
        graph_server.stop()
        slack_server.stop()

    cards, digests = _announcements(slack)
    context = f"seed {seed}, digest {digest}, kills (after messages, rc) {kills}"
    if digest:
        assert (len(digests), sum(cards.values())) == (1, 0), context
        assert digests[0]["text"] == f"{ORDERS} new orders awaiting acknowledgement", context
    else:
        assert set(cards) == orders, context
        assert max(cards.values()) == 1, f"{context}: announced twice: {[o for o, n in cards.items() if n > 1]}"
