"""Shared fixtures: every test starts with an environment scrubbed of Slack and Meta variables."""

from __future__ import annotations

import os

import pytest

from bot import logs

_SCRUB_PREFIXES = ("SLACK_", "FB_", "ORDERDESK_")


@pytest.fixture(autouse=True)
def _scrub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt reads SLACK_* by itself (and switches to OAuth mode on some); no test may inherit them."""
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_log_fields() -> None:
    """In-process dispatch binds a request's log fields in the test's own thread; no test may inherit them."""
    logs.start_request()
