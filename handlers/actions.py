"""Block actions (buttons on order cards): the acknowledgement and lookup features register theirs here.

Every action id lives in ``bot.ids``; none is registered yet, because no card renders a button yet.
"""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    """Nothing yet: see the module docstring."""
