"""``orderdesk demo``: the scripted scenario passes end to end, the stack starts and stops cleanly, and the pieces
the demo adds (order feed, step runner, console endpoints) behave."""

from __future__ import annotations

import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.actions.order_actions import CANCEL, REFUND, SHIP, TRACKING, offered_actions
from bot.cli.demo import _banner, main, parser
from bot.cli.demo_stack import ALICE, CAROL, Demo, OrderFeed
from bot.cli.scenario import Scenario, StepFailed
from bot.sandbox.console import Console
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack import ids

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with Demo.start(tmp_path, poll_seconds=1) as started:
        # The poller's first pass announces the seeded orders awaiting acknowledgement (one digest); let it land
        # so that what a test does is all that happens after this.
        started.slack.wait_for(lambda: started.slack.calls("chat.postMessage"), timeout=20)
        yield started


def test_the_scripted_demo_passes_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--scripted", "--dir", str(tmp_path)])

    transcript = capsys.readouterr().out
    assert "FAILED" not in transcript, transcript
    assert status == 0
    assert "15 of 15 steps passed." in transcript


def test_the_stack_is_wired_only_through_settings(demo: Demo) -> None:
    settings = demo.settings
    assert settings.slack_api_url == demo.slack.api_url
    assert settings.fb_graph_url.startswith("http://127.0.0.1:")
    assert settings.notify_channel == "C0ORDERS"
    assert settings.merchant_ref_template == "SHOP-{order_id}"
    assert ALICE not in settings.ack_allowed
    assert CAROL not in settings.ack_allowed
    with httpx.Client() as http:
        # Ready (200) once the first Graph probe, which the first /healthz starts, has answered.
        demo.slack.wait_for(lambda: http.get(f"{demo.server.url}/healthz").status_code == 200)
        page = http.get(demo.console_url)
        state = http.get(f"{demo.console_url}/api/state", params={"user": CAROL}).json()
    assert page.status_code == 200
    assert "console.js" in page.text
    assert state["user"] == CAROL
    assert [a["note"] for a in state["agents"]] == ["on call", "", "not allowed to acknowledge"]
    awaiting, reference_id, reference = demo.examples
    assert demo.graph.order(awaiting)["order_status"]["state"] == "CREATED"
    assert demo.graph.order(reference_id)["merchant_order_id"] == reference
    assert any(awaiting in tip for tip in state["tips"])
    assert any(reference in tip for tip in state["tips"])


def test_each_start_gets_its_own_folder_inside_the_directory_removed_when_it_stops(tmp_path: Path) -> None:
    (tmp_path / "orderdesk.db").write_text("left over from an earlier version")
    with Demo.start(tmp_path) as first, Demo.start(tmp_path) as second:
        databases = [Path(first.settings.db_path), Path(second.settings.db_path)]
        assert databases[0] != databases[1]
        assert all(d.parent.parent == tmp_path and d.is_file() for d in databases)
    assert not any(d.parent.exists() for d in databases)
    assert (tmp_path / "orderdesk.db").read_text() == "left over from an earlier version"  # not ours to delete


def test_the_scripted_demo_beside_a_running_demo_leaves_its_database_alone(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = Path(demo.settings.db_path)
    before = database.stat().st_ino
    with sqlite3.connect(database) as db:
        notified = db.execute("SELECT count(*) FROM notifications").fetchone()
    assert notified[0] > 0

    assert main(["--scripted", "--dir", str(tmp_path)]) == 0, capsys.readouterr().out  # the live demo's --dir

    assert database.stat().st_ino == before
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM notifications").fetchone() == notified
    # The running demo still answers from its own database: a lookup through it gets the order's card.
    assert Scenario(demo, io.StringIO()).lookup_by_id().startswith(f"a card for order {demo.examples[0]}")


def test_the_console_state_answers_unchanged_until_something_happens(demo: Demo) -> None:
    first = demo.console.state(ALICE)
    assert demo.console.state(ALICE, since=first["version"]) == {"version": first["version"], "unchanged": True}

    demo.slack.post_as_user("C0ORDERS", "hello", ALICE)

    assert demo.console.state(ALICE, since=first["version"])["messages"][-1]["text"] == "hello"


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("send", {"user": "U0NOBODY", "text": "hi"}, 400, "unknown user 'U0NOBODY'"),
        ("send", {"user": ALICE, "text": "  "}, 400, "nothing to send"),
        ("action", {"user": ALICE, "value": "x"}, 400, "action_id is required"),
        ("shortcut", {"user": ALICE, "message_ts": "1.000001"}, 400, "that message is gone"),
        ("submit", {"user": ALICE, "view_id": "V0", "values": {}}, 400, "that modal is gone"),
        ("submit", {"user": ALICE, "view_id": "V0", "values": []}, 400, "values must be an object"),
        ("nowhere", {"user": ALICE}, 404, "not_found"),
    ],
)
def test_the_console_refuses_what_it_cannot_send(
    demo: Demo, path: str, body: dict[str, object], status: int, error: str
) -> None:
    before = demo.slack.calls()
    response = httpx.post(f"{demo.console_url}/api/{path}", json=body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert demo.slack.calls() == before  # nothing reached the bot, so nothing came back to Slack


def test_the_order_feed_holds_every_third_order_in_processing_until_the_next_tick() -> None:
    graph = GraphSandbox(orders=0)
    feed = OrderFeed(graph)

    def states() -> list[str]:
        return sorted(graph.order(i)["order_status"]["state"] for i in graph.order_ids())

    for _ in range(3):
        feed.tick()
    assert states() == ["CREATED", "CREATED", "FB_PROCESSING"]

    feed.tick()

    assert states() == ["CREATED"] * 4


def test_a_failing_or_crashing_step_is_reported_and_the_others_still_run(demo: Demo) -> None:
    def fails() -> str:
        raise StepFailed("the bot said no")

    class Partial(Scenario):
        def steps(self) -> list[tuple[str, object]]:  # type: ignore[override]
            return [("passes", lambda: "fine"), ("fails", fails), ("crashes", lambda: 1 // 0), ("also", lambda: "ok")]

    out = io.StringIO()
    assert Partial(demo, out).run() is False
    transcript = out.getvalue()
    assert "✓ fine" in transcript
    assert "✓ ok" in transcript
    assert "✗ FAILED: the bot said no" in transcript
    assert "✗ FAILED with ZeroDivisionError" in transcript
    assert "2 of 4 steps passed." in transcript


def test_a_busy_port_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--no-browser", "--port", str(port), "--dir", str(tmp_path)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_ctrl_c_stops_the_interactive_demo_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FB_", "ORDERDESK_"))}
    command = [sys.executable, "-m", "bot", "demo", "--no-browser", "--port", "0", "--dir", str(tmp_path)]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        console_url = banner[2].split()[1]
        assert httpx.get(console_url).status_code == 200

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(console_url)


def test_the_readme_documents_demo_args_and_every_flag_of_the_demo() -> None:
    readme = (ROOT / "README.md").read_text()
    flags = {f for action in parser()._actions for f in action.option_strings if f.startswith("--") and f != "--help"}
    assert flags >= {"--scripted", "--port", "--no-browser", "--dir"}
    assert "DEMO_ARGS" in readme
    assert [f for f in sorted(flags) if f"| `{f}" not in readme] == []  # each flag has its row in the table


def test_the_consoles_graph_totals_count_each_call_once_even_when_calls_are_recorded_out_of_order() -> None:
    """Calls are numbered when they start and recorded when they end: a slow one lands after later numbers."""

    def call(
        seq: int, method: str = "GET", path: str = "/v25.0/1/commerce_orders", status: int = 200
    ) -> dict[str, Any]:
        return {"seq": seq, "method": method, "path": path, "status": status, "params": {}}

    recorded = [call(1), call(3, "POST", "/v25.0/9/acknowledge_order")]  # call 2 is still in flight
    sandbox = SlackSandbox()
    with SlackRequester(sandbox, "http://127.0.0.1:9/nowhere") as requester:
        console = Console(sandbox, requester, graph_calls=lambda since: [c for c in recorded if c["seq"] > since])
        first = console.state("U0AGENT1")["graph_totals"]
        recorded.append(call(2, path="/v25.0/9", status=404))
        recorded.append(call(4))
        state = console.state("U0AGENT1")

    assert first == {"requests": 2, "reads": 1, "poller_reads": 1, "writes": 1, "errors": 0, "acknowledgements": 1}
    assert state["graph_totals"] == {
        "requests": 4,
        "reads": 3,
        "poller_reads": 2,
        "writes": 1,
        "errors": 1,
        "acknowledgements": 1,
    }
    assert [c["seq"] for c in state["graph_calls"]] == [1, 2, 3, 4]
    assert [(c["kind"], c["poller"], c["error"]) for c in state["graph_calls"]][:2] == [
        ("read", True, False),
        ("read", False, True),
    ]


def test_the_demo_names_an_order_whose_card_offers_all_four_actions(demo: Demo) -> None:
    """``make demo``: the banner and the console's tips name an order whose card, looked up over signed HTTP,
    carries Mark shipped…, Update tracking…, Cancel order… and Refund…."""
    order_id = demo.actionable
    assert offered_actions(demo.graph.order(order_id)) == [SHIP, TRACKING, CANCEL, REFUND]
    assert f"/order {order_id}" in _banner(demo)
    assert any(f"/order {order_id}" in tip for tip in demo.console.tips)
    scenario = Scenario(demo, io.StringIO())
    card = scenario._lookup(ALICE, order_id, order_id)
    buttons = {e.get("action_id") for b in card.get("blocks", []) for e in b.get("elements", [])}
    assert {ids.ORDER_SHIP, ids.ORDER_TRACKING, ids.ORDER_CANCEL, ids.ORDER_REFUND} <= buttons
