"""``orderdesk doctor``'s Slack checks: the serving mode against manifest.yml, the bot token and its scopes, the
app token, and every channel the poller posts to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.cli.checks import Check, failed, ok, skipped, warning
from bot.config import Settings
from bot.runtime.http import EVENTS_PATH
from bot.slack.failures import APP_TOKEN_FIXES, AUTH_ERRORS, SLACK_CALL_ERRORS, slack_failure

_FIX_FOR_SOCKET = (
    "set socket_mode_enabled: true in manifest.yml and update the app from it (or turn Socket Mode on in the app's "
    "settings); or unset SLACK_APP_TOKEN to serve over HTTP"
)
_FIX_FOR_HTTP = (
    "in manifest.yml set socket_mode_enabled: false and the request URLs (url: https://<your host>/slack/events "
    "for each slash command, settings.interactivity.request_url, settings.event_subscriptions.request_url if "
    "present), then update the app from it; or set SLACK_APP_TOKEN to use Socket Mode"
)


def _request_urls(manifest: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Every place Slack sends requests to in HTTP mode, with the URL the manifest gives it (None when missing)."""
    features = manifest.get("features") or {}
    app_settings = manifest.get("settings") or {}
    places: list[tuple[str, str | None]] = [
        (str(command.get("command")), command.get("url")) for command in features.get("slash_commands") or []
    ]
    interactivity = app_settings.get("interactivity") or {}
    if interactivity.get("is_enabled"):
        places.append(("interactivity", interactivity.get("request_url")))
    if "event_subscriptions" in app_settings:
        places.append(("event subscriptions", (app_settings["event_subscriptions"] or {}).get("request_url")))
    return places


def serving_mode(mode: str, manifest: dict[str, Any]) -> Check:
    """Slack delivers requests the way the app's manifest says (a WebSocket, or POSTs to request URLs); a bot
    serving the other way starts cleanly and then never hears a click, which no other check would show."""
    name = "serving mode"
    socket_enabled = bool((manifest.get("settings") or {}).get("socket_mode_enabled"))
    if mode == "socket":
        if socket_enabled:
            return ok(name, "Socket Mode, as manifest.yml says (socket_mode_enabled: true)")
        return warning(
            name,
            "the bot serves over Socket Mode (SLACK_APP_TOKEN is set) but manifest.yml has socket_mode_enabled: "
            "false: Slack sends requests to the request URLs instead",
            _FIX_FOR_SOCKET,
        )
    problems = []
    if socket_enabled:
        problems.append(f"socket_mode_enabled is true, so Slack sends requests over a WebSocket, not to {EVENTS_PATH}")
    places = _request_urls(manifest)
    if missing := [place for place, url in places if not url]:
        problems.append(f"no request URL for {', '.join(missing)}")
    if elsewhere := [place for place, url in places if url and not str(url).rstrip("/").endswith(EVENTS_PATH)]:
        problems.append(f"the request URL for {', '.join(elsewhere)} does not end in {EVENTS_PATH}")
    if not problems:
        return ok(name, f"HTTP mode; manifest.yml sends every request to {EVENTS_PATH}")
    return warning(name, "the bot serves over HTTP but in manifest.yml " + "; ".join(problems), _FIX_FOR_HTTP)


_FIX_BOT_AUTH = (
    "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page; "
    "if it was revoked, reinstall the app to the workspace first"
)


def _slack_call(
    name: str, call: Callable[[], SlackResponse], settings: Settings, fixes: Mapping[str, str]
) -> SlackResponse | Check:
    """One Web API call, or the failed check saying why."""
    try:
        return call()
    except SLACK_CALL_ERRORS as error:
        return failed(name, *slack_failure(error, settings, fixes))


def slack_bot_token(
    slack: WebClient, settings: Settings, wanted: frozenset[str]
) -> tuple[SlackResponse | None, list[Check]]:
    """``auth.test`` proves the token; Slack lists the token's scopes in the ``X-OAuth-Scopes`` answer header."""
    auth = _slack_call(
        "slack bot token",
        lambda: slack.auth_test(token=settings.slack_bot_token),
        settings,
        dict.fromkeys(AUTH_ERRORS, _FIX_BOT_AUTH),
    )
    if isinstance(auth, Check):
        return None, [auth, skipped("slack scopes", "needs a working bot token")]
    token = ok("slack bot token", f"team {auth['team']} ({auth['team_id']}), bot @{auth['user']} ({auth['user_id']})")
    headers = {name.lower(): value for name, value in auth.headers.items()}
    granted = {scope.strip() for scope in headers.get("x-oauth-scopes", "").split(",") if scope.strip()}
    missing = sorted(wanted - granted)
    if missing:
        scopes = failed(
            "slack scopes",
            f"the bot token lacks {', '.join(missing)}",
            "add them under OAuth & Permissions → Bot Token Scopes (or update the app from manifest.yml), then "
            "reinstall the app to the workspace and set SLACK_BOT_TOKEN to the token it shows",
        )
    else:
        scopes = ok("slack scopes", f"all {len(wanted)} scopes of manifest.yml granted")
    return auth, [token, scopes]


def slack_app_token(slack: WebClient, settings: Settings, mode: str) -> Check:
    """``apps.connections.open`` is exactly what Socket Mode calls first; it opens no connection by itself."""
    name = "slack app token"
    if not settings.slack_app_token:
        return ok(name, f"not set: the bot receives requests over HTTP at {EVENTS_PATH}")
    if mode == "http":
        return ok(name, f"not used: serve --mode http receives requests over HTTP at {EVENTS_PATH}")
    app_token = settings.slack_app_token
    answer = _slack_call(name, lambda: slack.apps_connections_open(app_token=app_token), settings, APP_TOKEN_FIXES)
    return answer if isinstance(answer, Check) else ok(name, "Socket Mode can connect")


def channel_check(slack: WebClient, settings: Settings, channel: str, auth: SlackResponse | None) -> Check:
    name = f"channel {channel}"
    if auth is None:
        return skipped(name, "needs a working bot token")
    invite = f"/invite @{auth['user']}"
    not_found = (
        f"no channel {channel} is visible to the bot: check ORDERDESK_NOTIFY_CHANNEL, ORDERDESK_ROUTES and "
        "ORDERDESK_APPROVAL_CHANNEL; "
        f"for a private channel, invite the bot first: {invite} in that channel"
    )
    answer = _slack_call(
        name,
        lambda: slack.conversations_info(token=settings.slack_bot_token, channel=channel),
        settings,
        {"channel_not_found": not_found},
    )
    if isinstance(answer, Check):
        return answer
    info = answer["channel"]
    if info.get("is_archived"):
        return failed(name, f"#{info['name']} is archived", f"unarchive #{info['name']} or choose another channel")
    if not info.get("is_member"):
        return failed(
            name, f"the bot is not a member of #{info['name']}", f"invite the bot: {invite} in #{info['name']}"
        )
    return ok(name, f"#{info['name']}, the bot is a member")
