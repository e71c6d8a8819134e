"""What ``/order status`` and ``orderdesk status`` say, from the database: Meta's rate-limit headroom, the workers'
last runs, the backlog; and, end to end over real HTTP, ``/order status`` itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from e2e_stack import Stack

from bot.notify.health import (
    USAGE,
    UsageRecorder,
    WorkerRecorder,
    health,
    meta_scopes,
    parse_usage,
    refresh_scopes,
    status_lines,
)
from bot.storage.sqlite.store import Store

BUC = json.dumps(
    {
        "1122334455": [
            {
                "type": "pages",
                "call_count": 37,
                "total_cputime": 12,
                "total_time": 40,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_usage_is_the_highest_percentage_and_bad_headers_are_ignored() -> None:
    assert parse_usage(BUC) == {"used": 40.0, "regain_minutes": 0.0}
    assert parse_usage("not json") is None
    assert parse_usage("[1]") is None
    assert parse_usage('{"1": [{"call_count": "x"}, 3]}') == {"used": 0.0, "regain_minutes": 0.0}


def test_an_unchanged_usage_is_written_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "o.db", clock=clock) as store:
        record = UsageRecorder(store, clock=clock)
        record(BUC)
        first = store.get_state(USAGE)
        clock.now += 30
        record(BUC)
        assert store.get_state(USAGE) == first
        record(BUC.replace("37", "100"))
        assert json.loads(store.get_state(USAGE) or "{}")["used"] == 100.0
        clock.now += 61
        record(BUC.replace("37", "100"))
        assert json.loads(store.get_state(USAGE) or "{}")["at"] == clock.now


def test_status_lines_in_words(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "o.db", clock=clock) as store:
        UsageRecorder(store, clock=clock)(BUC)
        runs = WorkerRecorder(store, clock=clock)
        runs.started(["poller", "card-bands"])
        runs("poller", None)
        runs("card-bands", RuntimeError("database is locked"))
        store.upsert_order({"id": "7001", "order_status": {"state": "CREATED"}, "created": "2020-01-01T00:00:00"})
        clock.now += 120
        lines = dict(status_lines(health(store, now=clock.now, zone=UTC), poll_seconds=60))
    assert lines["Last successful poll"].startswith("never")
    assert lines["Meta rate limit"] == "60% left of Meta's rate limit (as of 2 min ago)"
    assert lines["Backlog"] == "1 orders awaiting acknowledgement or shipment, 1 overdue"
    assert lines["Workers"] == "card-bands: failed 2 min ago: RuntimeError: database is locked; poller: ran 2 min ago"


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path) as started:
        yield started


@pytest.mark.e2e
def test_order_status_over_http(stack: Stack) -> None:
    order = stack.graph_sandbox.add_order()
    sent = stack.slack.slash_command(str(order["id"]))  # a Graph read: its usage header is recorded
    stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    sent = stack.slack.slash_command("status")
    assert sent.response.status_code == 200
    url = sent.response_url or ""
    (answer,) = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(url))
    assert answer["response_type"] == "ephemeral"
    text = json.dumps(answer["blocks"])
    assert "% left of Meta's rate limit" in text
    assert "Slack token scopes" in text
    assert "commands" in text  # a scope the sandbox grants
    assert "ack-sweeper: " in text
    assert stack.settings.fb_page_access_token not in text


def test_the_last_error_is_said_in_words_in_the_shop_time_zone_and_scopes_are_kept(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from bot.notify.poller import LAST_ERROR

    clock = Clock()  # 1_800_000_000 is Fri 15 Jan 2027 08:00 UTC
    with Store(tmp_path / "o.db", clock=clock) as store:
        store.set_state(LAST_ERROR, json.dumps({"at": "2027-01-15T08:00:00+00:00", "error": "Slack refused the post"}))
        asked: list[str] = []

        def slack() -> str:
            asked.append("slack")
            return "chat:write, commands"

        def meta() -> str:
            asked.append("meta")
            return meta_scopes({"data": [{"permission": "b", "status": "granted"}, {"permission": "a", "status": "x"}]})

        refresh_scopes(store, now=clock.now, slack=slack, meta=meta)
        refresh_scopes(store, now=clock.now + 599, slack=slack, meta=meta)  # kept: not asked again
        assert asked == ["slack", "meta"]
        clock.now += 7200
        lines = dict(status_lines(health(store, now=clock.now, zone=ZoneInfo("Europe/Berlin")), poll_seconds=60))
        refresh_scopes(store, now=clock.now, slack=slack, meta=meta)
        assert asked == ["slack", "meta", "slack", "meta"]
    assert lines["Last error"] == "Slack refused the post (2 h ago, Fri 15 Jan 09:00 CET)"
    assert lines["Slack token scopes"] == "chat:write, commands (as of 2 h ago)"
    assert lines["Meta Page token scopes"] == "b (as of 2 h ago)"


@pytest.mark.e2e
def test_order_status_and_orderdesk_status_print_the_same_lines(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import status as cli_status

    sent = stack.slack.slash_command("status")
    url = sent.response_url or ""
    (answer,) = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(url))
    fields = [f["text"] for b in answer["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    shown = dict(field.removeprefix("*").split("*\n", 1) for field in fields)
    assert "commerce_account_manage_orders" in shown["Meta Page token scopes"]
    assert "commands" in shown["Slack token scopes"]
    for name, value in stack.settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert cli_status.main([]) == 0
    printed = capsys.readouterr().out
    for label, words in shown.items():
        assert f"{label.lower() + ':':<34}{words.replace('&gt;', '>')}" in printed, label
