"""The settings a service under test runs with (no Graph retries, so one injected fault reaches the ledger)."""

from __future__ import annotations

from bot.config import Settings
from bot.sandbox.graph import GraphSandbox


def service_settings(sandbox: GraphSandbox) -> Settings:
    """Settings for a service on ``sandbox``: references from a template, no retries inside the Graph client."""
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        fb_page_id=sandbox.page_id,
        fb_page_access_token=sandbox.token,
        merchant_ref_template="FB-{order_id}",
        graph_max_retries=0,
    )
