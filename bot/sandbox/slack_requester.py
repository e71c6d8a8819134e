"""Slack's side of the conversation: Slack-shaped, signed requests POSTed to the bot's ``/slack/events``.

Payload shapes follow Slack's documented examples and what slack_bolt reads from them (``slack_bolt/request/
internals.py``): ``user.team_id`` for the actor's workspace, ``container`` and ``message`` for block actions,
``view.state.values`` for submissions. Response URLs and trigger ids are minted by the :class:`SlackSandbox`, so
whatever the bot does with them (``respond()``, ``views.open``) lands back in the sandbox's record.

What a listener can rely on (the console sends exactly these):

- **Block actions on a message** (:meth:`SlackRequester.block_action`): ``container.type == "message"`` (with
  ``thread_ts`` for a thread reply), ``channel``, a ``response_url``, and ``message`` unless it is ephemeral. A
  button's action carries ``value``; a select, overflow or radio group's carries ``selected_option``; checkboxes
  and multi-selects carry ``selected_options`` (the option objects as the blocks define them).
- **Block actions in a view** (:meth:`SlackRequester.view_action`: a modal's or the Home tab's buttons and
  selects): ``container == {"type": "view", "view_id": …}``, the whole ``view`` (with ``state.values``,
  ``private_metadata``, ``hash``), a ``trigger_id``, and **no** ``response_url`` and no ``channel``: answers go
  through ``views.update`` or a DM/ephemeral message.
- **Options** (:meth:`SlackRequester.block_suggestion`, an ``external_select`` being typed into): ``type
  "block_suggestion"``, ``action_id``, ``block_id``, ``value`` (the text typed), and ``view`` with ``container``
  of type view (or ``message``/``channel`` for a select in a message). The ack body must be ``{"options": […]}`` or
  ``{"option_groups": […]}`` (:func:`suggested_options` checks it with slack_sdk's models, at most 100).
- **Submissions** (:meth:`SlackRequester.view_submission` with values, or :meth:`SlackRequester.submit` with
  what a person entered): ``view.state.values[block_id][action_id]`` holds,
  per element type (:func:`state_values` builds it from the view's blocks and what was entered):
  ``plain_text_input``/``number_input`` → ``value`` (a string, or None when empty; numbers stay strings, as
  Slack sends them), ``static_select``/``external_select``/``radio_buttons`` → ``selected_option`` (or None),
  ``checkboxes``/``multi_static_select`` → ``selected_options`` (a list). Every input block is present, filled or
  not; ``private_metadata`` comes back as the view held it.
- **App Home** (:meth:`SlackRequester.app_home_opened`): an ``event_callback`` with ``event.type ==
  "app_home_opened"``, ``tab == "home"``, ``channel`` (the DM), and ``view`` once a Home view was published.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from bot.sandbox.slack_web import (
    APP_ID,
    BOT_USER_ID,
    DEFAULT_SIGNING_SECRET,
    SANDBOX_VIEW_FIELDS,
    TEAM_DOMAIN,
    SlackApiFailure,
    SlackSandbox,
    checked_options,
)

JSON = dict[str, Any]
VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 - Slack's deprecated per-payload token, not a secret


@dataclass
class Sent:
    """One request delivered to the bot: its HTTP answer (the ack) and what the bot may use to answer later."""

    response: httpx.Response
    response_url: str | None
    trigger_id: str | None
    payload: JSON
    elapsed: float  # seconds until the ack arrived


class SlackRequester:
    """Builds Slack-shaped requests, signs them like Slack and POSTs them to the bot's /slack/events."""

    def __init__(
        self,
        sandbox: SlackSandbox,
        events_url: str,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sandbox = sandbox
        self.events_url = events_url
        self._secret = signing_secret.encode()
        self._own_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=10.0)
        self._clock = clock

    def close(self) -> None:
        """Close the HTTP client if this requester made it."""
        if self._own_http:
            self._http.close()

    def __enter__(self) -> SlackRequester:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def slash_command(
        self, text: str, *, user: str = "U0AGENT1", channel: str = "C0ORDERS", command: str = "/order"
    ) -> Sent:
        """A slash command: a form body with the command's fields, a fresh response URL and trigger id."""
        response_url = self.sandbox.new_response_url(channel=channel, user=user)
        trigger_id = self.sandbox.new_trigger_id(user=user)
        member = self.sandbox.user(user)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.sandbox.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.sandbox.channel(channel)["name"],
            "user_id": user,
            "user_name": member["name"],
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return self._deliver(urlencode(fields).encode(), "application/x-www-form-urlencoded", fields, {})

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0AGENT1",
        channel: str = "C0ORDERS",
        message_ts: str | None = None,
        block_id: str | None = None,
        ephemeral_response_url: str | None = None,
        team_id: str | None = None,
        selected: Any = None,
    ) -> Sent:
        """A button click (or a choice in a select, overflow menu, radio group or checkboxes: ``selected`` is the
        option's value, a list of them, or an option object an external select was served). With ``message_ts``
        of a channel message (or thread reply), the payload carries that message from the sandbox's history;
        otherwise the click is on an ephemeral message (the one with ``message_ts``, or the user's latest in the
        channel) and carries no message, as Slack does.

        ``block_id`` defaults to the block holding ``action_id`` in that message (else ``"actions"``);
        ``ephemeral_response_url`` makes the payload carry that URL instead of a fresh one; ``team_id`` overrides
        the payload's team (the user's own workspace still appears in ``user.team_id``).
        """
        message = self._channel_message(channel, message_ts)
        if message is None:
            ephemeral = self._ephemeral(user, channel, message_ts)
            blocks = ephemeral["blocks"] if ephemeral and "blocks" in ephemeral else []
            message_ts = ephemeral["message_ts"] if ephemeral else message_ts
        else:
            blocks = message.get("blocks", [])
        response_url = ephemeral_response_url or self.sandbox.new_response_url(
            channel=channel, user=user, message_ts=message_ts
        )
        trigger_id = self.sandbox.new_trigger_id(user=user)
        element, found_block = _find_action(blocks, action_id)
        action = self._action(element, action_id, block_id or found_block or "actions", value, selected)
        container: JSON = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        container["is_ephemeral"] = message is None
        if message is not None and message.get("thread_ts", message["ts"]) != message["ts"]:
            container["thread_ts"] = message["thread_ts"]
        payload = {
            "type": "block_actions",
            **self._actor(user, team_id),
            "container": container,
            "trigger_id": trigger_id,
            "channel": {"id": channel, "name": self.sandbox.channel(channel)["name"]},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if message is not None:
            payload["message"] = message
        return self._deliver_payload(payload)

    def view_action(
        self,
        view_id: str,
        action_id: str,
        *,
        user: str = "U0AGENT1",
        value: str = "",
        selected: Any = None,
        block_id: str | None = None,
        values: JSON | None = None,
    ) -> Sent:
        """A click (or choice, as in :meth:`block_action`) in a modal or a Home tab the sandbox holds: the payload
        carries the whole view with ``values`` as its ``state.values`` (default: what :func:`state_values` gives
        for nothing entered), ``container`` of type ``view``, and no response URL, as Slack's does."""
        view = self.sandbox.view(view_id)
        element, found_block = _find_action(view.get("blocks", []), action_id)
        state = values if values is not None else state_values(view.get("blocks", []), {})
        payload = {
            "type": "block_actions",
            **self._actor(user, None),
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self.sandbox.new_trigger_id(user=user),
            "view": _view_payload(view, state),
            "actions": [self._action(element, action_id, block_id or found_block or "", value, selected)],
        }
        return self._deliver_payload(payload)

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0AGENT1",
        view_id: str | None = None,
        block_id: str | None = None,
        values: JSON | None = None,
        channel: str = "C0ORDERS",
        message_ts: str | None = None,
    ) -> Sent:
        """What Slack sends to the options load URL (the same ``/slack/events`` for Bolt) while a person types
        ``value`` into the ``external_select`` with ``action_id``: in the view ``view_id`` (with ``values`` as its
        state), or in the channel message ``message_ts``. :func:`suggested_options` reads the answer."""
        payload: JSON = {"type": "block_suggestion", **self._actor(user, None), "action_id": action_id}
        if view_id is not None:
            view = self.sandbox.view(view_id)
            _, found_block = _find_action(view.get("blocks", []), action_id)
            state = values if values is not None else state_values(view.get("blocks", []), {})
            payload |= {"container": {"type": "view", "view_id": view_id}, "view": _view_payload(view, state)}
        else:
            message = self._channel_message(channel, message_ts)
            _, found_block = _find_action((message or {}).get("blocks", []), action_id)
            container = {"type": "message", "message_ts": message_ts, "channel_id": channel}
            payload["container"] = container | {"is_ephemeral": message is None}
            payload["channel"] = {"id": channel, "name": self.sandbox.channel(channel)["name"]}
            if message is not None:
                payload["message"] = message
        payload |= {"block_id": block_id or found_block or "", "value": value, "action_ts": self._action_ts()}
        return self._deliver_payload(payload)

    def view_closed(self, view: JSON, *, user: str = "U0AGENT1", is_cleared: bool = False) -> Sent:
        """Slack's ``view_closed`` (sent only for views opened with ``notify_on_close``) when a person closes
        ``view`` (``is_cleared``: the whole stack went with it)."""
        payload = {
            "type": "view_closed",
            **self._actor(user, None),
            "view": _view_payload(view, state_values(view.get("blocks", []), {})),
            "is_cleared": is_cleared,
        }
        return self._deliver_payload(payload)

    def app_home_opened(self, user: str = "U0AGENT1", *, tab: str = "home") -> Sent:
        """The ``app_home_opened`` event Slack sends each time ``user`` opens the app's ``tab`` ("home" or
        "messages"); it carries the Home view the bot last published for them, if any."""
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.sandbox.dm_channel(user),
            "tab": tab,
            "event_ts": f"{self._clock():.6f}",
        }
        home = self.sandbox.home(user)
        if home is not None and tab == "home":
            event["view"] = _view_payload(home, {})
        digest = hashlib.sha256(f"{user}{time.monotonic_ns()}".encode()).hexdigest()[:10].upper()
        return self.event(event, event_id=f"Ev{digest}")  # every opening is a new event, even at one clock tick

    def message_shortcut(
        self, message: JSON, *, channel: str = "C0ORDERS", user: str = "U0AGENT1", callback_id: str = "lookup_order"
    ) -> Sent:
        """The message shortcut ("Look up order") invoked on ``message`` (as stored by the sandbox)."""
        response_url = self.sandbox.new_response_url(channel=channel, user=user)
        trigger_id = self.sandbox.new_trigger_id(user=user)
        payload = {
            "type": "message_action",
            **self._actor(user, None),
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "action_ts": self._action_ts(),
            "message_ts": message["ts"],
            "message": message,
            "channel": {"id": channel, "name": self.sandbox.channel(channel)["name"]},
            "response_url": response_url,
        }
        return self._deliver_payload(payload)

    def view_submission(self, view: JSON, values: JSON, *, user: str = "U0AGENT1") -> Sent:
        """Submit a modal: ``view`` as ``views.open`` returned it (the sandbox's current version is used when it
        knows the id), ``values`` in Slack's ``state.values`` shape (``{block_id: {action_id: {type, value}}}``)."""
        known = view["id"] in {v["id"] for v in self.sandbox.views()}
        current = self.sandbox.view(view["id"]) if known else dict(view)
        trigger_id = self.sandbox.new_trigger_id(user=user)
        payload = {
            "type": "view_submission",
            **self._actor(user, None),
            "trigger_id": trigger_id,
            "view": _view_payload(current, values),
            "response_urls": [],
        }
        sent = self._deliver_payload(payload)
        if known and sent.response.status_code == 200:
            self.sandbox.submission_acked(current["id"], _ack_body(sent.response))
        return sent

    def submit(self, view_id: str, entered: Mapping[str, Mapping[str, Any]], *, user: str = "U0AGENT1") -> Sent:
        """Submit the stored modal ``view_id`` with what a person ``entered`` (as :func:`state_values` takes it:
        ``{block_id: {action_id: text, option value, list of values or served option}}``); the payload's
        ``state.values`` is built from the view's own blocks, in Slack's shape. Raises ``ValueError`` for input
        Slack's client would not let through."""
        view = self.sandbox.view(view_id)
        return self.view_submission(view, state_values(view.get("blocks", []), entered), user=user)

    def event(
        self,
        event: JSON,
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        event_id: str | None = None,
    ) -> Sent:
        """An Events API delivery. ``event_id`` defaults to a digest of the event, so a retry of the same event
        (``retry_num``/``retry_reason`` → ``X-Slack-Retry-*`` headers) carries the same id, as Slack's do."""
        digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:10].upper()
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.sandbox.team_id,
            "context_team_id": self.sandbox.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{digest}",
            "event_time": int(self._clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.sandbox.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self._deliver(json.dumps(envelope).encode(), "application/json", envelope, headers)

    def link_shared(
        self,
        urls: list[str],
        *,
        channel: str = "C0ORDERS",
        user: str = "U0AGENT1",
        message_ts: str = "1700000000.000100",
        source: str = "conversations_history",
    ) -> Sent:
        """Slack's ``link_shared`` event for a message holding ``urls`` (``source="composer"`` for the one Slack
        sends while the link is being typed). The ``unfurl_id`` is the same for both, as Slack's is."""
        event = {
            "type": "link_shared",
            "channel": channel,
            "user": user,
            "message_ts": message_ts,
            "unfurl_id": f"U{hashlib.sha256((channel + message_ts).encode()).hexdigest()[:16]}",
            "source": source,
            "event_ts": f"{self._clock():.6f}",
            "links": [{"domain": urlsplit(url).hostname or "", "url": url} for url in urls],
        }
        return self.event(event)

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Slack's v0 signature headers for ``body`` (timestamp defaults to now by the requester's clock)."""
        ts = str(int(self._clock()) if timestamp is None else timestamp)
        digest = hmac.new(self._secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": ts}

    def send_raw(self, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST exactly these bytes and headers (for signature tests: tampered, stale or missing)."""
        return self._http.post(self.events_url, content=body, headers=dict(headers))

    def _deliver_payload(self, payload: JSON) -> Sent:
        """Interactivity: one form field ``payload`` holding the JSON."""
        payload = {"token": VERIFICATION_TOKEN, "api_app_id": APP_ID, **payload}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._deliver(body, "application/x-www-form-urlencoded", payload, {})

    def _deliver(self, body: bytes, content_type: str, payload: JSON, extra_headers: Mapping[str, str]) -> Sent:
        headers = {"Content-Type": content_type, **self.sign(body), **extra_headers}
        started = time.perf_counter()
        response = self.send_raw(body, headers)
        elapsed = time.perf_counter() - started
        return Sent(response, payload.get("response_url"), payload.get("trigger_id"), payload, elapsed)

    def _actor(self, user: str, team_id: str | None) -> JSON:
        """``user`` and ``team`` as Slack sends them; a Slack Connect guest keeps their own ``user.team_id``."""
        member = self.sandbox.user(user)
        team = team_id or self.sandbox.team_id
        return {
            "user": {"id": user, "username": member["name"], "name": member["name"], "team_id": member["team_id"]},
            "team": {"id": team, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _action_ts(self) -> str:
        return f"{self._clock():.6f}"

    def _action(self, element: JSON, action_id: str, block_id: str, value: str, selected: Any) -> JSON:
        """One entry of ``actions``: a button's text and value, or the choice made in a select-like element."""
        kind = element.get("type", "button")
        action: JSON = {"type": kind, "action_id": action_id, "block_id": block_id}
        if kind == "button":
            action["text"] = element.get("text", {"type": "plain_text", "text": action_id, "emoji": True})
            action["value"] = value
            if "style" in element:
                action["style"] = element["style"]
        else:
            action |= {k: v for k, v in element_state(element, selected).items() if k != "type"}
            if "placeholder" in element:
                action["placeholder"] = element["placeholder"]
        action["action_ts"] = self._action_ts()
        return action

    def _channel_message(self, channel: str, message_ts: str | None) -> JSON | None:
        if message_ts is None:
            return None
        try:
            return self.sandbox.message(channel, message_ts)
        except KeyError:
            return None

    def _ephemeral(self, user: str, channel: str, message_ts: str | None) -> JSON | None:
        shown = self.sandbox.ephemerals(user=user, channel=channel)
        if message_ts is not None:
            return next((e for e in shown if e["message_ts"] == message_ts), None)
        return shown[-1] if shown else None


def _ack_body(response: httpx.Response) -> JSON:
    """The JSON a listener passed to ``ack()`` (Bolt answers an empty body when it passed nothing)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _find_action(blocks: list[JSON], action_id: str) -> tuple[JSON, str | None]:
    """The interactive element with ``action_id`` and its block's id, searched through actions, section and input
    blocks."""
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}, block.get("element") or {}]:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, block.get("block_id")
    return {}, None


def _view_payload(view: JSON, values: JSON) -> JSON:
    """A stored view as Slack puts it in a payload: without the sandbox's bookkeeping, with ``state.values``."""
    shown = {k: copy.deepcopy(v) for k, v in view.items() if k not in SANDBOX_VIEW_FIELDS}
    return shown | {"state": {"values": values}}


def suggested_options(sent: Sent) -> JSON:
    """The options the bot answered a :meth:`SlackRequester.block_suggestion` with, checked as Slack checks them
    (``SlackApiFailure`` for a non-200 answer or options Slack would not show)."""
    if sent.response.status_code != 200:
        raise SlackApiFailure(f"http_{sent.response.status_code}")
    return checked_options(_ack_body(sent.response))


TEXT_ELEMENTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input"})
ONE_OPTION_ELEMENTS = frozenset({"static_select", "external_select", "radio_buttons", "overflow"})
MANY_OPTION_ELEMENTS = frozenset({"checkboxes", "multi_static_select", "multi_external_select"})
STATEFUL_ELEMENTS = (TEXT_ELEMENTS | ONE_OPTION_ELEMENTS | MANY_OPTION_ELEMENTS) - {"overflow"}
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def state_values(blocks: list[JSON], entered: Mapping[str, Mapping[str, Any]], *, strict: bool = True) -> JSON:
    """``view.state.values`` as Slack builds it from a view's ``blocks`` and what a person entered.

    ``entered[block_id][action_id]`` is, per element type: text for text and number inputs, an option's value
    for selects and radio buttons (or, for an external select, the option object the bot served), a list of
    values for checkboxes and multi-selects. What was not entered keeps the element's initial value. Every input
    block (and every select or checkbox group in an actions block) is present, as in Slack's payloads. Raises
    ``ValueError`` for what Slack's client would not let through: an unknown option, a number that is not one
    (or out of the element's range; checked only when ``strict``, since Slack checks numbers at submission and
    a block action or options request carries the state as typed so far), input for a block the view does not
    have.
    """
    values: JSON = {}
    known: set[tuple[str, str]] = set()
    for block in blocks:
        if block.get("type") == "input":
            elements = [block.get("element") or {}]
        elif block.get("type") == "actions":
            elements = list(block.get("elements", []))
        elif block.get("type") == "section" and block.get("accessory"):
            elements = [block["accessory"]]
        else:
            continue
        for element in elements:
            if element.get("type") not in STATEFUL_ELEMENTS or not element.get("action_id"):
                continue
            block_id, action_id = str(block.get("block_id", "")), str(element["action_id"])
            known.add((block_id, action_id))
            given = entered.get(block_id, {})
            raw = given[action_id] if action_id in given else _initial(element)
            values.setdefault(block_id, {})[action_id] = element_state(element, raw, strict=strict)
    unknown = [f"{b}/{a}" for b, actions in entered.items() for a in actions if (b, a) not in known]
    if unknown:
        raise ValueError(f"the view has no input {', '.join(sorted(unknown))}")
    return values


def element_state(element: JSON, raw: Any, *, strict: bool = True) -> JSON:
    """One element's entry in ``state.values`` (also what a block action carries for it), from ``raw`` as
    :func:`state_values` takes it."""
    kind = str(element.get("type"))
    if kind in TEXT_ELEMENTS:
        text = None if raw is None or raw == "" else str(raw)
        if kind == "number_input" and text is not None and strict:
            _check_number(element, text)
        return {"type": kind, "value": text}
    if kind in ONE_OPTION_ELEMENTS:
        return {"type": kind, "selected_option": _option(element, raw)}
    if kind in MANY_OPTION_ELEMENTS:
        chosen = [] if raw is None else raw if isinstance(raw, list) else [raw]
        options = [_option(element, one) for one in chosen]
        return {"type": kind, "selected_options": [o for o in options if o is not None]}
    raise ValueError(f"the sandbox knows no input element {kind!r}")


def _initial(element: JSON) -> Any:
    if "initial_options" in element:
        return list(element["initial_options"])
    if "initial_option" in element:
        return element["initial_option"]
    return element.get("initial_value")


def _check_number(element: JSON, text: str) -> None:
    """What Slack's client checks before it lets a number input be submitted."""
    decimal = bool(element.get("is_decimal_allowed"))
    if not (_DECIMAL if decimal else _INTEGER).fullmatch(text):
        raise ValueError(f"{text!r} is not {'a number' if decimal else 'a whole number'}")
    number = float(text)
    if "min_value" in element and number < float(element["min_value"]):
        raise ValueError(f"{text} is below the minimum {element['min_value']}")
    if "max_value" in element and number > float(element["max_value"]):
        raise ValueError(f"{text} is above the maximum {element['max_value']}")


def _option(element: JSON, raw: Any) -> JSON | None:
    """The option object chosen: looked up by value among the element's own options, or, for an external
    select, the option object the bot served (checked by slack_sdk's model, like every option it answers)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict) and "external" in str(element.get("type")):
        checked_options({"options": [raw]})
        return copy.deepcopy(raw)
    value = raw.get("value") if isinstance(raw, dict) else raw
    own = [*element.get("options", []), *(o for g in element.get("option_groups", []) for o in g.get("options", []))]
    for option in [*own, element.get("initial_option") or {}, *element.get("initial_options", [])]:
        if option.get("value") == value:
            found: JSON = copy.deepcopy(option)
            return found
    raise ValueError(f"{element.get('action_id')} offers no option {value!r}")
