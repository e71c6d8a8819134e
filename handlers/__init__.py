"""Thin Slack listeners, one module per feature, each exporting ``register(app)`` with all of that feature's
listeners (commands, shortcuts, actions, views, options, events).

The bot subscribes to two events, ``link_shared`` (unfurling order links) and ``app_home_opened`` (App Home);
everything else it does starts from a command, a shortcut, a button or its own poller. An event listener added
to a feature must come with its ``bot_events`` entry in the manifest (the manifest test checks both directions).
"""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    acknowledge,
    actions,
    approvals,
    commands,
    digest,
    export,
    find,
    home,
    lookup,
    pending,
    reminders,
    unfurl,
)

FEATURES = (commands, lookup, acknowledge, digest, export, unfurl, find, pending, reminders, home, actions, approvals)


def register_all(app: App) -> None:
    """Register every feature's listeners on ``app``: ``/order`` and its subcommands, lookup, acknowledge, digest,
    export, link unfurling."""
    for feature in FEATURES:
        feature.register(app)
