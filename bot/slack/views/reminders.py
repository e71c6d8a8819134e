"""Reminder replies in an announcement's thread, their Snooze buttons, and the thread's note of who snoozed.

Reminders stay in the thread, so their clocks use the form that does not go stale (:mod:`bot.slack.views.clock`).
The Snooze buttons carry the ids of the orders the reply is about (at most ``PER_REPLY``, well within a button
value's 2000 characters); who may press them is decided on the click.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.notify.ports import Reminder
from bot.slack import ids
from bot.slack.views.clock import clock_text
from bot.slack.views.kit import Block, actions, button, escape, line_sections, mention, plural, slack_date

REMINDER_EVENT = "orderdesk_reminder"  # message metadata: {"stage": …, "order_ids": [...]}

SNOOZES = (
    (ids.SNOOZE_15M, "Snooze 15m", 15 * 60),
    (ids.SNOOZE_1H, "Snooze 1h", 3600),
    (ids.SNOOZE_4H, "Snooze 4h", 4 * 3600),
)
SNOOZE_SECONDS = {action_id: seconds for action_id, _, seconds in SNOOZES}

_TITLES = {
    "remind": ":bell: *Reminder*: {what} still {verb} acknowledgement (announced {when}).",
    "escalate": ":rotating_light: {group}*Escalation*: {what} still {verb} acknowledgement (announced {when}).",
    "ship_soon": ":package: *Ship soon*: {what} must ship within a day.",
    "ship_overdue": ":red_circle: {group}*Shipping overdue*: {what} {was} not shipped by {ship_by_words}.",
}
_IDS = re.compile(r"[0-9]{1,64}(?:,[0-9]{1,64}){0,99}")


def snooze_value(order_ids: Sequence[str]) -> str:
    return ",".join(order_ids)


def parse_snooze_value(value: object) -> list[str]:
    """The order ids a Snooze button carries; ``ValueError`` for a value orderdesk did not draw."""
    if not isinstance(value, str) or not _IDS.fullmatch(value):
        raise ValueError("not a snooze button value")
    return value.split(",")


def reminder_text(reminder: Reminder) -> str:
    """The reply's ``text`` (notification and fallback)."""
    count = len(reminder.orders)
    what = f"order {escape(reminder.orders[0][0])}" if count == 1 else plural(count, "order")
    return f"orderdesk {reminder.stage.replace('_', ' ')}: {what}"


def reminder_blocks(reminder: Reminder, group_names: Mapping[str, str] | None = None) -> list[Block]:
    count = len(reminder.orders)
    what = f"Order {escape(reminder.orders[0][0])}" if count == 1 else plural(count, "order")
    group = f"{mention(reminder.group, group_names)} " if reminder.group else ""
    ship_by = [clock for _, clock in reminder.orders if clock is not None and clock.kind == "ship_by"]
    title = _TITLES.get(reminder.stage, "*Reminder*: {what}").format(
        what=what,
        verb="awaits" if count == 1 else "await",
        was="was" if count == 1 else "were",
        when=slack_date(reminder.announced_at),
        group=group,
        ship_by_words="its ship-by date" if not ship_by else ship_by[0].stable.split(",")[0].removeprefix("ship by "),
    )
    lines = [
        f"• {escape(order_id)}" + (f" · {clock_text(clock, live=False)}" if clock else "")
        for order_id, clock in reminder.orders
    ]
    value = snooze_value([order_id for order_id, _ in reminder.orders])
    return [
        *line_sections(title, lines),
        *actions([button(text, action_id, value=value) for action_id, text, _ in SNOOZES]),
    ]


def snoozed_text(user_id: str, order_ids: Sequence[str], until: float) -> str:
    """The thread's note: who snoozed which orders until when. A digest's reminder lists several orders, and its
    Snooze snoozes them all: the note names how many."""
    what = f"order {escape(order_ids[0])}" if len(order_ids) == 1 else f"all {plural(len(order_ids), 'order')} above"
    until_words = slack_date(until, "{time} {date_short_pretty}")
    return f":zzz: {mention(user_id)} snoozed reminders for {what} until {until_words}."


def reminder_metadata(reminder: Reminder) -> dict[str, object]:
    return {
        "event_type": REMINDER_EVENT,
        "event_payload": {"stage": reminder.stage, "order_ids": [order_id for order_id, _ in reminder.orders]},
    }
