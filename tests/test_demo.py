"""``orderdesk demo``: the scripted scenario passes end to end, the stack starts and stops cleanly, and the pieces
the demo adds (order feed, step runner, console endpoints) behave."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.demo import ALICE, CAROL, Demo, OrderFeed, Scenario, StepFailed, main
from bot.sandbox.graph import GraphSandbox

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


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
    assert "8 of 8 steps passed." in transcript


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


def test_each_start_gets_a_fresh_database(tmp_path: Path) -> None:
    (tmp_path / "orderdesk.db").write_text("left over from an earlier run")
    (tmp_path / "orderdesk.db-wal").write_text("stale")
    with Demo.start(tmp_path) as demo:
        assert demo.settings.db_path == str(tmp_path / "orderdesk.db")
    assert not (tmp_path / "orderdesk.db-wal").exists()


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
