"""Shared fixtures: every test starts with an environment scrubbed of Slack and Meta variables."""

from __future__ import annotations

import os

import pytest

_SCRUB_PREFIXES = ("SLACK_", "FB_", "ORDERDESK_")


@pytest.fixture(autouse=True)
def _scrub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt reads SLACK_* by itself (and switches to OAuth mode on some); no test may inherit them."""
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES):
            monkeypatch.delenv(name, raising=False)
