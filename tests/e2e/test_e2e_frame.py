"""The frame through real HTTP: both sandboxes and the bot's waitress server on 127.0.0.1 ports."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401 (registers the `stack` fixture)

from bot.slack.views.blocks import help_blocks

pytestmark = pytest.mark.e2e


def test_order_help_is_acked_and_answered_ephemerally(stack: Stack) -> None:
    sent = stack.slack.slash_command("help")

    assert sent.response.status_code == 200
    assert sent.response_url
    [answer] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url))
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"] == help_blocks()
    [ephemeral] = stack.slack_sandbox.ephemerals(user="U0AGENT1", channel="C0ORDERS")
    assert ephemeral["source"] == "response_url"


def _signed_help(stack: Stack, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"command": "/order", "text": "help", "user_id": "U0AGENT1", "channel_id": "C0ORDERS"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **stack.slack.sign(body, timestamp)}
    return body, headers


@pytest.mark.parametrize("tamper", ["bad signature", "stale timestamp", "no signature", "other body"])
def test_requests_not_signed_by_slack_get_401_and_run_nothing(stack: Stack, tamper: str) -> None:
    timestamp = int(time.time()) - 301 if tamper == "stale timestamp" else None
    body, headers = _signed_help(stack, timestamp)
    if tamper == "bad signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif tamper == "no signature":
        del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    elif tamper == "other body":
        body = body.replace(b"help", b"hacked")

    response = stack.slack.send_raw(body, headers)

    assert response.status_code == 401
    # A listener would have called Slack (auth.test, then the answer); nothing reached the Slack sandbox.
    assert stack.slack_sandbox.calls() == []


def test_a_correctly_signed_raw_request_is_accepted(stack: Stack) -> None:
    """The counterpart of the 401 cases above: the same construction, untampered, is answered."""
    body, headers = _signed_help(stack)
    assert stack.slack.send_raw(body, headers).status_code == 200


def _health_once_graph_probed(stack: Stack) -> dict[str, object]:
    """``/healthz`` answers at once and probes Graph in the background: ask until the probe has an answer."""
    with httpx.Client(base_url=stack.server.url) as http:

        def probed() -> dict[str, object] | None:
            response = http.get("/healthz")
            body: dict[str, object] = response.json()
            if body["graph"] == "unknown":  # not ready until Meta was asked once
                assert response.status_code == 503
                return None
            assert response.status_code == 200
            return body

        return stack.slack_sandbox.wait_for(probed)


def test_healthz_reports_database_graph_version_and_added_sections(stack: Stack) -> None:
    stack.server.add_status("poller", lambda: {"last_poll": None, "queue": 0})
    body = _health_once_graph_probed(stack)
    work = body.pop("work")
    assert isinstance(work, dict)
    assert set(work) == {"threads", "busy", "queued"}
    assert work["threads"] == stack.settings.http_workers * 8
    assert body == {
        "ok": True,
        "version": body["version"],
        "database": True,
        "graph": "reachable",
        "poller": {"last_poll": None, "queue": 0},
        # the single-runner jobs, and whether this process runs them
        "jobs": {
            "ack-sweeper": "running here",
            "card-bands": "running here",
            "app-home": "running here",
            "action-sweeper": "running here",
            "approvals": "running here",
        },
    }
    assert isinstance(body["version"], str)
    assert body["version"]


def test_healthz_reports_an_unreachable_graph(tmp_path: Path) -> None:
    with Stack.start(tmp_path, fb_graph_url="http://127.0.0.1:9", graph_max_retries=0) as graph_down:
        body = _health_once_graph_probed(graph_down)
    assert body["graph"] == "unreachable"
    assert body["ok"] is False
    assert body["database"] is True


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/slack/events", 405), ("POST", "/healthz", 405), ("GET", "/", 404), ("GET", "/admin", 404)],
)
def test_other_paths_and_methods_are_refused(stack: Stack, method: str, path: str, status: int) -> None:
    with httpx.Client(base_url=stack.server.url) as http:
        assert http.request(method, path).status_code == status


def test_stop_finishes_a_request_in_flight(stack: Stack) -> None:
    """Stopping while a request is being handled lets it complete (ack and answer) before the server closes."""
    started, release = threading.Event(), threading.Event()

    def slow_status() -> dict[str, object]:
        started.set()
        release.wait(timeout=10)
        return {"slow": True}

    _health_once_graph_probed(stack)
    stack.server.add_status("slow", slow_status)
    result: dict[str, httpx.Response] = {}
    with httpx.Client(base_url=stack.server.url) as http:
        client = threading.Thread(target=lambda: result.update(health=http.get("/healthz")))
        client.start()
        assert started.wait(timeout=10)
        stopper = threading.Thread(target=stack.server.stop)
        stopper.start()
        stopper.join(timeout=0.2)
        assert stopper.is_alive(), "stop() returned while a request was still being handled"
        release.set()
        stopper.join()
        client.join()
    assert result["health"].status_code == 200
    assert result["health"].json()["slow"] == {"slow": True}
    with pytest.raises(httpx.ConnectError):
        httpx.get(stack.server.url + "/healthz")


def test_workers_run_until_the_server_stops(stack: Stack) -> None:
    runs: list[int] = []
    ran_twice = threading.Event()

    def tick() -> None:
        runs.append(1)
        if len(runs) == 2:
            ran_twice.set()
        if len(runs) == 1:
            raise RuntimeError("a failing run must not end the worker")

    stack.server.add_worker("tick", tick, interval_seconds=0.01)
    assert ran_twice.wait(timeout=10)
    stack.server.stop()
    count = len(runs)
    time.sleep(0.05)
    assert len(runs) == count
