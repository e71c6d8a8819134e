"""Events API listeners. The bot subscribes to no events (``manifest.yml`` declares none): everything it does
starts from a command, a shortcut, a button or its own poller. An event listener added here must come with its
``bot_events`` entry in the manifest (the manifest test checks both directions)."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    """Nothing to register: see the module docstring."""
