"""The Slack sandbox: a local stand-in for the Slack Web API and for response URLs.

The bot reaches it exactly as it reaches Slack: ``WebClient(base_url=sandbox.api_url)`` for Web API calls and the
``response_url`` of each payload for ``respond()``. It keeps what Slack keeps (channel histories with threads and
edits, ephemeral messages, modals, trigger ids that expire after 3 seconds, response URLs good for five posts in
30 minutes), answers with Slack's error codes, and records every call so tests can assert on what the bot did
rather than on how it did it. ``fail_next`` makes the next calls of a method fail (429 with ``Retry-After`` by
default) to exercise the bot's retry handlers.

Views follow Slack's rules: ``views.open``/``views.push`` need a fresh trigger id and a stack holds at most three
modals (``push_limit_reached``); ``views.update`` (by ``view_id`` or ``external_id``, with ``hash`` refused as
``hash_conflict`` when stale) and ``response_action: update`` replace the whole view, so ``private_metadata`` is
what the new view says; ``response_action: errors`` must name input blocks of the submitted view
(``invalid_errors`` otherwise); ``views.publish`` keeps one Home view per user (:meth:`SlackSandbox.home`).
Blocks and views are validated with slack_sdk's models, and a view's blocks without ``block_id`` (and input
elements without ``action_id``) get one, as Slack gives them, so state values always have their keys.

All state sits behind one re-entrant lock; every change notifies a condition variable so ``wait_for`` wakes up as
soon as the bot's (asynchronous) answer lands, instead of sleeping for a guessed time.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, Option, OptionGroup
from slack_sdk.models.views import View

from bot.sandbox.server import ServerThread, WSGIApp

T = TypeVar("T")
JSON = dict[str, Any]
StartResponse = Callable[..., Any]

DEFAULT_TEAM_ID = "T0SANDBOX"
DEFAULT_BOT_TOKEN = "xoxb-sandbox-bot-token"  # noqa: S105 - the sandbox's public test credential
DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105 - likewise
TEAM_DOMAIN = "orderdesk-sandbox"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0ORDERDESK"
DEFAULT_APP_TOKEN = "xapp-sandbox-app-token"  # noqa: S105 - likewise
# manifest.yml's oauth_config.scopes.bot, granted by default (tests/cli/test_doctor.py fails when they drift apart).
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "links:read",
    "links:write",
    "im:write",
    "files:write",
)
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})  # the methods Slack accepts only an xapp- token for

TRIGGER_TTL_SECONDS = 3.0  # Slack: "trigger_id expires 3 seconds after it's sent to your app"
RESPONSE_URL_MAX_USES = 5  # Slack: a response_url can be used five times within 30 minutes
RESPONSE_URL_TTL_SECONDS = 30 * 60
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
VIEW_STACK_MAX = 3  # Slack: "you can only push a view onto a stack of at most 3 views"
OPTIONS_MAX = 100  # Slack: an options load answer holds at most 100 options (or option groups)
TEXT_MAX_CHARS = 40_000  # chat.postMessage truncates at 40k and errors (msg_too_long) above
HISTORY_MAX_LIMIT = 999
HOOKS_PATH = "/hooks/"
UPLOADS_PATH = "/uploads/"  # files.getUploadURLExternal's upload URLs live under the sandbox's own server
# Arguments slack_sdk and form-posting clients send as JSON-encoded strings.
_JSON_ARGS = ("blocks", "view", "metadata", "attachments", "unfurls")
SANDBOX_VIEW_FIELDS = ("user", "open", "errors")  # the sandbox's own bookkeeping, never sent to the bot
_VIEW_SERVER_FIELDS = ("id", "hash", "root_view_id", "previous_view_id", "team_id", "app_id", "bot_id", "state",
                       *SANDBOX_VIEW_FIELDS)  # fmt: skip


@dataclass(frozen=True)
class User:
    """A member of the sandbox directory; ``team_id`` other than the sandbox's makes a Slack Connect guest."""

    id: str
    name: str
    real_name: str
    team_id: str = DEFAULT_TEAM_ID
    is_bot: bool = False


@dataclass(frozen=True)
class Channel:
    """A public or private channel; the bot is a member when ``BOT_USER_ID`` is in ``members``."""

    id: str
    name: str
    members: frozenset[str]
    is_private: bool = False


_AGENTS = frozenset({"U0AGENT1", "U0AGENT2", "U0AGENT3"})
DEFAULT_USERS = (
    User("U0AGENT1", "alice", "Alice Lead"),
    User("U0AGENT2", "bob", "Bob Agent"),
    User("U0AGENT3", "carol", "Carol Agent"),
    User("U0FOREIGN", "dana", "Dana Partner", team_id="T0OTHER"),
)
DEFAULT_CHANNELS = (
    # #orders is shared with a partner workspace (Slack Connect), so a foreign user can click its buttons.
    Channel("C0ORDERS", "orders", _AGENTS | {"U0FOREIGN", BOT_USER_ID}),
    Channel("C0SUPPORT", "support", _AGENTS | {BOT_USER_ID}),
    Channel("C0RANDOM", "random", _AGENTS),
)
DEFAULT_USERGROUPS: Mapping[str, tuple[str, ...]] = {"S0ONCALL": ("U0AGENT1",)}
# Each group's handle (``@oncall``) and name, as ``usergroups.list`` gives them; a group not named here gets its id.
DEFAULT_USERGROUP_NAMES: Mapping[str, tuple[str, str]] = {"S0ONCALL": ("oncall", "On-call")}
_BOT_USER = User(BOT_USER_ID, "orderdesk", "orderdesk", is_bot=True)


class SlackApiFailure(Exception):
    """A Web API error answer: ``{"ok": false, "error": <error>}`` (HTTP 200, as Slack answers them)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _Fault:
    status: int
    retry_after: int
    error: str


@dataclass
class _ResponseUrl:
    url: str
    channel: str
    user: str
    message_ts: str | None  # the message the URL can replace: a channel message or an ephemeral
    created: float
    arrived: threading.Condition  # notified on each post; shares the sandbox's lock
    uses: int = 0
    posts: list[JSON] = field(default_factory=list)


@dataclass
class _Trigger:
    issued: float
    user: str | None


class SlackSandbox:
    """WSGI app standing in for https://slack.com/api/ and for response URLs. Thread-safe."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        team_id: str = DEFAULT_TEAM_ID,
        users: Iterable[User] = DEFAULT_USERS,
        channels: Iterable[Channel] = DEFAULT_CHANNELS,
        usergroups: Mapping[str, Iterable[str]] = DEFAULT_USERGROUPS,
        clock: Callable[[], float] = time.time,
        usergroup_names: Mapping[str, tuple[str, str]] = DEFAULT_USERGROUP_NAMES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes = tuple(scopes)  # sent back, like Slack, in every answer's X-OAuth-Scopes header
        self.team_id = team_id
        self._users = {u.id: u for u in (*users, _BOT_USER)}
        self._channels = {c.id: c for c in channels}
        self._usergroups = {gid: tuple(members) for gid, members in usergroups.items()}
        self._usergroup_names = dict(usergroup_names)
        self._clock = clock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._version = 0
        self._server: ServerThread | None = None
        self._mounts: dict[str, WSGIApp] = {}
        self._ids = itertools.count(1)
        self._methods: dict[str, Callable[[JSON], JSON]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.unfurl": self._chat_unfurl,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "usergroups.list": self._usergroups_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        self.reset()

    def reset(self) -> None:
        """Forget every message, call, view, trigger, response URL and pending fault; keep the directory."""
        with self._cond:
            self._calls: list[JSON] = []
            self._history: dict[str, dict[str, JSON]] = {c: {} for c in self._channels}  # channel → ts → message
            self._replies: dict[tuple[str, str], list[str]] = {}  # (channel, parent ts) → reply ts, oldest first
            self._edits: dict[tuple[str, str], list[JSON]] = {}  # (channel, ts) → earlier versions
            self._ephemerals: dict[str, JSON] = {}  # message_ts → ephemeral, oldest first
            self._views: dict[str, JSON] = {}
            self._home: dict[str, JSON] = {}
            self._triggers: dict[str, _Trigger] = {}
            self._response_urls: dict[str, _ResponseUrl] = {}
            self._faults: dict[str, deque[_Fault]] = {}
            self._files: dict[str, JSON] = {}  # file id → name, length, spool path and size, channel once shared
            self._last_ts = 0
            self._changed()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
        """Serve over real HTTP in a background thread; the caller stops the returned (started) server."""
        self._server = ServerThread(self, host, port).start()
        return self._server

    def mount(self, prefix: str, app: WSGIApp) -> None:
        """Serve another WSGI app under ``prefix`` on the same port (the demo console lives beside the API)."""
        self._mounts[prefix] = app

    @property
    def url(self) -> str:
        """Base URL of the running server, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the Slack sandbox is not served yet: call serve() first")
        return self._server.url

    @property
    def api_url(self) -> str:
        """What ``SLACK_API_URL`` / ``WebClient(base_url=...)`` needs; the trailing slash matters to urljoin."""
        return f"{self.url}/api/"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self._mounts.items():
            if path.startswith(prefix):
                return app(environ, start_response)
        if path.startswith(UPLOADS_PATH):
            status, headers, answer = self._upload_post(path.removeprefix(UPLOADS_PATH), environ)
            return self._answer(start_response, status, headers, answer)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if path.startswith("/api/"):
            status, headers, answer = self._web_api(path.removeprefix("/api/"), environ, body)
        elif path.startswith(HOOKS_PATH):
            status, headers, answer = self._response_url_post(path, body)
        else:
            status, headers, answer = 404, {}, {"ok": False, "error": "not_found"}
        return self._answer(start_response, status, headers, answer)

    @staticmethod
    def _answer(start_response: StartResponse, status: int, headers: dict[str, str], answer: JSON) -> Iterable[bytes]:
        data = json.dumps(answer).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data)), **headers}
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [data]

    def calls(self, method: str | None = None) -> list[JSON]:
        """Every request received, oldest first: ``{method, args, ts, status, error}``; args never hold the token.

        Response URL posts are recorded as method ``"response_url"`` (args = the posted JSON plus ``url``).
        """
        with self._cond:
            return [copy.deepcopy(c) for c in self._calls if method is None or c["method"] == method]

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[JSON]:
        """The channel's history as people see it, oldest first, edits applied, deletions gone, with metadata.

        Without ``thread_ts``: top-level messages (and broadcast replies), like ``conversations.history``;
        with it: the thread's parent and replies, like ``conversations.replies``.
        """
        with self._cond:
            return [self._render(channel, m, metadata=True) for m in self._listing(channel, thread_ts)]

    def message(self, channel: str, ts: str) -> JSON:
        """One message of the history (raises ``KeyError`` if it does not exist or was deleted)."""
        with self._cond:
            return self._render(channel, self._history[channel][ts], metadata=True)

    def edits(self, channel: str, ts: str) -> list[JSON]:
        """Earlier versions of a message (by ``chat.update``, response URLs, deletion), oldest first."""
        with self._cond:
            return copy.deepcopy(self._edits.get((channel, ts), []))

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[JSON]:
        """Ephemeral messages still visible, oldest first, replacements applied.

        Each has ``text, blocks, user, channel, message_ts, thread_ts, source`` (``"chat.postEphemeral"`` or
        ``"response_url"``) and, from a response URL, ``response_url``.
        """
        with self._cond:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals.values()
                if (user is None or e["user"] == user) and (channel is None or e["channel"] == channel)
            ]

    def responses(self, response_url: str) -> list[JSON]:
        """Every JSON body posted to that response URL, oldest first (including refused ones)."""
        with self._cond:
            return copy.deepcopy(self._response_urls[self._hook_key(response_url)].posts)

    def wait_responses(self, response_url: str, count: int = 1, timeout: float = 5.0) -> list[JSON] | None:
        """:meth:`responses` once ``count`` have arrived, or None after ``timeout`` seconds.

        Wakes only for posts to this URL: the load benchmark's hundreds of waiting agents would otherwise all be
        woken (and contend for the GIL) by every change anywhere in the sandbox, as :meth:`wait_for` does.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            hook = self._response_urls[self._hook_key(response_url)]
            while len(hook.posts) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                hook.arrived.wait(remaining)
            return copy.deepcopy(hook.posts)

    def view(self, view_id: str) -> JSON:
        """A modal or Home tab as stored after ``views.open/update/push/publish``, with the sandbox's own fields:
        ``user`` (who it was opened for), ``open`` (False once closed) and ``errors`` (inline errors shown)."""
        with self._cond:
            return copy.deepcopy(self._views[view_id])

    def views(self, *, user: str | None = None) -> list[JSON]:
        """All stored views (modals and Home tabs), oldest first; ``user`` filters by who opened or owns them."""
        with self._cond:
            return [copy.deepcopy(v) for v in self._views.values() if user is None or v.get("user") == user]

    def home(self, user: str) -> JSON | None:
        """The Home tab ``views.publish`` last published for ``user`` (None before the first publish)."""
        with self._cond:
            home = self._home.get(user)
            return None if home is None else copy.deepcopy(home)

    def usergroup_handles(self) -> dict[str, str]:
        """Each user group's handle (without the ``@``), by id: what Slack shows for ``<!subteam^ID>``."""
        with self._cond:
            return {gid: self._usergroup_names.get(gid, (gid.lower(), gid))[0] for gid in self._usergroups}

    def close_view(self, view_id: str, *, whole_stack: bool) -> list[JSON]:
        """What the person's ✕/Cancel (``whole_stack``) or a pushed view's Back does: the view (and, for the whole
        stack, every open view of its root) closes. Returns the closed views, newest first, as the Web API shows
        them, so the caller can send ``view_closed`` for those with ``notify_on_close``."""
        with self._cond:
            view = self._views[view_id]
            closing = [
                v
                for v in self._views.values()
                if v["type"] == "modal" and v["open"]
                and (v is view or (whole_stack and v["root_view_id"] == view["root_view_id"]))
            ]  # fmt: skip
            for closed in closing:
                closed["open"] = False
                closed.pop("errors", None)
            self._changed()
            return [_public_view(v) for v in reversed(closing)]

    def user(self, user_id: str) -> JSON:
        """The ``users.info`` record of a user."""
        return self._user_info(self._users[user_id])

    def channel(self, channel_id: str) -> JSON:
        """The ``conversations.info`` record of a channel (or of an opened DM with the app)."""
        with self._cond:
            known = self._channels.get(channel_id) or self._dm(channel_id)
            if known is None:
                raise KeyError(channel_id)
            return self._channel_info(known)

    def fail_next(
        self, method: str, count: int = 1, *, status: int = 429, retry_after: int = 1, error: str = "ratelimited"
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (or ``"response_url"``) with ``status`` and no effect.

        429 and 503 carry ``Retry-After: retry_after``, which slack_sdk's retry handlers honour.
        """
        with self._cond:
            self._faults.setdefault(method, deque()).extend(_Fault(status, retry_after, error) for _ in range(count))

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Return ``predicate()`` once it is truthy; re-checked on every sandbox change (and every 50 ms, for
        predicates that look elsewhere). Raises ``AssertionError`` naming the predicate and the last calls."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._version
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                name = getattr(predicate, "__qualname__", repr(predicate))
                recent = [(c["method"], c["status"], c["error"]) for c in self.calls()[-10:]]
                raise AssertionError(f"Slack sandbox: {name} still {result!r} after {timeout}s; last calls: {recent}")
            with self._cond:
                if self._version == seen:
                    self._cond.wait(min(remaining, 0.05))

    def new_response_url(self, *, channel: str, user: str, message_ts: str | None = None) -> str:
        """Mint a response URL for an interaction by ``user`` in ``channel``.

        ``message_ts`` is the message the interaction came from (a channel message or an ephemeral one's
        ``message_ts``): ``replace_original`` / ``delete_original`` act on it.
        """
        with self._cond:
            path = f"{HOOKS_PATH}{self.team_id}/{next(self._ids)}/{secrets.token_urlsafe(12)}"
            self._response_urls[path] = _ResponseUrl(
                self.url + path, channel, user, message_ts, self._clock(), threading.Condition(self._lock)
            )
            return self.url + path

    def new_trigger_id(self, *, user: str | None = None) -> str:
        """Mint a trigger id, valid for one view for 3 seconds (by the sandbox's clock), like Slack's."""
        with self._cond:
            trigger_id = f"{next(self._ids)}.{int(self._clock())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(self._clock(), user)
            return trigger_id

    def post_as_user(self, channel: str, text: str, user: str, blocks: list[JSON] | None = None) -> JSON:
        """Add a message written by a person to the history (e.g. a buyer's order number quoted by an agent)."""
        with self._cond:
            message: JSON = {"type": "message", "user": user, "team": self._users[user].team_id, "text": text}
            if blocks is not None:
                message["blocks"] = blocks
            return self._store(channel, message, thread_ts=None)

    def _web_api(self, method: str, environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], JSON]:
        args = _parse_args(environ, body)
        header_token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        token = args.pop("token", None) or header_token
        with self._cond:
            status, headers, answer = self._dispatch(method, args, token)
            self._record(method, args, status, answer)
            return status, headers, answer

    def _dispatch(self, method: str, args: JSON, token: str) -> tuple[int, dict[str, str], JSON]:
        fault = self._take_fault(method)
        if fault is not None:
            return fault
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise SlackApiFailure("unknown_method")
            if not token:
                raise SlackApiFailure("not_authed")
            app_method = method in _APP_TOKEN_METHODS
            if not secrets.compare_digest(token, self.app_token if app_method else self.bot_token):
                raise SlackApiFailure("invalid_auth")
            scopes = "connections:write" if app_method else ",".join(self.scopes)
            return 200, {"X-OAuth-Scopes": scopes}, {"ok": True, **handler(args)}
        except SlackApiFailure as failure:
            return 200, {}, {"ok": False, "error": failure.error}

    def _take_fault(self, method: str) -> tuple[int, dict[str, str], JSON] | None:
        faults = self._faults.get(method)
        if not faults:
            return None
        fault = faults.popleft()
        headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
        return fault.status, headers, {"ok": False, "error": fault.error}

    def _record(self, method: str, args: JSON, status: int, answer: JSON) -> None:
        self._calls.append(
            {"method": method, "args": args, "ts": self._clock(), "status": status, "error": answer.get("error")}
        )
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()

    def _next_ts(self) -> str:
        """Slack-style ``seconds.micros`` timestamps, strictly increasing even within one microsecond."""
        self._last_ts = max(int(self._clock() * 1_000_000), self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _auth_test(self, args: JSON) -> JSON:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Orderdesk Sandbox",
            "user": _BOT_USER.name,
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: JSON) -> JSON:
        # A URL that accepts no connection: the sandbox has no Socket Mode server; doctor only needs the answer.
        return {"url": f"wss://{TEAM_DOMAIN}.invalid/link/?ticket={secrets.token_hex(8)}"}

    def _users_info(self, args: JSON) -> JSON:
        user = self._users.get(_required(args, "user"))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"user": self._user_info(user)}

    def _conversations_info(self, args: JSON) -> JSON:
        return {"channel": self._channel_info(self._channel(args))}

    def _usergroups_users_list(self, args: JSON) -> JSON:
        members = self._usergroups.get(_required(args, "usergroup"))
        if members is None:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(members)}

    def _usergroups_list(self, args: JSON) -> JSON:
        """Every group with its handle and name; ``user_count`` and ``users`` only when asked, as Slack does."""
        groups = []
        for group_id, members in self._usergroups.items():
            handle, name = self._usergroup_names.get(group_id, (group_id.lower(), group_id))
            group: JSON = {
                "id": group_id,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": name,
                "handle": handle,
                "description": "",
                "date_delete": 0,
            }
            if _flag(args, "include_count"):
                group["user_count"] = len(members)
            if _flag(args, "include_users"):
                group["users"] = list(members)
            groups.append(group)
        return {"usergroups": groups}

    def _user_info(self, user: User) -> JSON:
        profile = {"real_name": user.real_name, "display_name": user.name, "team": user.team_id}
        return {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "tz": "UTC",
            "tz_offset": 0,
            "profile": profile | ({"bot_id": BOT_ID} if user.is_bot else {}),
        }

    def _channel_info(self, channel: Channel) -> JSON:
        if channel.name == "directmessage":
            user = next(m for m in channel.members if m != BOT_USER_ID)
            return {"id": channel.id, "name": channel.name, "is_im": True, "is_channel": False, "is_private": True,
                    "user": user, "is_member": True, "is_ext_shared": False, "is_shared": False,
                    "context_team_id": self.team_id}  # fmt: skip
        shared = any(self._users[m].team_id != self.team_id for m in channel.members if m in self._users)
        return {
            "id": channel.id,
            "name": channel.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": channel.is_private,
            "is_archived": False,
            "is_general": False,
            "is_shared": shared,
            "is_ext_shared": shared,
            "is_member": BOT_USER_ID in channel.members,
            "num_members": len(channel.members),
            "context_team_id": self.team_id,
        }

    def _channel(self, args: JSON, key: str = "channel") -> Channel:
        """Resolve a channel id (or ``#name``, as chat.postMessage allows) or fail like Slack. The app's DM with
        a person is a channel too, by the id ``conversations.open`` gave or (chat.postMessage) by the user id."""
        wanted = _required(args, key)
        for channel in self._channels.values():
            if wanted in (channel.id, channel.name, f"#{channel.name}"):
                return channel
        dm = self._dm(wanted)
        if dm is not None:
            return dm
        raise SlackApiFailure("channel_not_found")

    def _dm(self, wanted: str) -> Channel | None:
        """The app's DM with a person: its id once opened, or the person's user id (Slack opens it then)."""
        user = next((u for u in self._users if u != BOT_USER_ID and wanted in (u, self.dm_channel(u))), None)
        if user is None or (wanted != user and wanted not in self._history):
            return None
        self._history.setdefault(self.dm_channel(user), {})
        return Channel(self.dm_channel(user), "directmessage", frozenset({user, BOT_USER_ID}))

    def _writable_channel(self, args: JSON) -> Channel:
        channel = self._channel(args)
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _chat_post_message(self, args: JSON) -> JSON:
        channel = self._writable_channel(args)
        content = _message_content(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None and thread_ts not in self._history[channel.id]:
            raise SlackApiFailure("thread_not_found")
        message = self._bot_message(content)
        if _flag(args, "reply_broadcast"):
            message["subtype"] = "thread_broadcast"
        stored = self._store(channel.id, message, thread_ts=thread_ts)
        return {"channel": channel.id, "ts": stored["ts"], "message": stored}

    def _chat_post_ephemeral(self, args: JSON) -> JSON:
        channel = self._writable_channel(args)
        user = _required(args, "user")
        if user not in channel.members:
            raise SlackApiFailure("user_not_in_channel")
        content = _message_content(args)
        entry = self._add_ephemeral(content, channel.id, user, "chat.postEphemeral", args.get("thread_ts"))
        return {"message_ts": entry["message_ts"]}

    def _chat_update(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._own_message(channel.id, _required(args, "ts"))
        content = _message_content(args, partial=True)
        self._edit(channel.id, message, content)
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": copy.deepcopy(message)}

    def _chat_delete(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._own_message(channel.id, _required(args, "ts"))
        self._delete(channel.id, message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _chat_get_permalink(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._history[channel.id].get(_required(args, "message_ts"))
        if message is None:
            raise SlackApiFailure("message_not_found")
        base = self.url if self._server is not None else f"https://{TEAM_DOMAIN}.slack.com"
        permalink = f"{base}/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    def _chat_unfurl(self, args: JSON) -> JSON:
        """Recorded in ``calls("chat.unfurl")``: names its message by ``unfurl_id`` and ``source`` or by ``channel``
        and ``ts``; each entry of ``unfurls`` maps a URL to blocks Slack would accept (else ``invalid_unfurls``)."""
        if not (args.get("unfurl_id") and args.get("source")):
            self._writable_channel(args)
            _required(args, "ts")
        unfurls = args.get("unfurls")
        if not isinstance(unfurls, dict) or not unfurls:
            raise SlackApiFailure("invalid_unfurls")
        for entry in unfurls.values():
            if not isinstance(entry, dict):
                raise SlackApiFailure("invalid_unfurls")
            if "blocks" in entry:
                try:
                    _checked_blocks(entry["blocks"], MESSAGE_MAX_BLOCKS)
                except SlackApiFailure:
                    raise SlackApiFailure("invalid_unfurls") from None
        return {}

    def _conversations_history(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        newest_first = list(reversed(self._listing(channel.id, None)))
        return self._page(channel.id, newest_first, args)

    def _conversations_replies(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if _required(args, "ts") not in self._history[channel.id]:
            raise SlackApiFailure("thread_not_found")
        return self._page(channel.id, self._listing(channel.id, args["ts"]), args)

    def _page(self, channel: str, messages: list[JSON], args: JSON) -> JSON:
        """Window (oldest/latest/inclusive), cursor and limit, as the two history methods share them."""
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        inclusive = _flag(args, "inclusive")
        selected = [
            m
            for m in messages
            if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
            and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)
        ]
        start = _decode_cursor(args["cursor"]) if args.get("cursor") else 0
        limit = min(int(args.get("limit") or 100), HISTORY_MAX_LIMIT)
        page = selected[start : start + limit]
        has_more = start + limit < len(selected)
        metadata = _flag(args, "include_all_metadata")
        return {
            "messages": [self._render(channel, m, metadata=metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": _encode_cursor(start + limit) if has_more else ""},
        }

    def _listing(self, channel: str, thread_ts: str | None) -> list[JSON]:
        history = self._history[channel]
        if thread_ts is None:
            return [m for m in history.values() if "thread_ts" not in m or m.get("subtype") == "thread_broadcast"]
        parent = history.get(thread_ts)
        if parent is None:
            return []
        return [parent, *(history[ts] for ts in self._replies.get((channel, thread_ts), []) if ts in history)]

    def _render(self, channel: str, message: JSON, *, metadata: bool) -> JSON:
        """A stored message as Slack returns it: thread summary on parents, metadata only when asked."""
        rendered = copy.deepcopy(message)
        if not metadata:
            rendered.pop("metadata", None)
        replies = [ts for ts in self._replies.get((channel, message["ts"]), []) if ts in self._history[channel]]
        if replies:
            rendered |= {
                "thread_ts": message["ts"],
                "reply_count": len(replies),
                "reply_users": sorted({self._history[channel][ts].get("user", "") for ts in replies}),
                "latest_reply": replies[-1],
            }
        return rendered

    def _bot_message(self, content: JSON) -> JSON:
        return {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": "",
            **content,
        }

    def _store(self, channel: str, message: JSON, *, thread_ts: str | None) -> JSON:
        message["ts"] = self._next_ts()
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
            self._replies.setdefault((channel, thread_ts), []).append(message["ts"])
        self._history[channel][message["ts"]] = message
        self._changed()
        return copy.deepcopy(message)

    def _own_message(self, channel: str, ts: str) -> JSON:
        message = self._history[channel].get(ts)
        if message is None:
            raise SlackApiFailure("message_not_found")
        if message.get("bot_id") != BOT_ID:
            raise SlackApiFailure("cant_update_message")
        return message

    def _edit(self, channel: str, message: JSON, content: JSON) -> None:
        self._edits.setdefault((channel, message["ts"]), []).append(copy.deepcopy(message))
        message.update(content)
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self._changed()

    def _delete(self, channel: str, message: JSON) -> None:
        self._edits.setdefault((channel, message["ts"]), []).append(copy.deepcopy(message))
        del self._history[channel][message["ts"]]
        self._changed()

    def _add_ephemeral(self, content: JSON, channel: str, user: str, source: str, thread_ts: str | None) -> JSON:
        entry = {"type": "message", "text": "", **content, "user": user, "channel": channel, "source": source}
        entry |= {"message_ts": self._next_ts(), "thread_ts": thread_ts}
        self._ephemerals[entry["message_ts"]] = entry
        self._changed()
        return entry

    def _ephemeral(self, message_ts: str | None) -> JSON | None:
        return self._ephemerals.get(message_ts) if message_ts else None

    @staticmethod
    def _hook_key(response_url: str) -> str:
        return HOOKS_PATH + response_url.split(HOOKS_PATH, 1)[-1]

    def _response_url_post(self, path: str, body: bytes) -> tuple[int, dict[str, str], JSON]:
        with self._cond:
            hook = self._response_urls.get(path)
            if hook is None:
                return 404, {}, {"ok": False, "error": "invalid_url"}
            try:
                posted = json.loads(body)
            except ValueError:
                posted = None
            if isinstance(posted, dict):
                hook.posts.append(copy.deepcopy(posted))
                hook.arrived.notify_all()
            status, headers, answer = self._take_fault("response_url") or self._respond(hook, posted)
            self._record("response_url", {"url": hook.url, **(posted or {})}, status, answer)
            return status, headers, answer

    def _respond(self, hook: _ResponseUrl, posted: JSON | None) -> tuple[int, dict[str, str], JSON]:
        """Apply a response URL post the way Slack does (replace / delete the original, or post anew)."""
        if not isinstance(posted, dict):
            return 400, {}, {"ok": False, "error": "invalid_payload"}
        if self._clock() - hook.created > RESPONSE_URL_TTL_SECONDS:
            return 404, {}, {"ok": False, "error": "expired_url"}
        if hook.uses >= RESPONSE_URL_MAX_USES:
            return 404, {}, {"ok": False, "error": "used_url"}
        try:
            content = _message_content(posted, partial=bool(posted.get("delete_original")))
        except SlackApiFailure as failure:
            return 400, {}, {"ok": False, "error": failure.error}
        hook.uses += 1
        original = self._history.get(hook.channel, {}).get(hook.message_ts or "")
        ephemeral = self._ephemeral(hook.message_ts)
        if posted.get("delete_original"):
            if original is not None:
                self._delete(hook.channel, original)
            elif ephemeral is not None:
                del self._ephemerals[ephemeral["message_ts"]]
                self._changed()
        elif posted.get("replace_original") and original is not None:
            self._edit(hook.channel, original, content)
        elif posted.get("replace_original") and ephemeral is not None:
            ephemeral.update(content)
            self._changed()
        elif posted.get("response_type") == "in_channel":
            self._store(hook.channel, self._bot_message(content), thread_ts=posted.get("thread_ts"))
        else:
            entry = self._add_ephemeral(content, hook.channel, hook.user, "response_url", posted.get("thread_ts"))
            entry["response_url"] = hook.url
            hook.message_ts = hook.message_ts or entry["message_ts"]  # a later replace_original replaces it
        return 200, {}, {"ok": True}

    def _views_open(self, args: JSON) -> JSON:
        trigger = self._use_trigger(args)
        return {"view": self._new_view(_view_content(args, "modal"), trigger.user, previous=None)}

    def _views_push(self, args: JSON) -> JSON:
        trigger = self._use_trigger(args)
        stack = [v for v in self._views.values() if v["type"] == "modal" and v["user"] == trigger.user and v["open"]]
        previous = stack[-1] if stack else None
        return {"view": self._push(_view_content(args, "modal"), trigger.user, previous)}

    def _push(self, content: JSON, user: str | None, previous: JSON | None) -> JSON:
        """A view on top of ``previous``'s stack; a fourth view is refused, as Slack refuses it."""
        if previous is not None:
            depth = sum(1 for v in self._views.values() if v["open"] and v["root_view_id"] == previous["root_view_id"])
            if depth >= VIEW_STACK_MAX:
                raise SlackApiFailure("push_limit_reached")
        return self._new_view(content, user, previous=previous)

    def _views_update(self, args: JSON) -> JSON:
        if args.get("view_id"):
            stored = self._views.get(args["view_id"])
        elif args.get("external_id"):
            stored = next((v for v in self._views.values() if v["external_id"] == args["external_id"]), None)
        else:
            raise SlackApiFailure("invalid_arguments")
        if stored is None:
            raise SlackApiFailure("not_found")
        if args.get("hash") and args["hash"] != stored["hash"]:
            raise SlackApiFailure("hash_conflict")
        return {"view": self._replace_view(stored, _view_content(args, stored["type"]))}

    def _views_publish(self, args: JSON) -> JSON:
        user = _required(args, "user_id")
        if user not in self._users:
            raise SlackApiFailure("user_not_found")
        content = _view_content(args, "home")
        home = self._home.get(user)
        if home is None:
            return {"view": self._new_view(content, user, previous=None)}
        if args.get("hash") and args["hash"] != home["hash"]:
            raise SlackApiFailure("hash_conflict")
        return {"view": self._replace_view(home, content)}

    def _use_trigger(self, args: JSON) -> _Trigger:
        trigger = self._triggers.pop(_required(args, "trigger_id"), None)
        if trigger is None:
            raise SlackApiFailure("invalid_trigger_id")
        if self._clock() - trigger.issued > TRIGGER_TTL_SECONDS:
            raise SlackApiFailure("expired_trigger_id")
        return trigger

    def _new_view(self, content: JSON, user: str | None, previous: JSON | None) -> JSON:
        if content.get("external_id") and any(v["external_id"] == content["external_id"] for v in self._views.values()):
            raise SlackApiFailure("duplicate_external_id")
        view_id = f"V{next(self._ids):010d}"
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "state": {"values": {}},
            **_VIEW_DEFAULTS,
            **content,
            "hash": self._view_hash(),
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": previous["id"] if previous else None,
            "user": user,
            "open": True,
        }
        self._views[view_id] = view
        if view["type"] == "home" and user is not None:
            self._home[user] = view
        self._changed()
        return _public_view(view)

    def _replace_view(self, view: JSON, content: JSON) -> JSON:
        """The whole view is replaced, as Slack replaces it: what the new one leaves out (``private_metadata``,
        ``submit``, ``callback_id``, …) is gone, not kept from the old one; only ``external_id`` stays, since the view
        may be addressed by it. Inline errors go with the old view."""
        external_id = view.get("external_id", "")
        for key in [k for k in view if k not in _VIEW_SERVER_FIELDS]:
            del view[key]
        view.pop("errors", None)
        view.update(_VIEW_DEFAULTS, external_id=external_id)
        view.update(content, hash=self._view_hash())
        self._changed()
        return _public_view(view)

    def _view_hash(self) -> str:
        return f"{int(self._clock())}.{secrets.token_hex(4)}"

    def submission_acked(self, view_id: str, ack: JSON) -> None:
        """Do what Slack does with a view_submission's ack body: show ``errors`` on the modal (kept under the
        sandbox's own ``errors`` key), ``update`` or ``push`` a view, ``clear`` the whole stack, or (no
        ``response_action``) close the submitted view. An invalid view, a fourth view on the stack or errors that
        name no input block of the view raise ``SlackApiFailure``, as Slack refuses them."""
        with self._cond:
            view = self._views[view_id]
            view.pop("errors", None)
            action = ack.get("response_action")
            if action == "errors":
                view["errors"] = _checked_errors(ack.get("errors"), view)
            elif action == "update":
                self._replace_view(view, _view_content(ack, "modal"))
            elif action == "push":
                self._push(_view_content(ack, "modal"), view["user"], view)
            else:
                for other in self._views.values():
                    if other is view or (action == "clear" and other["root_view_id"] == view["root_view_id"]):
                        other["open"] = False
            self._changed()

    def files(self) -> list[JSON]:
        """Every file the bot uploaded, oldest first: ``id, name, title, length, content`` (bytes, None until the
        upload URL received it), ``channel`` (None until ``files.completeUploadExternal`` shared it)."""
        with self._cond:
            return [{**{k: v for k, v in f.items() if k != "spool"}, "content": _spooled(f["spool"])}
                    for f in self._files.values()]  # fmt: skip

    def dm_channel(self, user: str) -> str:
        """The id ``conversations.open`` gives the bot's DM with ``user``."""
        return f"D{user}"

    def _conversations_open(self, args: JSON) -> JSON:
        user = _required(args, "users")
        if "," in user:
            raise SlackApiFailure("not_supported")  # group DMs: the sandbox knows one-to-one DMs only
        if user not in self._users:
            raise SlackApiFailure("user_not_found")
        channel = self.dm_channel(user)
        self._history.setdefault(channel, {})
        return {"channel": {"id": channel, "is_im": True, "user": user}}

    def _files_get_upload_url_external(self, args: JSON) -> JSON:
        name = _required(args, "filename")
        try:
            length = int(_required(args, "length"))
        except ValueError as error:
            raise SlackApiFailure("invalid_arguments") from error
        file_id = f"F{next(self._ids):08d}"
        self._files[file_id] = {
            "id": file_id, "name": name, "title": name, "length": length, "spool": None, "size": None, "channel": None,
        }  # fmt: skip
        return {"upload_url": f"{self.url}{UPLOADS_PATH}{file_id}", "file_id": file_id}

    def _upload_post(self, file_id: str, environ: dict[str, Any]) -> tuple[int, dict[str, str], JSON]:
        """The upload URL, read in chunks to a file on disk (so a large export costs the sandbox no memory either).
        Slack answers 200 with a plain "OK - <size>"; the sandbox answers JSON saying the same."""
        with self._cond:
            entry = self._files.get(file_id)
            if entry is None or entry["spool"] is not None:
                return 404, {}, {"ok": False, "error": "not_found"}
            entry["spool"] = path = Path(self._upload_folder()) / file_id
        remaining, stream = int(environ.get("CONTENT_LENGTH") or 0), environ["wsgi.input"]
        with path.open("wb") as spool:
            while remaining > 0:
                chunk = stream.read(min(remaining, 64 * 1024))
                if not chunk:
                    break
                spool.write(chunk)
                remaining -= len(chunk)
            size = spool.tell()
        with self._cond:
            entry["size"] = size
            self._record("upload", {"file_id": file_id, "size": size}, 200, {"ok": True})
            return 200, {}, {"ok": True, "size": size}

    def _upload_folder(self) -> str:
        """Where uploads are kept: a folder of the sandbox's own, removed when the sandbox is collected."""
        folder: str | None = getattr(self, "_uploads", None)
        if folder is None:
            folder = self._uploads = tempfile.mkdtemp(prefix="orderdesk-slack-sandbox-")
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        return folder

    def _files_complete_upload_external(self, args: JSON) -> JSON:
        raw = args.get("files")
        try:
            wanted = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as error:
            raise SlackApiFailure("invalid_arguments") from error
        if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) for f in wanted):
            raise SlackApiFailure("invalid_arguments")
        channel = args.get("channel_id") or None
        if channel is not None and channel not in self._history:
            raise SlackApiFailure("channel_not_found")
        shared = []
        for item in wanted:
            entry = self._files.get(str(item.get("id")))
            if entry is None or entry["spool"] is None:
                raise SlackApiFailure("file_not_found")
            entry["title"] = str(item.get("title") or entry["name"])
            entry["channel"] = channel
            shared.append({"id": entry["id"], "name": entry["name"], "title": entry["title"],
                           "size": entry["size"]})  # fmt: skip
        if channel is not None:
            message = self._bot_message({"text": str(args.get("initial_comment") or ""), "files": shared})
            message["subtype"] = "file_share"
            self._store(channel, message, thread_ts=None)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}


def _spooled(path: Path | None) -> bytes | None:
    """What was uploaded to a file's URL (None before the upload)."""
    return None if path is None else path.read_bytes()


def _parse_args(environ: dict[str, Any], body: bytes) -> JSON:
    """Merge query string and body (form or JSON), decoding JSON-encoded blocks/view/metadata as Slack does."""
    args: JSON = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if body:
        if environ.get("CONTENT_TYPE", "").startswith("application/json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            args |= parsed if isinstance(parsed, dict) else {"_unparseable_body": body.decode(errors="replace")}
        else:
            args |= dict(parse_qsl(body.decode(), keep_blank_values=True))
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                args[key] = {"_unparseable": args[key]}
    return args


def _required(args: JSON, key: str) -> str:
    value = args.get(key)
    if not value:
        raise SlackApiFailure("invalid_arguments")
    return str(value)


def _flag(args: JSON, key: str) -> bool:
    return str(args.get(key, "")).lower() in ("1", "true")


def _message_content(args: JSON, *, partial: bool = False) -> JSON:
    """text/blocks/metadata of a post, validated as Slack validates them (no_text, msg_too_long, invalid_blocks).

    ``partial`` (chat.update, delete_original) keeps whatever is not given, as Slack keeps earlier blocks.
    """
    content: JSON = {}
    if "text" in args and args["text"] is not None:
        content["text"] = str(args["text"])
    if args.get("blocks") is not None:
        content["blocks"] = _checked_blocks(args["blocks"], MESSAGE_MAX_BLOCKS)
    if isinstance(args.get("metadata"), dict):
        content["metadata"] = args["metadata"]
    if not partial and not content.get("text") and not content.get("blocks"):
        raise SlackApiFailure("no_text")
    if len(content.get("text", "")) > TEXT_MAX_CHARS:
        raise SlackApiFailure("msg_too_long")
    return content


def _checked_blocks(blocks: Any, limit: int) -> list[JSON]:
    if not isinstance(blocks, list) or len(blocks) > limit or not all(isinstance(b, dict) for b in blocks):
        raise SlackApiFailure("invalid_blocks")
    for block in blocks:
        try:
            parsed = Block.parse(block)
            if parsed is None:
                raise SlackApiFailure("invalid_blocks")
            parsed.validate_json()
        except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
            raise SlackApiFailure("invalid_blocks") from exc
        _check_option_counts(block)
    return blocks


# Slack's limits on how many options an element offers, which slack_sdk's models leave unchecked.
OPTION_LIMITS = {"static_select": 100, "multi_static_select": 100, "checkboxes": 10, "radio_buttons": 10, "overflow": 5}


def _check_option_counts(block: JSON) -> None:
    elements = [*block.get("elements", []), block.get("accessory"), block.get("element")]
    for element in (e for e in elements if isinstance(e, dict)):
        limit = OPTION_LIMITS.get(str(element.get("type")))
        if limit is None:
            continue
        groups = element.get("option_groups") or []
        if len(element.get("options") or []) > limit or len(groups) > limit:
            raise SlackApiFailure("invalid_blocks")
        if any(len(g.get("options") or []) > limit for g in groups if isinstance(g, dict)):
            raise SlackApiFailure("invalid_blocks")


def _view_content(args: JSON, view_type: str) -> JSON:
    """The ``view`` argument, checked as Slack checks it (type, title, block limits) and without server fields."""
    view = args.get("view")
    if not isinstance(view, dict) or view.get("type") != view_type:
        raise SlackApiFailure("invalid_arguments")
    _checked_blocks(view.get("blocks", []), VIEW_MAX_BLOCKS)
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
        raise SlackApiFailure("invalid_arguments") from exc
    content = {k: v for k, v in view.items() if k not in _VIEW_SERVER_FIELDS}
    content["blocks"] = [_with_ids(block, n) for n, block in enumerate(view.get("blocks", []))]
    return content


def _with_ids(block: JSON, position: int) -> JSON:
    """The block with the ids Slack assigns when the app gave none (derived from the block and its position, so
    stable across updates and distinct within the view)."""
    digest = hashlib.sha256(f"{position}:{json.dumps(block, sort_keys=True)}".encode()).hexdigest()
    block = copy.deepcopy(block)
    block.setdefault("block_id", digest[:5])
    element = block.get("element")
    if block.get("type") == "input" and isinstance(element, dict):
        element.setdefault("action_id", digest[5:10])
    return block


_VIEW_DEFAULTS: JSON = {
    "callback_id": "",
    "private_metadata": "",
    "external_id": "",
    "clear_on_close": False,
    "notify_on_close": False,
}


def _checked_errors(errors: Any, view: JSON) -> dict[str, str]:
    """``response_action: errors`` as Slack checks it: a non-empty object whose keys are the ``block_id`` of input
    blocks of the submitted view and whose messages are strings (Slack refuses the whole answer otherwise)."""
    inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    if not isinstance(errors, dict) or not errors:
        raise SlackApiFailure("invalid_errors")
    for block_id, message in errors.items():
        if block_id not in inputs or not isinstance(message, str) or not message:
            raise SlackApiFailure("invalid_errors")
    return dict(errors)


def checked_options(answer: Any) -> JSON:
    """An options load answer (to ``block_suggestion``) as Slack accepts it: ``options`` or ``option_groups``
    (at most 100), each option valid by slack_sdk's model; anything else raises ``SlackApiFailure``."""
    if not isinstance(answer, dict):
        raise SlackApiFailure("invalid_options")
    try:
        if isinstance(answer.get("option_groups"), list):
            groups = answer["option_groups"]
            if len(groups) > OPTIONS_MAX:
                raise SlackApiFailure("invalid_options")
            for group in groups:
                OptionGroup(**group).validate_json()
            return {"option_groups": groups}
        options = answer.get("options")
        if not isinstance(options, list) or len(options) > OPTIONS_MAX:
            raise SlackApiFailure("invalid_options")
        for option in options:
            if not isinstance(option, dict) or not isinstance(option.get("text"), dict):
                raise SlackApiFailure("invalid_options")
            Option(**option).validate_json()
        return {"options": options}
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
        raise SlackApiFailure("invalid_options") from exc


def _public_view(view: JSON) -> JSON:
    """A stored view as the Web API returns it, without the sandbox's bookkeeping."""
    return {k: copy.deepcopy(v) for k, v in view.items() if k not in SANDBOX_VIEW_FIELDS}


def _encode_cursor(offset: int) -> str:
    """Opaque like Slack's cursors (which are base64 too), so callers cannot come to depend on their content."""
    return base64.urlsafe_b64encode(f"next:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("next:"))
    except ValueError as exc:
        raise SlackApiFailure("invalid_cursor") from exc
