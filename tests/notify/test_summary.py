"""The daily summary at 09:00 Europe/Berlin, with a clock the test moves, posted to the Slack sandbox over HTTP:
once a day across daylight-saving changes, restarts and crashes, and on a day with nothing to report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.config import Settings
from bot.notify.summary import DailySummary
from bot.sandbox.slack import SlackSandbox
from bot.slack.publisher import SlackPublisher
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    slack: SlackSandbox
    settings: Settings
    store: Store
    publisher: SlackPublisher
    clock: Clock

    def summary(self, store: Store | None = None) -> DailySummary:
        return DailySummary(self.settings, store or self.store, self.publisher, clock=self.clock)

    def posted(self) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(CHANNEL) if (m.get("metadata") or {}).get("event_type")]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    slack = SlackSandbox()
    server = slack.serve()
    clock = Clock()
    try:
        settings = Settings(
            slack_bot_token=slack.bot_token,
            slack_signing_secret="secret",
            slack_api_url=f"{server.url}/api/",
            fb_page_id="1122334455",
            fb_page_access_token="token",
            db_path=str(tmp_path / "orderdesk.db"),
            notify_channel=CHANNEL,
            timezone="Europe/Berlin",
            summary_at="09:00",
        )
        publisher = SlackPublisher.from_settings(settings, pace=0, sleep=lambda _: None, clock=clock)
        with Store(settings.db_path, clock=clock) as store:
            yield Rig(slack, settings, store, publisher, clock)
        publisher.close()
    finally:
        server.stop()


def run_at(rig: Rig, when: str, summary: DailySummary | None = None) -> bool:
    rig.clock.now = utc(when)
    return (summary or rig.summary()).run()


def test_fires_once_at_nine_berlin_time_on_the_day_after_the_clocks_go_back_on_a_day_with_no_orders(rig: Rig) -> None:
    # 25 Oct 2026: Berlin goes from UTC+2 to UTC+1. On the 26th, 09:00 there is 08:00 UTC.
    assert run_at(rig, "2026-10-26T07:59:59") is False
    assert run_at(rig, "2026-10-26T08:00:00") is True
    assert run_at(rig, "2026-10-26T08:00:30") is False
    assert run_at(rig, "2026-10-26T22:59:00") is False  # 23:59 there: still the 26th
    (message,) = rig.posted()
    assert message["metadata"]["event_payload"] == {"day": "2026-10-26"}
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "Daily summary · Mon 26 Oct" in text
    assert "A quiet day" in text
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert run_at(rig, "2026-10-27T08:00:00") is True  # and the next day again


def test_the_day_the_clocks_change_covers_25_hours_and_spring_forward_fires_at_nine_too(rig: Rig) -> None:
    summary = rig.summary()
    day = datetime(2026, 10, 25).date()
    assert summary.fire_time(day) - summary.fire_time(day.replace(day=24)) == 25 * 3600
    # 29 Mar 2026: Berlin goes from UTC+1 to UTC+2. On the 30th, 09:00 there is 07:00 UTC.
    assert run_at(rig, "2026-03-30T06:59:59") is False
    assert run_at(rig, "2026-03-30T07:00:00") is True
    assert len(rig.posted()) == 1


def test_counts_the_last_day_and_lists_what_is_overdue_now(rig: Rig) -> None:
    def order(n: int, state: str, created: str, updated: str, **edges: Any) -> dict[str, Any]:
        return {
            "id": str(7000 + n),
            "order_status": {"state": state},
            "created": created,
            "last_updated": updated,
            **{name: {"data": [{"id": "1"}]} for name in edges},
        }

    inside, before = "2026-10-26T12:00:00+00:00", "2026-10-20T12:00:00+00:00"
    rig.store.upsert_orders(
        [
            order(1, "CREATED", inside, inside),  # new, and its ack is overdue by the next morning
            order(2, "IN_PROGRESS", before, inside),  # acknowledged
            order(3, "IN_PROGRESS", before, inside, shipments=1),  # shipped
            order(4, "IN_PROGRESS", before, inside, cancellations=1),  # cancelled
            order(5, "COMPLETED", before, inside, shipments=1, refunds=1),  # refunded
            order(6, "IN_PROGRESS", before, before),  # nothing happened to it that day
        ]
    )
    assert run_at(rig, "2026-10-27T08:00:00") is True
    (message,) = rig.posted()
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1] for f in message["blocks"][1]["fields"]}
    assert fields == {
        "New": "1",
        "Acknowledged": "1",
        "Shipped": "1",
        "Cancelled": "1",
        "Refunded": "1",
        "Overdue now": "1",
    }
    text = json.dumps(message["blocks"])
    assert "7001" in text
    assert "ack overdue since" in text


def test_a_restart_or_a_second_process_never_posts_it_twice(rig: Rig) -> None:
    assert run_at(rig, "2026-10-26T08:00:00") is True
    with Store(rig.settings.db_path, clock=rig.clock) as other:
        assert run_at(rig, "2026-10-26T09:00:00", rig.summary(other)) is False
    assert len(rig.posted()) == 1


def test_a_crash_between_claim_and_post_is_finished_once(rig: Rig) -> None:
    rig.clock.now = utc("2026-10-26T08:00:00")
    rig.store.claim_summary("2026-10-26", CHANNEL)  # claimed, then the process died
    assert run_at(rig, "2026-10-26T08:01:00") is False  # nothing new to claim; the unfinished one is posted
    assert len(rig.posted()) == 1
    assert run_at(rig, "2026-10-26T08:02:00") is False
    assert len(rig.posted()) == 1
    row = rig.store.get_summary("2026-10-26")
    assert row is not None
    assert row.ts == rig.posted()[0]["ts"]


def test_no_summary_time_means_no_summary(rig: Rig) -> None:
    rig.settings = rig.settings.with_overrides(summary_at=None)
    assert run_at(rig, "2026-10-26T08:00:00") is False
    assert rig.posted() == []


def test_users_who_asked_get_a_copy_in_their_dm_once(rig: Rig) -> None:
    rig.store.set_home_preferences("U0AGENT2", dm_escalations=False, daily_summary=True)
    rig.store.set_home_preferences("U0AGENT3", dm_escalations=True, daily_summary=False)
    assert run_at(rig, "2026-10-26T08:00:00") is True
    assert run_at(rig, "2026-10-26T09:00:00") is False
    assert [c["args"]["users"] for c in rig.slack.calls("conversations.open")] == ["U0AGENT2"]
    copy = rig.store.get_summary("2026-10-26>U0AGENT2")
    assert copy is not None
    assert copy.ts is not None  # sent (or, where the DM refused it, passed over): never again
    assert rig.store.unfinished_summaries() == []
