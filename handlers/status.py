"""``/order status``: the integration's health for whoever is on call, answered to the asker only.

Dispatched by :mod:`handlers.commands`. Everything but the Slack token's scopes comes from the database
(:mod:`bot.notify.health`), so ``orderdesk status`` prints the same.
"""

from __future__ import annotations

import time

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.notify.health import health, status_lines
from bot.slack.publisher import SlackPublisher
from bot.slack.views.help import message_blocks
from bot.slack.views.status import status_blocks
from bot.storage.ports import Storage

USAGE = "Usage: `/order status` (the integration's health: polls, queue, errors, Meta's rate limit, workers)"


def register(app: App) -> None:
    """Nothing to register: ``/order status`` is dispatched by :mod:`handlers.commands`."""


def slack_scopes(client: WebClient) -> str:
    """The bot token's scopes as Slack lists them (``X-OAuth-Scopes`` of ``auth.test``), in words."""
    try:
        answer = client.auth_test()
    except (SlackApiError, SlackClientError, OSError) as error:
        return f"could not ask Slack ({type(error).__name__})"
    headers = {name.lower(): value for name, value in (answer.headers or {}).items()}
    value = headers.get("x-oauth-scopes")
    scopes = value[0] if isinstance(value, list) else value
    return ", ".join(sorted(s.strip() for s in str(scopes).split(",") if s.strip())) if scopes else "not listed"


def status(argument: str, respond: Respond, context: BoltContext) -> None:
    if argument:
        respond(blocks=message_blocks(USAGE), text=USAGE, response_type="ephemeral")
        return
    settings: Settings = context["settings"]
    store: Storage = context["store"]
    publisher: SlackPublisher | None = context.get("publisher")
    state = health(store, now=time.time(), zone=settings.zone, queued=len(publisher) if publisher else None)
    lines = status_lines(state, poll_seconds=settings.poll_seconds)
    client = context.client
    if client is not None:
        lines.append(("Slack token scopes", slack_scopes(client)))
    respond(blocks=status_blocks(lines), text="orderdesk status", response_type="ephemeral")
