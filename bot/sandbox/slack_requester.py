"""Slack's side of the conversation: Slack-shaped, signed requests POSTed to the bot's ``/slack/events``.

Payload shapes follow Slack's documented examples and what slack_bolt reads from them (``slack_bolt/request/
internals.py``): ``user.team_id`` for the actor's workspace, ``container`` and ``message`` for block actions,
``view.state.values`` for submissions. Response URLs and trigger ids are minted by the :class:`SlackSandbox`, so
whatever the bot does with them (``respond()``, ``views.open``) lands back in the sandbox's record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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
    SlackSandbox,
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
    ) -> Sent:
        """A button click. With ``message_ts`` of a channel message, the payload carries that message from the
        sandbox's history; otherwise the click is on an ephemeral message (the one with ``message_ts``, or the
        user's latest in the channel) and carries no message, as Slack does.

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
        action = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id or found_block or "actions",
            "text": element.get("text", {"type": "plain_text", "text": action_id, "emoji": True}),
            "value": value,
            "action_ts": self._action_ts(),
        }
        if "style" in element:
            action["style"] = element["style"]
        payload = {
            "type": "block_actions",
            **self._actor(user, team_id),
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": message is None,
            },
            "trigger_id": trigger_id,
            "channel": {"id": channel, "name": self.sandbox.channel(channel)["name"]},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if message is not None:
            payload["message"] = message
        return self._deliver_payload(payload)

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
            "view": {k: v for k, v in current.items() if k not in SANDBOX_VIEW_FIELDS} | {"state": {"values": values}},
            "response_urls": [],
        }
        sent = self._deliver_payload(payload)
        if known and sent.response.status_code == 200:
            self.sandbox.submission_acked(current["id"], _ack_body(sent.response))
        return sent

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
    """The interactive element with ``action_id`` and its block's id, searched through actions/section blocks."""
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, block.get("block_id")
    return {}, None
