"""``/order status``: the integration's health for whoever is on call, answered to the asker only.

Dispatched by :mod:`handlers.commands`. Everything comes from the database (:mod:`bot.notify.health`), the
tokens' scopes included (asked here, at most every few minutes, and kept there), and :func:`status_words` is what
``orderdesk status`` prints too, line for line.
"""

from __future__ import annotations

import time

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.graph.errors import GraphError
from bot.notify.health import health, meta_scopes, refresh_scopes, status_lines
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


def page_token_scopes(graph: GraphClient) -> str:
    """The Page token's granted permissions (``GET /me/permissions``), in words."""
    try:
        return meta_scopes(graph.send("GET", "me/permissions", {}))
    except GraphError as error:
        return f"could not ask Meta ({error.message})"


def status_words(
    settings: Settings, store: Storage, *, client: WebClient | None = None, graph: GraphClient | None = None
) -> list[tuple[str, str]]:
    """The lines both ``/order status`` and ``orderdesk status`` print. Given the clients (``/order status``), the
    tokens' scopes are asked again when the kept answer is stale; without (the terminal, which may have no network),
    the kept answer is printed as it is."""
    now = time.time()
    if client is not None and graph is not None:
        refresh_scopes(store, now=now, slack=lambda: slack_scopes(client), meta=lambda: page_token_scopes(graph))
    return status_lines(health(store, now=now, zone=settings.zone), poll_seconds=settings.poll_seconds)


def status(argument: str, respond: Respond, context: BoltContext) -> None:
    if argument:
        respond(blocks=message_blocks(USAGE), text=USAGE, response_type="ephemeral")
        return
    lines = status_words(context["settings"], context["store"], client=context.client, graph=context.get("graph"))
    respond(blocks=status_blocks(lines), text="orderdesk status", response_type="ephemeral")
