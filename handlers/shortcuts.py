"""Shortcuts: "Look up order" on any message (``bot.ids.LOOKUP_SHORTCUT``)."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_bolt.context.respond import Respond

from bot import ids


def register(app: App) -> None:
    app.shortcut(ids.LOOKUP_SHORTCUT)(on_lookup_shortcut)


def on_lookup_shortcut(ack: Ack, respond: Respond) -> None:
    ack()  # first: the shortcut's trigger and Slack's patience both run out within 3 seconds
    # Placeholder until the order lookup lands (issue 4); it replaces this body.
    respond(text="Looking up orders from a message is not available yet.", response_type="ephemeral")
