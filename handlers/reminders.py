"""The Snooze buttons of reminders: no reminder for those orders before the chosen time, and a note in the thread
saying who snoozed until when. Anyone who may acknowledge may snooze (``ORDERDESK_ACK_ALLOWED``).

A Snooze on a digest's reminder snoozes every order that reminder lists (its buttons carry their ids), and the
note says how many. If Slack does not take the note (after the lane's retries), the snoozer is told privately:
the snooze holds, but the thread does not show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.actions.permissions import Permissions
from bot.config import Settings
from bot.slack import payloads
from bot.slack.access import Access, workspace_of
from bot.slack.lanes import call
from bot.slack.later import Later
from bot.slack.publisher import SlackPublisher, answer_blocks
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import plural, slack_date
from bot.slack.views.reminders import SNOOZE_SECONDS, parse_snooze_value, snoozed_text
from bot.storage.ports import Storage

SNOOZE_AUDIT = "snooze_reminders"
NOTE_ATTEMPTS = 3  # the thread's note: retried briefly while the snoozer waits to hear if it failed
NOT_OURS = "That button did not come from orderdesk, so nothing was snoozed."


def register(app: App) -> None:
    for action_id in SNOOZE_SECONDS:
        app.action(action_id)(on_snooze)


def on_snooze(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext, later: Later
) -> None:
    ack()
    later(snooze, body, action, respond, context)


def _thread(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and the thread the clicked reminder is in."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    thread_ts = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
    return (str(channel) if channel else None), (str(thread_ts) if thread_ts else None)


def snooze(
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    *,
    clock: Callable[[], float] | None = None,
) -> None:
    """Snooze the reminder's orders from ``clock()`` (by default the publisher's clock, which tests move)."""
    settings: Settings = context["settings"]
    store: Storage = context["store"]
    access: Access | None = context.get("access")
    publisher: SlackPublisher | None = context.get("publisher")
    now = (clock or (publisher.clock if publisher is not None else time.time))()
    seconds = SNOOZE_SECONDS.get(str(action.get("action_id")))
    try:
        order_ids = parse_snooze_value(action.get("value"))
        if seconds is None or any(store.get_order(order_id) is None for order_id in order_ids):
            raise ValueError("not an order orderdesk announced")
    except ValueError:
        respond(blocks=message_blocks(NOT_OURS), text=NOT_OURS, response_type="ephemeral", replace_original=False)
        return
    actor = payloads.actor(body, context.user_id, workspace_of(context))
    permissions = Permissions(settings.ack_allowed, store, access.members if access else None)
    refusal = permissions.refusal(actor, order_id=order_ids[0], key=None, action=SNOOZE_AUDIT)
    if refusal is not None:
        blocks = answer_blocks(refusal)
        respond(
            blocks=blocks, text="You may not snooze these reminders", response_type="ephemeral", replace_original=False
        )
        return
    until = now + seconds
    with store.transaction():
        for order_id in order_ids:
            store.snooze(order_id, until=until, user_id=actor.user_id)
            store.add_audit(
                action=SNOOZE_AUDIT,
                order_id=order_id,
                user_id=actor.user_id,
                team_id=actor.user_team_id,
                outcome="succeeded",
                detail=f"until {int(until)}",
            )
    channel, thread_ts = _thread(body)
    if publisher is not None and channel and thread_ts:
        note = partial(
            call,
            "chat_postMessage",
            channel=channel,
            thread_ts=thread_ts,
            text=snoozed_text(actor.user_id, order_ids, until),
        )
        if publisher.lanes.submit(channel, note, attempts=NOTE_ATTEMPTS, urgent=True).exception() is not None:
            text = (
                f"Snoozed: no reminders for {plural(len(order_ids), 'order')} until "
                f"{slack_date(until, '{time} {date_short_pretty}')}. Slack did not take the note in the thread, "
                "so the others there do not see it yet: say so in the thread if it matters."
            )
            respond(blocks=message_blocks(text), text=text, response_type="ephemeral", replace_original=False)
