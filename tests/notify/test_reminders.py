"""Reminders that escalate, with a clock the test moves, through real HTTP: the bot's own server takes the Snooze
clicks, and every reply goes to the Slack sandbox over HTTP. Exact counts and timing per stage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk.models.blocks import Block

from bot.config import Settings
from bot.notify.poller import Notifier
from bot.notify.reminders import Reminders
from bot.sandbox.graph import GraphSandbox
from bot.slack import ids
from bot.slack.publisher import SlackPublisher
from bot.slack.views.reminders import REMINDER_EVENT
from bot.storage.sqlite.store import Store

CHANNEL = "C0ORDERS"
GROUP = "S0ONCALL"
HOUR = 3600


class Clock:
    def __init__(self) -> None:
        self.start = self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    stack: Stack
    settings: Settings
    clock: Clock
    publisher: SlackPublisher
    notifier: Notifier

    def reminders(self, store: Store | None = None) -> Reminders:
        return Reminders(self.settings, store or self.stack.services.store, self.publisher, clock=self.clock)

    def at(self, hours: float) -> None:
        self.clock.now = self.clock.start + hours * HOUR

    def replies(self, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.stack.slack_sandbox.messages(CHANNEL, thread_ts=ts) if m["ts"] != ts]

    def reminder_replies(self, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.replies(ts) if (m.get("metadata") or {}).get("event_type") == REMINDER_EVENT]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0)) as stack:
        clock = Clock()
        settings = stack.settings.with_overrides(
            notify_channel=CHANNEL,
            remind_after_seconds=HOUR,
            escalate_after_seconds=4 * HOUR,
            oncall_group=GROUP,
            digest_after=2,
        )
        publisher = SlackPublisher.from_settings(settings, pace=0, sleep=lambda _: None, clock=clock)
        notifier = Notifier(settings, stack.services.graph, stack.services.store, publisher, clock=clock)
        try:
            yield Rig(stack, settings, clock, publisher, notifier)
        finally:
            publisher.close()


def announce(rig: Rig, **fields: Any) -> tuple[str, str]:
    order = rig.stack.graph_sandbox.add_order(**fields)
    rig.notifier.poll()
    row = rig.stack.services.store.get_notification(str(order["id"]), CHANNEL)
    assert row is not None
    assert row.ts is not None
    return str(order["id"]), row.ts


def test_remind_then_escalate_once_each_at_their_times(rig: Rig) -> None:
    order_id, ts = announce(rig)
    reminders = rig.reminders()
    for hours, posted in [(0.5, 0), (0.99, 0), (1.01, 1), (1.5, 0), (3.99, 0), (4.01, 1), (5, 0), (48, 0)]:
        rig.at(hours)
        assert reminders.run() == posted, hours
    first, second = rig.reminder_replies(ts)
    assert first["metadata"]["event_payload"] == {"stage": "remind", "order_ids": [order_id]}
    assert "*Reminder*" in json.dumps(first["blocks"])
    escalation = json.dumps(second["blocks"])
    assert f"<!subteam^{GROUP}|@" in escalation  # the on-call group, by its handle
    assert "*Escalation*" in escalation
    for block in first["blocks"] + second["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert [r.stage for r in rig.stack.services.store.reminders_for(order_id)] == ["remind", "escalate"]


def test_no_reminder_during_a_snooze_and_the_thread_says_who_snoozed(rig: Rig) -> None:
    order_id, ts = announce(rig)
    reminders = rig.reminders()
    rig.at(1.01)
    assert reminders.run() == 1
    (reply,) = rig.reminder_replies(ts)
    (value,) = {e["value"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    click = rig.stack.slack.block_action(ids.SNOOZE_4H, value, channel=CHANNEL, message_ts=reply["ts"], user="U0AGENT1")
    assert click.response.status_code == 200
    sandbox = rig.stack.slack_sandbox
    note = sandbox.wait_for(lambda: [m for m in rig.replies(ts) if "snoozed reminders" in m.get("text", "")])
    assert "<@U0AGENT1> snoozed reminders for order" in note[0]["text"]
    snooze = rig.stack.services.store.snoozed(order_id)
    assert snooze is not None
    assert snooze.user_id == "U0AGENT1"
    rig.clock.now = snooze.until - 1  # the escalation fell due during the snooze
    assert reminders.run() == 0
    rig.clock.now = snooze.until + 1
    assert reminders.run() == 1
    assert reminders.run() == 0
    assert len(rig.reminder_replies(ts)) == 2


def test_reminders_stop_at_acknowledgement(rig: Rig) -> None:
    order_id, ts = announce(rig)
    reminders = rig.reminders()
    rig.at(1.01)
    assert reminders.run() == 1
    rig.stack.graph_sandbox.advance(order_id, "IN_PROGRESS")
    rig.notifier.poll()  # the poller sees it acknowledged
    rig.at(4.5)
    assert reminders.run() == 0
    assert len(rig.reminder_replies(ts)) == 1


def test_ship_by_stages_and_they_stop_at_shipment(rig: Rig) -> None:
    ship_by = datetime.fromtimestamp(rig.clock.start + 2 * 86_400, UTC).date()
    order_id, ts = announce(rig, ship_by_date=ship_by.isoformat())
    rig.stack.graph_sandbox.advance(order_id, "IN_PROGRESS")
    rig.notifier.poll()
    reminders = rig.reminders()
    ends = datetime(ship_by.year, ship_by.month, ship_by.day, tzinfo=UTC).timestamp() + 86_400
    rig.clock.now = ends - 86_400 - 1
    assert reminders.run() == 0
    rig.clock.now = ends - 86_400 + 1
    assert reminders.run() == 1
    (soon,) = rig.reminder_replies(ts)
    assert soon["metadata"]["event_payload"]["stage"] == "ship_soon"
    rig.stack.graph_sandbox.advance(order_id, "COMPLETED")  # shipped
    rig.notifier.poll()
    rig.clock.now = ends + 1
    assert reminders.run() == 0
    assert len(rig.reminder_replies(ts)) == 1


def test_a_restart_between_stages_repeats_nothing(rig: Rig) -> None:
    _, ts = announce(rig)
    rig.at(1.01)
    assert rig.reminders().run() == 1
    with Store(rig.settings.db_path, clock=rig.clock) as restarted:  # another process on the same database
        again = rig.reminders(restarted)
        assert again.run() == 0
        rig.at(4.01)
        assert again.run() == 1
        assert again.run() == 0
    assert rig.reminders().run() == 0
    assert [m["metadata"]["event_payload"]["stage"] for m in rig.reminder_replies(ts)] == ["remind", "escalate"]


def test_a_crash_between_claim_and_post_posts_once(rig: Rig) -> None:
    order_id, ts = announce(rig)
    store = rig.stack.services.store
    store.claim_reminder(order_id, "remind", channel=CHANNEL, thread_ts=ts)  # claimed, then the process died
    rig.at(1.01)
    assert rig.reminders().run() == 1
    assert rig.reminders().run() == 0
    (reply,) = rig.reminder_replies(ts)
    assert [(r.stage, r.ts) for r in store.reminders_for(order_id)] == [("remind", reply["ts"])]


def test_orders_of_a_digest_share_one_reply_and_a_late_start_skips_to_the_escalation(rig: Rig) -> None:
    orders = [str(rig.stack.graph_sandbox.add_order()["id"]) for _ in range(3)]
    rig.notifier.poll()
    (digest,) = rig.stack.slack_sandbox.messages(CHANNEL)
    rig.at(4.5)  # the bot was down through the first stage
    assert rig.reminders().run() == 1
    (reply,) = rig.reminder_replies(digest["ts"])
    payload = reply["metadata"]["event_payload"]
    assert (payload["stage"], sorted(payload["order_ids"])) == ("escalate", sorted(orders))
    assert "3 orders" in json.dumps(reply["blocks"])
    assert rig.reminders().run() == 0


def test_an_escalation_is_copied_once_to_users_who_asked_for_it_on_home(rig: Rig) -> None:
    order_id, ts = announce(rig)
    store = rig.stack.services.store
    store.set_home_preferences("U0AGENT2", dm_escalations=True, daily_summary=True)
    store.set_home_preferences("U0AGENT3", dm_escalations=False, daily_summary=True)
    rig.at(4.01)
    assert rig.reminders().run() == 1
    assert rig.reminders().run() == 0
    opened = [c["args"]["users"] for c in rig.stack.slack_sandbox.calls("conversations.open")]
    assert opened == ["U0AGENT2"]
    dm = rig.stack.slack_sandbox.dm_channel("U0AGENT2")
    assert [c["args"]["channel"] for c in rig.stack.slack_sandbox.calls("chat.postMessage")].count(dm) >= 1
    stages = sorted(r.stage for r in store.reminders_for(order_id))
    assert stages == ["escalate", "escalate>U0AGENT2", "remind"]  # remind passed over: the bot was down
    (reply,) = rig.reminder_replies(ts)
    assert reply["metadata"]["event_payload"]["stage"] == "escalate"


def test_a_claim_whose_reply_the_thread_has_is_completed_and_not_counted_as_posted(rig: Rig) -> None:
    import sqlite3

    order_id, ts = announce(rig)
    rig.at(1.01)
    assert rig.reminders().run() == 1
    with sqlite3.connect(rig.settings.db_path) as db:  # the process died after posting, before recording the ts
        db.execute("UPDATE reminders SET ts = NULL")
    db.close()
    rig.at(1.5)
    assert rig.reminders().run() == 0  # found in the thread: completed, nothing posted
    (reply,) = rig.reminder_replies(ts)
    assert [(r.stage, r.ts) for r in rig.stack.services.store.reminders_for(order_id)] == [("remind", reply["ts"])]


def test_a_snooze_whose_thread_note_slack_refuses_tells_the_snoozer_and_still_holds(rig: Rig) -> None:
    order_id, ts = announce(rig)
    rig.at(1.01)
    assert rig.reminders().run() == 1
    (reply,) = rig.reminder_replies(ts)
    (value,) = {e["value"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    rig.stack.slack_sandbox.fail_next("chat.postMessage", 3, status=200, error="is_archived")  # every attempt
    click = rig.stack.slack.block_action(ids.SNOOZE_1H, value, channel=CHANNEL, message_ts=reply["ts"], user="U0AGENT1")
    url = click.response_url or ""
    (answer,) = rig.stack.slack_sandbox.wait_for(lambda: rig.stack.slack_sandbox.responses(url), timeout=15)
    assert "Slack did not take the note in the thread" in answer["text"]
    assert rig.stack.services.store.snoozed(order_id) is not None


def test_the_snooze_handler_counts_from_its_clock_and_a_digest_note_names_the_count(rig: Rig) -> None:
    from slack_bolt import BoltContext

    from bot.slack.views.reminders import snoozed_text
    from handlers.reminders import snooze

    order_id, _ = announce(rig)
    context = BoltContext({"settings": rig.settings, "store": rig.stack.services.store, "user_id": "U0AGENT1"})
    body = {"user": {"id": "U0AGENT1", "team_id": "T0SANDBOX"}}
    answers: list[Any] = []
    snooze(body, {"action_id": ids.SNOOZE_15M, "value": order_id}, answers.append, context, clock=lambda: 1000.0)
    snoozed = rig.stack.services.store.snoozed(order_id)
    assert snoozed is not None, answers
    assert snoozed.until == 1000.0 + 15 * 60
    assert "all 3 orders above" in snoozed_text("U0AGENT1", ["1", "2", "3"], 1000.0)
