"""The settings that point a real bot at the two sandboxes: what the demo, the end-to-end tests and the
benchmarks all build, in one place, so they stay wired exactly as a deployment's environment would be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackSandbox

# Not a secret: the sandboxes' orders are made up, and the demo and the tests need find to work out of the box.
SANDBOX_SEARCH_KEY = "orderdesk-sandbox-search-key"


def sandbox_settings(
    graph: GraphSandbox, graph_url: str, slack: SlackSandbox, db_path: str | Path, **overrides: Any
) -> Settings:
    """Settings for the served sandboxes (``graph_url`` is the Graph sandbox's server URL); ``overrides`` change
    any other field, e.g. ``merchant_ref_template="FB-{order_id}"``."""
    return Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=DEFAULT_SIGNING_SECRET,
        slack_api_url=slack.api_url,
        fb_page_id=graph.page_id,
        fb_page_access_token=graph.token,
        fb_graph_url=graph_url,
        db_path=str(db_path),
        search_key=SANDBOX_SEARCH_KEY,
    ).with_overrides(**overrides)
