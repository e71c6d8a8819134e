"""Modal submissions (``view_submission``): the "Acknowledge with reference…" modal registers here.

No modal is opened yet, so nothing is registered.
"""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    """Nothing yet: see the module docstring."""
