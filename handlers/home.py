"""App Home: ``app_home_opened`` publishes the user's Home, and its preference checkboxes are saved and redrawn.

Listeners only: the Home itself is drawn by :mod:`bot.slack.views.home` and published by
:class:`bot.slack.home.HomePublisher`. A Slack Connect guest's Home says they cannot use orderdesk, and holds no
orders.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack import ids
from bot.slack.access import Access, workspace_of
from bot.slack.home import HomePublisher
from bot.slack.later import Later
from bot.slack.views.home import PREF_DAILY_SUMMARY, PREF_DM_ESCALATIONS
from bot.storage.ports import Storage


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(ids.HOME_PREFERENCES)(on_preferences)


def _publisher(context: BoltContext) -> HomePublisher:
    settings: Settings = context["settings"]
    store: Storage = context["store"]
    client: WebClient = context.client
    return HomePublisher(settings, store, client)


def on_home_opened(ack: Ack, event: dict[str, Any], context: BoltContext, later: Later) -> None:
    ack()
    if event.get("tab") != "home" or not isinstance(event.get("user"), str):
        return
    later(home_opened, str(event["user"]), context)


def _refused(user_id: str, context: BoltContext, home: HomePublisher) -> bool:
    access: Access | None = context.get("access")
    if access is None:
        return False
    words = access.refusal(
        user_id=user_id, workspace_id=workspace_of(context), client=context.client, surface="app_home"
    )
    if words is not None:
        home.publish_refusal(user_id, words)
    return words is not None


def home_opened(user_id: str, context: BoltContext) -> None:
    home = _publisher(context)
    if not _refused(user_id, context, home):
        home.opened(user_id)


def on_preferences(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, later: Later) -> None:
    ack()
    later(save_preferences, body, action, context)


def save_preferences(body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    user_id = str(context.user_id or "")
    home = _publisher(context)
    if not user_id or _refused(user_id, context, home):
        return
    name, _, turn = str(action.get("value")).partition(":")
    if name not in (PREF_DM_ESCALATIONS, PREF_DAILY_SUMMARY) or turn not in ("on", "off"):
        return  # not a button orderdesk drew: nothing changes
    store: Storage = context["store"]
    user = store.home_user(user_id)
    preferences = {
        PREF_DM_ESCALATIONS: user.dm_escalations if user else False,
        PREF_DAILY_SUMMARY: user.daily_summary if user else False,
    }
    preferences[name] = turn == "on"
    store.set_home_preferences(
        user_id, dm_escalations=preferences[PREF_DM_ESCALATIONS], daily_summary=preferences[PREF_DAILY_SUMMARY]
    )
    home.mark_stale(user_id)
    home.publish(user_id)
