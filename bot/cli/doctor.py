"""``orderdesk doctor``: check a deployment's settings, tokens, scopes, database and channels before going live.

Every check prints one line, and every failure a ``fix:`` line saying exactly what to change, because the person
running this is usually setting the bot up for the first time, and Slack's or Meta's raw error codes do not say
which page of which console to open. Checks that depend on a failed one are shown as skipped rather than as more
failures. A warning (``!``) is a setup that runs but not as meant (the serving mode against manifest.yml): it
has fix lines too, and leaves the exit status alone. Doctor creates nothing: a database that does not exist yet
is not created. Nothing printed ever contains a token: Slack is quoted by its error code only, Graph errors are
scrubbed by the client, and settings problems never echo values.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.config import ConfigError, Settings, setting_variable
from bot.graph.client import GraphClient, GraphError, GraphPermissionError, InvalidTokenError, NotFoundError
from bot.storage.sqlite.store import DatabaseUnusable, Store, database_path_problem, in_memory

EVENTS_PATH = "/slack/events"  # where `serve --mode http` takes Slack's requests (bot.runtime.serve)
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
_SLACK_TIMEOUT_SECONDS = 10


class Status(Enum):
    OK = "✓"
    FAILED = "✗"
    WARNING = "!"  # works, but not as the operator probably means it to: shown with fixes, exit status unchanged
    SKIPPED = "–"


@dataclass(frozen=True)
class Check:
    """One printed verdict; ``fixes`` are the steps that turn a failure green."""

    name: str
    status: Status
    detail: str
    fixes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"{self.status.value} {self.name}: {self.detail}", *(f"  fix: {fix}" for fix in self.fixes)]


def _ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def _failed(name: str, detail: str, *fixes: str) -> Check:
    return Check(name, Status.FAILED, detail, fixes)


def _skipped(name: str, because: str) -> Check:
    return Check(name, Status.SKIPPED, f"skipped: {because}")


def _warning(name: str, detail: str, *fixes: str) -> Check:
    return Check(name, Status.WARNING, detail, fixes)


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """The Slack app manifest as a dict; raises ``OSError``, ``yaml.YAMLError`` or ``TypeError`` if unreadable."""
    manifest = yaml.safe_load(path.read_text())
    if not isinstance(manifest, dict):
        raise TypeError(f"{path} is not a YAML mapping")
    return manifest


def bot_scopes(manifest: dict[str, Any]) -> frozenset[str]:
    """The scopes the app is designed for: ``oauth_config.scopes.bot`` of the Slack app manifest."""
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def manifest_bot_scopes(path: Path = MANIFEST) -> frozenset[str]:
    return bot_scopes(load_manifest(path))


def diagnose(settings: Settings, manifest: dict[str, Any], mode: str) -> Iterator[Check]:
    """Every check after settings, in order and lazily, so each line shows up while the next call is made.

    ``mode`` is how ``orderdesk serve`` will run: ``socket`` or ``http``."""
    yield _serving_mode(mode, manifest)
    slack = WebClient(base_url=settings.slack_api_url, timeout=_SLACK_TIMEOUT_SECONDS)
    auth, checks = _slack_bot_token(slack, settings, bot_scopes(manifest))
    yield from checks
    yield _slack_app_token(slack, settings, mode)
    yield from _graph(settings)
    yield _database(settings)
    # The notification channel and every routed channel: the poller posts to all of them.
    for channel in dict.fromkeys([settings.notify_channel, *(route.channel for route in settings.routes)]):
        if channel:
            yield _channel(slack, settings, channel, auth)


# --- serving mode --------------------------------------------------------------------------------------------

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


def _serving_mode(mode: str, manifest: dict[str, Any]) -> Check:
    """Slack delivers requests the way the app's manifest says (a WebSocket, or POSTs to request URLs); a bot
    serving the other way starts cleanly and then never hears a click, which no other check would show."""
    name = "serving mode"
    socket_enabled = bool((manifest.get("settings") or {}).get("socket_mode_enabled"))
    if mode == "socket":
        if socket_enabled:
            return _ok(name, "Socket Mode, as manifest.yml says (socket_mode_enabled: true)")
        return _warning(
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
        return _ok(name, f"HTTP mode; manifest.yml sends every request to {EVENTS_PATH}")
    return _warning(name, "the bot serves over HTTP but in manifest.yml " + "; ".join(problems), _FIX_FOR_HTTP)


# --- Slack ---------------------------------------------------------------------------------------------------

_FIX_BOT_AUTH = (
    "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page; "
    "if it was revoked, reinstall the app to the workspace first"
)
_FIX_APP_AUTH = (
    "set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope (app settings → Basic "
    "Information → App-Level Tokens) and turn Socket Mode on; or unset it to receive requests over HTTP"
)
_AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive")
APP_TOKEN_FIXES = dict.fromkeys((*_AUTH_ERRORS, "not_allowed_token_type"), _FIX_APP_AUTH)
"""The fixes for ``apps.connections.open``, Socket Mode's first call: shared by doctor and ``serve``."""

SLACK_CALL_ERRORS = (SlackApiError, SlackClientError, OSError)
"""What a Web API call raises when Slack refuses it or cannot be reached (urllib's errors are ``OSError``)."""


def slack_failure(error: Exception, settings: Settings, fixes: Mapping[str, str]) -> tuple[str, str]:
    """A failed Web API call in words: (what happened, what to change), by Slack's error code or the network's
    reason, so the answer never holds a token. ``fixes`` maps Slack's error codes to the change that fixes each.

    Doctor prints the pair as a check and its fix; ``orderdesk serve`` prints the same pair and stops when Socket
    Mode cannot connect, rather than a library's traceback.
    """
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
        return f"Slack answered {code}", fixes.get(code, f"see https://api.slack.com/methods for {code}")
    reason = getattr(error, "reason", error)
    return (
        f"cannot reach Slack: {reason}",
        f"check SLACK_API_URL ({settings.slack_api_url}) and this host's network and proxy settings",
    )


def _slack_call(
    name: str, call: Callable[[], SlackResponse], settings: Settings, fixes: Mapping[str, str]
) -> SlackResponse | Check:
    """One Web API call, or the failed check saying why."""
    try:
        return call()
    except SLACK_CALL_ERRORS as error:
        return _failed(name, *slack_failure(error, settings, fixes))


def _slack_bot_token(
    slack: WebClient, settings: Settings, wanted: frozenset[str]
) -> tuple[SlackResponse | None, list[Check]]:
    """``auth.test`` proves the token; Slack lists the token's scopes in the ``X-OAuth-Scopes`` answer header."""
    auth = _slack_call(
        "slack bot token",
        lambda: slack.auth_test(token=settings.slack_bot_token),
        settings,
        dict.fromkeys(_AUTH_ERRORS, _FIX_BOT_AUTH),
    )
    if isinstance(auth, Check):
        return None, [auth, _skipped("slack scopes", "needs a working bot token")]
    token = _ok("slack bot token", f"team {auth['team']} ({auth['team_id']}), bot @{auth['user']} ({auth['user_id']})")
    headers = {name.lower(): value for name, value in auth.headers.items()}
    granted = {scope.strip() for scope in headers.get("x-oauth-scopes", "").split(",") if scope.strip()}
    missing = sorted(wanted - granted)
    if missing:
        scopes = _failed(
            "slack scopes",
            f"the bot token lacks {', '.join(missing)}",
            "add them under OAuth & Permissions → Bot Token Scopes (or update the app from manifest.yml), then "
            "reinstall the app to the workspace and set SLACK_BOT_TOKEN to the token it shows",
        )
    else:
        scopes = _ok("slack scopes", f"all {len(wanted)} scopes of manifest.yml granted")
    return auth, [token, scopes]


def _slack_app_token(slack: WebClient, settings: Settings, mode: str) -> Check:
    """``apps.connections.open`` is exactly what Socket Mode calls first; it opens no connection by itself."""
    name = "slack app token"
    if not settings.slack_app_token:
        return _ok(name, f"not set: the bot receives requests over HTTP at {EVENTS_PATH}")
    if mode == "http":
        return _ok(name, f"not used: serve --mode http receives requests over HTTP at {EVENTS_PATH}")
    app_token = settings.slack_app_token
    answer = _slack_call(name, lambda: slack.apps_connections_open(app_token=app_token), settings, APP_TOKEN_FIXES)
    return answer if isinstance(answer, Check) else _ok(name, "Socket Mode can connect")


def _channel(slack: WebClient, settings: Settings, channel: str, auth: SlackResponse | None) -> Check:
    name = f"channel {channel}"
    if auth is None:
        return _skipped(name, "needs a working bot token")
    invite = f"/invite @{auth['user']}"
    not_found = (
        f"no channel {channel} is visible to the bot: check ORDERDESK_NOTIFY_CHANNEL and ORDERDESK_ROUTES; "
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
        return _failed(name, f"#{info['name']} is archived", f"unarchive #{info['name']} or choose another channel")
    if not info.get("is_member"):
        return _failed(
            name, f"the bot is not a member of #{info['name']}", f"invite the bot: {invite} in #{info['name']}"
        )
    return _ok(name, f"#{info['name']}, the bot is a member")


# --- Graph ---------------------------------------------------------------------------------------------------

_GRAPH_FIXES: tuple[tuple[type[GraphError], str], ...] = (
    (
        InvalidTokenError,
        "the Page token is invalid or expired: issue a new system-user token (Business Settings → System users → "
        "Generate new token, with the Page assigned) and set FB_PAGE_ACCESS_TOKEN to it",
    ),
    (
        GraphPermissionError,
        "the app lacks commerce_account_read_orders/manage_orders or the token's Page role is below EDITOR: add the "
        "permissions in the app's dashboard, give the system user EDITOR (or higher) on the Page, issue a new token",
    ),
    (
        NotFoundError,
        "FB_PAGE_ID does not name a Page this token can see: check FB_PAGE_ID, or issue the token for that Page",
    ),
)


def _graph_failure(name: str, error: GraphError, settings: Settings) -> Check:
    fallback = (
        f"check FB_GRAPH_URL ({settings.fb_graph_url}) and FB_GRAPH_VERSION ({settings.fb_graph_version}) and this "
        "host's network; a transient failure passes if you run doctor again"
    )
    fix = next((fix for kind, fix in _GRAPH_FIXES if isinstance(error, kind)), fallback)
    return _failed(name, str(error), fix)


def _graph(settings: Settings) -> list[Check]:
    """``GET /{page-id}`` proves the token, the Page id and the network; one page of ``commerce_orders`` proves
    the permissions and the Page role."""
    with GraphClient.from_settings(settings) as graph:
        try:
            page = graph.get_page()
        except GraphError as error:
            return [_graph_failure("graph token", error, settings), _skipped("commerce orders", "needs the Page")]
        # A Page token for another Page still reads this Page's public fields; commerce_orders then refuses it.
        token = _ok("graph token", f"Page {page.get('name')!r} ({page.get('id')})")
        try:
            list(graph.iter_orders(limit=1, max_pages=1))
        except GraphError as error:
            return [token, _graph_failure("commerce orders", error, settings)]
        return [token, _ok("commerce orders", "readable")]


# --- database ------------------------------------------------------------------------------------------------


def _database(settings: Settings) -> Check:
    """Open the Store (which applies migrations and WAL) and write one row: the bot needs exactly that to work.

    A database that does not exist yet is not created (doctor changes nothing a deployment has): its folder is
    checked instead, as the first start will need it."""
    name = "database"
    path = settings.db_path
    variable = setting_variable("db_path")
    fix = f"set {variable} to a file in an existing folder that the user running orderdesk can write to"
    problem = database_path_problem(path)
    if problem is not None:
        return _failed(name, f"{variable}={path}: {problem}", fix)
    if not in_memory(path) and not Path(path).exists():
        return _ok(name, f"{path} does not exist yet: it will be created at the first start (its folder is writable)")
    try:
        with Store(path) as store:
            store.set_state("doctor.checked_at", str(int(time.time())))
            mode, version, current = store.journal_mode(), store.schema_version(), store.migrations_current()
    except DatabaseUnusable as error:
        return _failed(
            name,
            error.for_setting(variable),
            f"move the file away (orderdesk then starts a new, empty database) or restore it from a backup; or {fix}",
        )
    except sqlite3.Error as error:
        return _failed(name, f"cannot write {path}: {error}", fix)
    if not current:
        return _failed(name, f"schema version {version} has pending migrations", "run orderdesk serve once")
    if mode != "wal":
        return _failed(
            name,
            f"journal mode is {mode}, not WAL",
            "put ORDERDESK_DB on a local disk: WAL, which lets lookups read while an acknowledgement writes, "
            "does not work in memory or on network filesystems",
        )
    return _ok(name, f"{path} writable, schema version {version}, migrations current, WAL")


# --- command -------------------------------------------------------------------------------------------------


def _print(check: Check) -> None:
    print("\n".join(check.lines()), flush=True)


def main(argv: Sequence[str]) -> int:
    """Exit 0 when every check passes (warnings included), 1 when one fails, 2 when the settings themselves are
    wrong."""
    parser = argparse.ArgumentParser(prog="orderdesk doctor", description="Check orderdesk's setup end to end.")
    parser.add_argument("--env-file", default=".env", help="dotenv file filling unset variables (default: .env)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="the Slack app manifest (scopes, serving mode)")
    parser.add_argument(
        "--mode",
        choices=("socket", "http"),
        help="check for `orderdesk serve --mode MODE` (default: socket when SLACK_APP_TOKEN is set, else http)",
    )
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        bot_scopes(manifest)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        parser.error(f"cannot read the bot scopes from {args.manifest}: {error}")
    try:
        settings = Settings.from_env(dotenv_path=args.env_file)
    except ConfigError as error:
        source = args.env_file if Path(args.env_file).is_file() else f"{args.env_file} (no such file)"
        _print(_failed("settings", f"{len(error.problems)} problem(s) in the environment or {source}", *error.problems))
        return 2
    mode = args.mode or ("socket" if settings.socket_mode_available else "http")
    if mode == "socket" and not settings.socket_mode_available:
        _print(_failed("settings", "--mode socket needs SLACK_APP_TOKEN", _FIX_APP_AUTH))
        return 2
    label = "Socket Mode" if mode == "socket" else "HTTP mode"
    _print(_ok("settings", f"{label}, Page {settings.fb_page_id}, Graph {settings.fb_graph_version}"))
    failed = False
    for check in diagnose(settings, manifest, mode):
        _print(check)
        failed |= check.status is Status.FAILED
    return 1 if failed else 0
