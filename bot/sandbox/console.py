"""The demo console: a browser page that plays a Slack channel with orderdesk in it, served by the Slack sandbox.

It is a thin window onto the sandboxes, never a second implementation of the bot: the page shows what the Slack
sandbox recorded (the channel's history with threads and edits, the current user's ephemeral messages and modals)
and what the Graph sandbox received, and every click is turned, server side, into the signed request Slack would
send (through :class:`~bot.sandbox.slack.SlackRequester`). So the bot under the console is exactly the bot under
a real workspace, and the page needs no secrets and no build step (plain HTML, CSS and JavaScript in ``static/``).

Mounted beside the Web API on the Slack sandbox's port (:meth:`Console.mount`)::

    GET  /console                     the page (static/console.html, .css, .js)
    GET  /console/api/state?user=U…   the channel as that user sees it, the latest Graph calls and running totals
                                      of all of them; ``since=<version>`` answers ``{"unchanged": true}`` when
                                      nothing changed (the page polls)
    POST /console/api/send            {user, text}: ``/order …`` → signed slash command; other text → a message
    POST /console/api/action          {user, action_id, value?, selected?, block_id?, message_ts | view_id,
                                      channel?, inputs?}: signed block_actions, from a message (in the channel
                                      or in the person's DM with the app: ``channel``) or from a view (a modal or
                                      the Home tab: ``container.type == "view"``, the view with its state, no
                                      response URL)
    POST /console/api/suggest         {user, action_id, value, block_id?, view_id | message_ts, inputs?}: signed
                                      block_suggestion; answers the bot's options (``options`` or
                                      ``option_groups``, checked with slack_sdk's models)
    POST /console/api/shortcut        {user, message_ts}: signed message_action ("Look up order")
    POST /console/api/submit          {user, view_id, inputs | values}: signed view_submission (``values``
                                      already in Slack's ``state.values`` shape is sent as it is)
    POST /console/api/close           {user, view_id, back?}: the person closes the modal stack (or, with
                                      ``back``, only the pushed view on top); ``view_closed`` is sent for views
                                      opened with ``notify_on_close``
    POST /console/api/home            {user}: the person opens the app's Home tab: signed ``app_home_opened``

``inputs`` is what the person entered, ``{block_id: {action_id: raw}}``: text for text and number inputs, an
option's value for selects and radio buttons (the served option object for an external select), a list of values
for checkboxes. The console turns it into Slack's ``state.values`` shape from the view's own blocks
(:func:`~bot.sandbox.slack_requester.state_values`), so the bot receives exactly what Slack would send.

What the page draws, for the listeners that rely on it: messages and thread replies (folded under "N replies"),
buttons with ``confirm`` dialogs, selects (static and external), overflow menus, checkboxes, radio buttons,
number and text inputs (single and multiline; an input block with ``dispatch_action`` sends its choice, or Enter
in a text input, as a block action), ``<!subteam^…>`` as the group's handle, ``<!date^…>`` in the
reader's time zone; modals as a stack (the newest open one on top, with Back when it was pushed) with inline
errors under their blocks; and a Home tab per user showing the view ``views.publish`` last published for them.

Each POST answers ``{ok, status, ack?, error?, warning?}``: ``status`` is the bot's HTTP answer, so the page can
say what Slack would say when an app does not answer ("dispatch_failed"); ``warning`` says the app answered later
than the 3 seconds Slack waits.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.sandbox.slack_requester import Sent, SlackRequester, state_values, suggested_options
from bot.sandbox.slack_web import BOT_USER_ID, SlackApiFailure, SlackSandbox

JSON = dict[str, Any]
StartResponse = Callable[..., Any]

PREFIX = "/console"
GRAPH_CALLS_SHOWN = 60
# Calls are numbered when they start and recorded when they end, so a slow one lands after later numbers. The
# console re-reads from the oldest number not yet seen; one that is never recorded stops holding the window back
# once this many later calls have been seen.
GRAPH_STRAGGLER_WINDOW = 500
MAX_BODY = 64 * 1024
ACK_SECONDS = 3.0  # Slack waits this long for the app's answer to an interaction
_STATIC = {
    "console.html": "text/html",
    "console.css": "text/css",
    "console.js": "text/javascript",
}


GRAPH_TOTALS = ("requests", "reads", "poller_reads", "writes", "errors", "acknowledgements")
ACK_EDGES = ("/acknowledge_order", "/acknowledge_orders")


def lists_orders(call: JSON) -> bool:
    """A read of a Page's order list (``GET /{page}/commerce_orders``): how the poller finds new orders."""
    return call.get("method") == "GET" and str(call.get("path", "")).rstrip("/").endswith("/commerce_orders")


@dataclass(frozen=True)
class Agent:
    """A person the page can act as; ``note`` is shown in the user switcher (e.g. "not allowed to acknowledge")."""

    user_id: str
    note: str = ""


class BadRequest(Exception):
    """The page sent something the console cannot turn into a Slack request (answered 400 with the reason)."""


class Console:
    """WSGI app for ``/console``: reads the sandboxes' records and sends signed requests on the page's behalf.

    ``graph_calls(since)`` returns the Graph sandbox's calls numbered above ``since`` (its ``calls`` method,
    in-process); ``is_poller_read`` tells the poller's reads among them, which the page can hide. ``tips`` are
    mrkdwn lines shown at the top of the channel (things to try, with ids that exist). ``command`` is the slash
    command the composer sends signed (the app's, which the demo passes: the sandbox knows no app of its own).
    """

    def __init__(
        self,
        slack: SlackSandbox,
        requester: SlackRequester,
        *,
        graph_calls: Callable[[int], list[JSON]] = lambda since: [],
        is_poller_read: Callable[[JSON], bool] = lists_orders,
        channel: str = "C0ORDERS",
        agents: Sequence[Agent] = (Agent("U0AGENT1"), Agent("U0AGENT2"), Agent("U0AGENT3")),
        command: str = "/order",
        tips: Sequence[str] = (),
    ) -> None:
        self.slack = slack
        self.requester = requester
        self.channel = channel
        self.agents = tuple(agents)
        self.command = command
        self.tips = tuple(tips)
        self._graph_calls = graph_calls
        self._is_poller_read = is_poller_read
        self._graph_lock = threading.Lock()
        self._graph_low = 0  # every call numbered up to here has been counted
        self._graph_counted: set[int] = set()  # calls above it counted so far
        self._graph_recent: list[JSON] = []  # the latest calls, by number
        self._graph_totals = dict.fromkeys(GRAPH_TOTALS, 0)
        self._routes: dict[tuple[str, str], Callable[[JSON], JSON]] = {
            ("GET", "state"): lambda query: self.state(query.get("user", ""), since=query.get("since")),
            ("POST", "send"): self._send,
            ("POST", "action"): self._action,
            ("POST", "shortcut"): self._shortcut,
            ("POST", "submit"): self._submit,
            ("POST", "suggest"): self._suggest,
            ("POST", "close"): self._close,
            ("POST", "home"): self._home,
        }

    def mount(self) -> None:
        """Serve the console at ``/console`` on the Slack sandbox's own port."""
        self.slack.mount(PREFIX, self)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").removeprefix(PREFIX).strip("/")
        if method == "GET" and path in ("", "console.html"):
            return _static(start_response, "console.html")
        if method == "GET" and path.startswith("static/") and path.removeprefix("static/") in _STATIC:
            return _static(start_response, path.removeprefix("static/"))
        route = self._routes.get((method, path.removeprefix("api/"))) if path.startswith("api/") else None
        if route is None:
            return _json(start_response, 404, {"ok": False, "error": "not_found"})
        try:
            return _json(start_response, 200, route(_read_json(environ) if method == "POST" else _query(environ)))
        except BadRequest as exc:
            return _json(start_response, 400, {"ok": False, "error": str(exc)})
        except httpx.HTTPError as exc:
            # The bot is down or hung up: what Slack shows an agent when an app does not answer.
            return _json(start_response, 200, {"ok": False, "status": 0, "error": f"dispatch_failed ({exc})"})

    def _direct(self, user: str) -> list[JSON]:
        """The user's DM with the app (the files it sent there, such as an export), shown beside their ephemerals."""
        try:
            dm = self.slack.dm_channel(user)
            return [{**m, "message_ts": m["ts"], "channel": dm} for m in self.slack.messages(dm)]
        except KeyError:
            return []

    def state(self, user: str, *, since: str | None = None) -> JSON:
        """The channel as ``user`` sees it: messages (threads folded in), their ephemerals, their open modals,
        and the Graph call record. ``version`` is a digest of all of it, so polling is cheap when nothing moved."""
        user = self._agent(user)
        messages = self.slack.messages(self.channel)
        for message in messages:
            if message.get("reply_count"):
                message["replies"] = self.slack.messages(self.channel, thread_ts=message["ts"])[1:]
        state = {
            "channel": self.slack.channel(self.channel),
            "command": self.command,
            "tips": self.tips,
            "bot_user_id": BOT_USER_ID,
            "users": {u: self._public_user(u) for u in self._known_users(messages)},
            "agents": [
                {"id": a.user_id, "name": self.slack.user(a.user_id)["name"], "note": a.note} for a in self.agents
            ],
            "user": user,
            "messages": messages,
            "ephemerals": self.slack.ephemerals(user=user, channel=self.channel),
            "direct": self._direct(user),
            "modals": [_modal(v) for v in self.slack.views(user=user) if v["type"] == "modal" and v["open"]],
            "home": _home(self.slack.home(user)),
            "usergroups": self.slack.usergroup_handles(),
            **self._graph(),
        }
        version = hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if since == version:
            return {"version": version, "unchanged": True}
        return {"version": version, **state}

    def _graph(self) -> JSON:
        """The latest Graph calls, each marked with its kind, and running totals by kind since the start."""
        with self._graph_lock:
            for call in self._graph_calls(self._graph_low):
                seq = int(call["seq"])
                if seq <= self._graph_low or seq in self._graph_counted:
                    continue
                self._graph_counted.add(seq)
                self._count(call)
                bisect.insort(self._graph_recent, call, key=lambda c: int(c["seq"]))
                del self._graph_recent[:-GRAPH_CALLS_SHOWN]
            counted = self._graph_counted
            newest = max(counted, default=self._graph_low)
            while counted and (self._graph_low + 1 in counted or newest - self._graph_low > GRAPH_STRAGGLER_WINDOW):
                self._graph_low += 1
                counted.discard(self._graph_low)
            return {"graph_calls": list(self._graph_recent), "graph_totals": dict(self._graph_totals)}

    def _count(self, call: JSON) -> None:
        read = call.get("method") == "GET"
        call["kind"] = "read" if read else "write"
        call["poller"] = read and self._is_poller_read(call)
        call["error"] = not 200 <= int(call.get("status") or 0) < 400
        totals = self._graph_totals
        totals["requests"] += 1
        totals["reads" if read else "writes"] += 1
        totals["poller_reads"] += call["poller"]
        totals["errors"] += call["error"]
        totals["acknowledgements"] += not read and str(call.get("path", "")).endswith(ACK_EDGES)

    def _known_users(self, messages: list[JSON]) -> set[str]:
        known = {a.user_id for a in self.agents} | {BOT_USER_ID}
        for message in messages:
            known |= {m.get("user", "") for m in (message, *message.get("replies", []))}
        return {u for u in known if u}

    def _public_user(self, user_id: str) -> JSON:
        try:
            info = self.slack.user(user_id)
        except KeyError:
            return {"id": user_id, "name": user_id, "real_name": user_id, "is_bot": False}
        return {k: info[k] for k in ("id", "name", "real_name", "is_bot")}

    def _agent(self, user: object) -> str:
        if not any(a.user_id == user for a in self.agents):
            raise BadRequest(f"unknown user {user!r}")
        return str(user)

    def _send(self, body: JSON) -> JSON:
        """The composer: a slash command goes to the bot signed, like Slack; anything else is a message."""
        user, text = self._agent(body.get("user")), str(body.get("text") or "").strip()
        if not text:
            raise BadRequest("nothing to send")
        if not text.startswith("/"):
            self.slack.post_as_user(self.channel, text, user)
            return {"ok": True}
        command, _, argument = text.partition(" ")
        if command != self.command:
            return {"ok": False, "error": f"{command} is not a valid command. Try {self.command} help."}
        return _answer(self.requester.slash_command(argument.strip(), user=user, channel=self.channel))

    def _action(self, body: JSON) -> JSON:
        user = self._agent(body.get("user"))
        action_id, value = _text(body, "action_id"), str(body.get("value") or "")
        if body.get("view_id"):
            view = self._view(body, user)
            try:
                values = state_values(view.get("blocks", []), _inputs(body), strict=False)
                sent = self.requester.view_action(
                    view["id"],
                    action_id,
                    user=user,
                    value=value,
                    selected=body.get("selected"),
                    block_id=body.get("block_id") or None,
                    values=values,
                )
            except ValueError as exc:
                raise BadRequest(str(exc)) from exc
            return _answer(sent)
        channel = str(body.get("channel") or self.channel)
        if channel not in (self.channel, self.slack.dm_channel(user)):
            raise BadRequest(f"{user} cannot see channel {channel}")
        sent = self.requester.block_action(
            action_id,
            value,
            user=user,
            channel=channel,
            message_ts=_text(body, "message_ts"),
            block_id=body.get("block_id") or None,
            selected=body.get("selected"),
        )
        return _answer(sent)

    def _suggest(self, body: JSON) -> JSON:
        """An external select being typed into: the bot's options, or what went wrong in words."""
        user = self._agent(body.get("user"))
        action_id, typed = _text(body, "action_id"), str(body.get("value") or "")
        block_id = body.get("block_id") or None
        if body.get("view_id"):
            view = self._view(body, user)
            try:
                values = state_values(view.get("blocks", []), _inputs(body), strict=False)
            except ValueError as exc:
                raise BadRequest(str(exc)) from exc
            sent = self.requester.block_suggestion(
                action_id, typed, user=user, view_id=view["id"], block_id=block_id, values=values
            )
        else:
            sent = self.requester.block_suggestion(
                action_id,
                typed,
                user=user,
                channel=self.channel,
                message_ts=_text(body, "message_ts"),
                block_id=block_id,
            )
        answer = _answer(sent)
        if not answer["ok"]:
            return answer
        try:
            return {"ok": True, "status": 200, **suggested_options(sent)}
        except SlackApiFailure as failure:
            return {
                "ok": False,
                "status": 200,
                "error": f"the app answered with options Slack would refuse ({failure.error})",
            }

    def _close(self, body: JSON) -> JSON:
        """✕ or Cancel closes the whole stack; Back closes the pushed view on top. Views opened with
        ``notify_on_close`` make the bot hear ``view_closed``, as in Slack."""
        user = self._agent(body.get("user"))
        view = self._view(body, user)
        back = bool(body.get("back"))
        closed = self.slack.close_view(view["id"], whole_stack=not back)
        answer: JSON = {"ok": True}
        for gone in closed:
            if gone.get("notify_on_close"):
                answer = _answer(self.requester.view_closed(gone, user=user, is_cleared=not back and len(closed) > 1))
        return answer

    def _home(self, body: JSON) -> JSON:
        """The person opened the app's Home tab: Slack tells the app each time (``app_home_opened``)."""
        return _answer(self.requester.app_home_opened(self._agent(body.get("user"))))

    def _view(self, body: JSON, user: str) -> JSON:
        """The view the page names, if it is this person's: their open modal or their Home tab."""
        try:
            view = self.slack.view(_text(body, "view_id"))
        except KeyError as exc:
            raise BadRequest("that modal is gone") from exc
        if view.get("user") != user or (view["type"] == "modal" and not view["open"]):
            raise BadRequest("that modal is not open for you")
        return view

    def _shortcut(self, body: JSON) -> JSON:
        user = self._agent(body.get("user"))
        try:
            message = self.slack.message(self.channel, _text(body, "message_ts"))
        except KeyError as exc:
            raise BadRequest("that message is gone") from exc
        return _answer(self.requester.message_shortcut(message, channel=self.channel, user=user))

    def _submit(self, body: JSON) -> JSON:
        """A submission from ``inputs`` (turned into Slack's shape here) or, for callers that built it
        themselves, ``values`` already in Slack's ``state.values`` shape."""
        user = self._agent(body.get("user"))
        given = body.get("values")
        if "values" in body and not isinstance(given, dict):
            raise BadRequest("values must be an object")
        view = self._view(body, user)
        try:
            values = given if isinstance(given, dict) else state_values(view.get("blocks", []), _inputs(body))
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        try:
            return _answer(self.requester.view_submission(view, values, user=user))
        except SlackApiFailure as failure:  # the bot acked with a view or errors Slack would refuse
            what = _REFUSED_ACKS.get(failure.error, "an invalid view")
            return {"ok": False, "status": 200, "error": f"the app answered with {what} ({failure.error})"}


_REFUSED_ACKS = {
    "invalid_errors": "errors for blocks that are not inputs of this view",
    "push_limit_reached": "a fourth view on the stack",
}


def _modal(view: JSON) -> JSON:
    keys = ("id", "title", "submit", "close", "blocks", "callback_id", "errors", "previous_view_id", "root_view_id")
    return {k: view.get(k) for k in keys}


def _home(view: JSON | None) -> JSON | None:
    return None if view is None else {k: view.get(k) for k in ("id", "blocks", "callback_id", "hash")}


def _inputs(body: JSON) -> dict[str, dict[str, Any]]:
    """``inputs`` as the page sent them: ``{block_id: {action_id: raw}}``."""
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, dict) for v in inputs.values()):
        raise BadRequest("inputs must be an object of objects")
    return inputs


def _answer(sent: Sent) -> JSON:
    status = sent.response.status_code
    answer: JSON = {"ok": status == 200, "status": status}
    if status != 200:
        answer["error"] = "dispatch_failed" if status >= 500 else f"the app answered HTTP {status}"
    elif sent.response.content:
        try:
            answer["ack"] = sent.response.json()
        except ValueError:
            answer["ack"] = sent.response.text
    if sent.elapsed > ACK_SECONDS:
        # Slack shows the person an error and drops a late answer; the sandbox keeps it, and says so.
        answer["warning"] = f"the app took {sent.elapsed:.1f} s to answer; Slack gives up after {ACK_SECONDS:.0f} s"
    return answer


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} is required")
    return value


def _query(environ: dict[str, Any]) -> JSON:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _read_json(environ: dict[str, Any]) -> JSON:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY:
        raise BadRequest("request too large")
    try:
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except ValueError as exc:
        raise BadRequest("body must be JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _static(start_response: StartResponse, name: str) -> list[bytes]:
    data = resources.files("bot.sandbox").joinpath("static", name).read_bytes()
    start_response(
        "200 OK",
        [
            ("Content-Type", f"{_STATIC[name]}; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            # Everything the page needs is served from here: no CDN, no inline script, no third-party request.
            ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'"),
        ],
    )
    return [data]


def _json(start_response: StartResponse, status: int, payload: JSON) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
