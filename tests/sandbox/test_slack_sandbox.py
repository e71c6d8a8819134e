"""The Slack sandbox, reached the way the bot reaches Slack: slack_sdk's WebClient and Bolt over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.sandbox.server import ServerThread
from bot.sandbox.slack import (
    BOT_USER_ID,
    DEFAULT_BOT_TOKEN,
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TEAM_ID,
    SlackRequester,
    SlackSandbox,
)

CARD = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Order 1001*"}},
    {
        "type": "actions",
        "block_id": "order_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "order_ack",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": "1001:key",
                "style": "primary",
            }
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "ack_ref_modal",
    "private_metadata": "1001:key",
    "title": {"type": "plain_text", "text": "Acknowledge"},
    "submit": {"type": "plain_text", "text": "Acknowledge"},
    "blocks": [
        {
            "type": "input",
            "block_id": "ack_ref_block",
            "label": {"type": "plain_text", "text": "Reference"},
            "element": {"type": "plain_text_input", "action_id": "ack_ref_input"},
        }
    ],
}


class FakeClock:
    """Time that moves only when told, for trigger and response-URL expiry."""

    def __init__(self) -> None:
        self.now = 1_712_345_678.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SlackSandbox]:
    sandbox = SlackSandbox(clock=clock)
    server = sandbox.serve()
    yield sandbox
    server.stop()


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=DEFAULT_BOT_TOKEN, timeout=5)


class Receiver:
    """A bolt-free stand-in for the bot: verifies the signature with slack_sdk and keeps what it received."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(DEFAULT_SIGNING_SECRET)
        self.received: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        self.received.append((body, headers))
        ok = self.verifier.is_valid_request(body, headers)
        start_response("200 OK" if ok else "401 Unauthorized", [("Content-Type", "text/plain")])
        return [b""]

    def last_form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.received[-1][0].decode()).items()}

    def last_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.last_form()["payload"])
        return payload


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def requester(sandbox: SlackSandbox, receiver: Receiver) -> Iterator[SlackRequester]:
    with ServerThread(receiver) as server:  # type: ignore[arg-type]
        slack = SlackRequester(sandbox, f"{server.url}/slack/events")
        yield slack
        slack.close()


def test_auth_test_answers_what_bolt_needs(client: WebClient) -> None:
    answer = client.auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (BOT_USER_ID, "B0BOT", DEFAULT_TEAM_ID)


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
def test_bad_or_missing_token_is_refused(sandbox: SlackSandbox, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=sandbox.api_url, token=token).chat_postMessage(channel="C0ORDERS", text="hi")
    assert raised.value.response["error"] == error
    assert sandbox.messages("C0ORDERS") == []


def test_token_never_recorded(sandbox: SlackSandbox, client: WebClient) -> None:
    client.chat_postMessage(channel="C0ORDERS", text="hi")
    httpx.post(f"{sandbox.api_url}auth.test", data={"token": DEFAULT_BOT_TOKEN})
    assert DEFAULT_BOT_TOKEN not in json.dumps(sandbox.calls())
    assert [c["method"] for c in sandbox.calls()] == ["chat.postMessage", "auth.test"]


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.teleport")
    assert raised.value.response["error"] == "unknown_method"


def test_post_message_keeps_history_and_threads(sandbox: SlackSandbox, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0ORDERS", text="Order 1001", blocks=CARD)
    reply = client.chat_postMessage(channel="C0ORDERS", text="acknowledged", thread_ts=first["ts"])
    second = client.chat_postMessage(channel="#orders", text="Order 1002")
    assert float(first["ts"]) < float(reply["ts"]) < float(second["ts"])
    assert first["message"]["blocks"] == CARD
    history = sandbox.messages("C0ORDERS")
    assert [m["text"] for m in history] == ["Order 1001", "Order 1002"]
    assert history[0]["reply_count"] == 1
    assert [m["text"] for m in sandbox.messages("C0ORDERS", thread_ts=first["ts"])] == ["Order 1001", "acknowledged"]
    replies = client.conversations_replies(channel="C0ORDERS", ts=first["ts"])
    assert [m["ts"] for m in replies["messages"]] == [first["ts"], reply["ts"]]


def test_blocks_as_json_string_in_a_form_body(sandbox: SlackSandbox) -> None:
    httpx.post(
        f"{sandbox.api_url}chat.postMessage",
        data={"token": DEFAULT_BOT_TOKEN, "channel": "C0ORDERS", "text": "t", "blocks": json.dumps(CARD)},
    )
    assert sandbox.messages("C0ORDERS")[0]["blocks"] == CARD


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0RANDOM", "text": "x"}, "not_in_channel"),
        ({"channel": "C0ORDERS"}, "no_text"),
        ({"channel": "C0ORDERS", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C0ORDERS", "blocks": [{"type": "section"}]}, "invalid_blocks"),
        ({"channel": "C0ORDERS", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C0ORDERS", "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
    ],
)
def test_post_message_errors(sandbox: SlackSandbox, client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessage", json=kwargs)  # chat_postMessage would warn about the missing text
    assert raised.value.response["error"] == error
    assert sandbox.calls("chat.postMessage")[-1]["error"] == error


def test_update_changes_history_and_keeps_edits(sandbox: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0ORDERS", text="Order 1001", blocks=CARD)
    updated = client.chat_update(channel="C0ORDERS", ts=posted["ts"], text="Acknowledged by alice")
    assert updated["ts"] == posted["ts"]
    message = sandbox.message("C0ORDERS", posted["ts"])
    assert message["text"] == "Acknowledged by alice"
    assert message["blocks"] == CARD  # Slack keeps blocks that chat.update does not replace
    assert message["edited"]["user"] == BOT_USER_ID
    assert [e["text"] for e in sandbox.edits("C0ORDERS", posted["ts"])] == ["Order 1001"]
    client.chat_update(channel="C0ORDERS", ts=posted["ts"], text="cleared", blocks=[])
    assert sandbox.message("C0ORDERS", posted["ts"])["blocks"] == []


def test_update_refuses_missing_and_human_messages(sandbox: SlackSandbox, client: WebClient) -> None:
    human = sandbox.post_as_user("C0ORDERS", "my order is 1001", "U0AGENT2")
    for ts, error in [("1.000001", "message_not_found"), (human["ts"], "cant_update_message")]:
        with pytest.raises(SlackApiError) as raised:
            client.chat_update(channel="C0ORDERS", ts=ts, text="x")
        assert raised.value.response["error"] == error


def test_delete_and_permalink(sandbox: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0ORDERS", text="Order 1001")
    link = client.chat_getPermalink(channel="C0ORDERS", message_ts=posted["ts"])["permalink"]
    assert link.endswith(f"/archives/C0ORDERS/p{posted['ts'].replace('.', '')}")
    client.chat_delete(channel="C0ORDERS", ts=posted["ts"])
    assert sandbox.messages("C0ORDERS") == []
    with pytest.raises(SlackApiError):
        client.chat_getPermalink(channel="C0ORDERS", message_ts=posted["ts"])


def test_history_metadata_only_when_asked(client: WebClient) -> None:
    metadata = {"event_type": "orderdesk_order_card", "event_payload": {"order_id": "1001"}}
    client.chat_postMessage(channel="C0ORDERS", text="Order 1001", metadata=metadata)
    plain = client.conversations_history(channel="C0ORDERS")["messages"][0]
    full = client.conversations_history(channel="C0ORDERS", include_all_metadata=True)["messages"][0]
    assert "metadata" not in plain
    assert full["metadata"] == metadata


def test_history_pages_newest_first_within_window(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C0ORDERS", text=str(i))["ts"] for i in range(7)]
    seen, cursor = [], None
    while True:
        page = client.conversations_history(channel="C0ORDERS", limit=3, cursor=cursor, oldest=stamps[1])
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == stamps[:1:-1]  # newest first, `oldest` exclusive


def test_post_ephemeral_is_recorded_apart_from_history(sandbox: SlackSandbox, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C0ORDERS", user="U0AGENT2", text="only for bob", blocks=CARD)
    (shown,) = sandbox.ephemerals(user="U0AGENT2")
    assert shown["message_ts"] == answer["message_ts"]
    assert (shown["text"], shown["blocks"], shown["channel"], shown["source"]) == (
        "only for bob",
        CARD,
        "C0ORDERS",
        "chat.postEphemeral",
    )
    assert sandbox.messages("C0ORDERS") == []
    assert sandbox.ephemerals(user="U0AGENT1") == []


def test_directory_methods(client: WebClient) -> None:
    assert client.users_info(user="U0FOREIGN")["user"]["team_id"] == "T0OTHER"
    assert client.conversations_info(channel="C0ORDERS")["channel"]["is_member"] is True
    assert client.conversations_info(channel="C0RANDOM")["channel"]["is_member"] is False
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0AGENT1"]
    for call, error in [
        (lambda: client.users_info(user="U0NOBODY"), "user_not_found"),
        (lambda: client.conversations_info(channel="C0NOPE"), "channel_not_found"),
        (lambda: client.usergroups_users_list(usergroup="S0NOPE"), "no_such_subteam"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == error


def test_429_with_retry_after_is_waited_out_by_slack_sdk(sandbox: SlackSandbox) -> None:
    sandbox.fail_next("chat.postMessage", 2, retry_after=0)
    client = WebClient(
        base_url=sandbox.api_url,
        token=DEFAULT_BOT_TOKEN,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    client.chat_postMessage(channel="C0ORDERS", text="Order 1001")
    assert [c["status"] for c in sandbox.calls("chat.postMessage")] == [429, 429, 200]
    assert len(sandbox.messages("C0ORDERS")) == 1


def test_fail_next_sends_retry_after_and_has_no_effect(sandbox: SlackSandbox) -> None:
    sandbox.fail_next("chat.postMessage", retry_after=7)
    answer = httpx.post(f"{sandbox.api_url}chat.postMessage", data={"token": DEFAULT_BOT_TOKEN, "text": "x"})
    assert (answer.status_code, answer.headers["Retry-After"], answer.json()["error"]) == (429, "7", "ratelimited")
    sandbox.fail_next("chat.update", status=500, error="internal_error")
    with pytest.raises(SlackApiError):
        WebClient(base_url=sandbox.api_url, token=DEFAULT_BOT_TOKEN).chat_update(channel="C0ORDERS", ts="1.0", text="x")
    assert sandbox.calls("chat.update")[-1]["status"] == 500
    assert sandbox.messages("C0ORDERS") == []


def test_response_url_ephemeral_by_default(sandbox: SlackSandbox) -> None:
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    WebhookClient(url).send(text="usage: /order <id>")
    (shown,) = sandbox.ephemerals(user="U0AGENT1", channel="C0ORDERS")
    assert (shown["text"], shown["source"], shown["response_url"]) == ("usage: /order <id>", "response_url", url)
    assert sandbox.responses(url)[0]["text"] == "usage: /order <id>"
    WebhookClient(url).send(text="replaced", replace_original=True)
    assert [e["text"] for e in sandbox.ephemerals(user="U0AGENT1")] == ["replaced"]


def test_response_url_replaces_and_deletes_a_channel_message(sandbox: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0ORDERS", text="Order 1001", blocks=CARD)
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1", message_ts=posted["ts"])
    WebhookClient(url).send(text="Acknowledged", blocks=CARD[:1], replace_original=True)
    message = sandbox.message("C0ORDERS", posted["ts"])
    assert (message["text"], message["blocks"]) == ("Acknowledged", CARD[:1])
    WebhookClient(url).send(text="", delete_original=True)
    assert sandbox.messages("C0ORDERS") == []


def test_response_url_in_channel_posts_to_history(sandbox: SlackSandbox) -> None:
    url = sandbox.new_response_url(channel="C0SUPPORT", user="U0AGENT1")
    WebhookClient(url).send(text="Order 1001 shared", response_type="in_channel")
    assert [m["text"] for m in sandbox.messages("C0SUPPORT")] == ["Order 1001 shared"]
    assert sandbox.ephemerals() == []


def test_response_url_allows_five_posts_and_records_the_refusal(sandbox: SlackSandbox) -> None:
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    statuses = [WebhookClient(url).send(text=str(i)).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert len(sandbox.responses(url)) == 6
    assert sandbox.calls("response_url")[-1]["error"] == "used_url"


def test_wait_responses_returns_once_enough_posts_arrived_and_none_on_timeout(sandbox: SlackSandbox) -> None:
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    other = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    assert sandbox.wait_responses(url, 1, timeout=0.05) is None
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(sandbox.wait_responses, url, 2, 10.0)
        WebhookClient(other).send(text="elsewhere")  # a post to another URL does not end the wait
        WebhookClient(url).send(text="first")
        assert not waiting.done()
        WebhookClient(url).send(text="second")
        answers = waiting.result(timeout=10)
    assert [a["text"] for a in answers or []] == ["first", "second"]


def test_views_open_needs_a_fresh_issued_trigger(sandbox: SlackSandbox, client: WebClient, clock: FakeClock) -> None:
    fresh = sandbox.new_trigger_id(user="U0AGENT1")
    view = client.views_open(trigger_id=fresh, view=MODAL)["view"]
    assert (view["callback_id"], view["private_metadata"]) == ("ack_ref_modal", "1001:key")
    assert sandbox.view(view["id"])["user"] == "U0AGENT1"
    stale = sandbox.new_trigger_id()
    clock.now += 3.5
    for trigger_id, error in [
        (stale, "expired_trigger_id"),
        ("123.456.nope", "invalid_trigger_id"),
        (fresh, "invalid_trigger_id"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            client.views_open(trigger_id=trigger_id, view=MODAL)
        assert raised.value.response["error"] == error


def test_views_update_push_publish(sandbox: SlackSandbox, client: WebClient) -> None:
    opened = client.views_open(trigger_id=sandbox.new_trigger_id(user="U0AGENT1"), view=MODAL)["view"]
    title = {"type": "plain_text", "text": "Done"}
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL | {"title": title})["view"]
    assert sandbox.view(opened["id"])["title"] == title
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert raised.value.response["error"] == "hash_conflict"
    pushed = client.views_push(trigger_id=sandbox.new_trigger_id(user="U0AGENT1"), view=MODAL)["view"]
    assert (pushed["previous_view_id"], pushed["root_view_id"]) == (updated["id"], opened["id"])
    home = {"type": "home", "blocks": CARD[:1]}
    published = client.views_publish(user_id="U0AGENT2", view=home)["view"]
    assert sandbox.view(published["id"])["blocks"] == CARD[:1]


def test_slash_command_is_a_signed_form(sandbox: SlackSandbox, requester: SlackRequester, receiver: Receiver) -> None:
    sent = requester.slash_command("help", user="U0AGENT2")
    assert sent.response.status_code == 200
    form = receiver.last_form()
    assert form["command"] == "/order"
    assert (form["text"], form["user_id"], form["user_name"], form["channel_name"]) == (
        "help",
        "U0AGENT2",
        "bob",
        "orders",
    )
    assert form["response_url"] == sent.response_url
    assert form["trigger_id"] == sent.trigger_id
    assert sent.response_url is not None
    assert sent.response_url.startswith(sandbox.url)


def test_signatures_checked_by_slack_sdk(requester: SlackRequester) -> None:
    body = b"command=%2Forder&text=help"
    now = int(time.time())
    assert requester.send_raw(body, requester.sign(body)).status_code == 200
    assert requester.send_raw(body, requester.sign(body, timestamp=now - 250)).status_code == 200
    assert requester.send_raw(body + b"x", requester.sign(body)).status_code == 401
    assert requester.send_raw(body, requester.sign(body, timestamp=now - 400)).status_code == 401
    assert requester.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401


def test_block_action_on_a_channel_message(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    posted = client.chat_postMessage(channel="C0ORDERS", text="Order 1001", blocks=CARD)
    sent = requester.block_action("order_ack", "1001:key", message_ts=posted["ts"], user="U0FOREIGN")
    payload = receiver.last_payload()
    assert payload == sent.payload
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0ORDERS",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == CARD
    assert payload["user"]["team_id"] == "T0OTHER"
    assert payload["team"]["id"] == DEFAULT_TEAM_ID
    (action,) = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["style"]) == (
        "order_ack",
        "order_actions",
        "1001:key",
        "primary",
    )
    WebhookClient(payload["response_url"]).send(text="done", replace_original=True)
    assert sandbox.message("C0ORDERS", posted["ts"])["text"] == "done"


def test_block_action_on_an_ephemeral_message(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    client.chat_postEphemeral(channel="C0ORDERS", user="U0AGENT1", text="card", blocks=CARD)
    sent = requester.block_action("order_ack", "1001:key")
    payload = receiver.last_payload()
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload
    assert sent.response_url is not None
    WebhookClient(sent.response_url).send(text="acknowledged", replace_original=True)
    assert [e["text"] for e in sandbox.ephemerals(user="U0AGENT1")] == ["acknowledged"]


def test_message_shortcut_and_view_submission(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    quoted = sandbox.post_as_user("C0ORDERS", "where is order 1001?", "U0AGENT2")
    sent = requester.message_shortcut(quoted)
    payload = receiver.last_payload()
    assert (payload["type"], payload["callback_id"], payload["message"]["text"]) == (
        "message_action",
        "lookup_order",
        "where is order 1001?",
    )
    assert sent.trigger_id is not None
    view = client.views_open(trigger_id=sent.trigger_id, view=MODAL)["view"]
    values = {"ack_ref_block": {"ack_ref_input": {"type": "plain_text_input", "value": "SHOP-1"}}}
    requester.view_submission(view, values)
    submitted = receiver.last_payload()
    assert submitted["type"] == "view_submission"
    assert submitted["view"]["id"] == view["id"]
    assert submitted["view"]["private_metadata"] == "1001:key"
    assert submitted["view"]["state"]["values"] == values


def test_event_is_signed_json_with_retry_headers(requester: SlackRequester, receiver: Receiver) -> None:
    event = {
        "type": "app_mention",
        "user": "U0AGENT1",
        "text": "<@U0BOT> 1001",
        "channel": "C0ORDERS",
        "ts": "1.000100",
    }
    first = requester.event(event)
    retry = requester.event(event, retry_num=1, retry_reason="http_timeout")
    body, headers = receiver.received[-1]
    assert json.loads(body)["event"] == event
    assert headers["x-slack-retry-num"] == "1"
    assert headers["x-slack-retry-reason"] == "http_timeout"
    assert first.payload["event_id"] == retry.payload["event_id"]
    assert retry.response.status_code == 200


@pytest.fixture
def bolt_url(sandbox: SlackSandbox) -> Iterator[str]:
    app = App(
        client=WebClient(base_url=sandbox.api_url, token=DEFAULT_BOT_TOKEN),
        signing_secret=DEFAULT_SIGNING_SECRET,
    )

    @app.command("/order")
    def order(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        ack()
        respond(f"usage for {command['user_name']}")

    @app.shortcut("lookup_order")
    def lookup(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("ack_ref_modal")
    def submit(ack: Any, view: dict[str, Any]) -> None:
        if view["state"]["values"]["ack_ref_block"]["ack_ref_input"]["value"]:
            ack()
        else:
            ack(response_action="errors", errors={"ack_ref_block": "Type a reference"})

    @app.action("order_ack")
    def acknowledge(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        respond(text=f"acknowledged by {body['user']['username']}", replace_original=True)

    with ServerThread(SlackRequestHandler(app)) as server:  # type: ignore[arg-type]
        yield f"{server.url}/slack/events"


def test_bolt_app_answers_a_signed_slash_command(sandbox: SlackSandbox, bolt_url: str) -> None:
    with SlackRequester(sandbox, bolt_url) as slack:
        sent = slack.slash_command("help")
        bad = slack.send_raw(b"text=help", {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"})
    assert sent.response.status_code == 200
    assert bad.status_code == 401
    assert sent.response_url is not None
    shown = sandbox.wait_for(lambda: sandbox.ephemerals(user="U0AGENT1"))
    assert shown[0]["text"] == "usage for alice"
    assert sandbox.calls("auth.test")  # Bolt checked its token against the sandbox


def test_bolt_app_updates_the_clicked_message(sandbox: SlackSandbox, client: WebClient, bolt_url: str) -> None:
    posted = client.chat_postMessage(channel="C0ORDERS", text="Order 1001", blocks=CARD)
    with SlackRequester(sandbox, bolt_url) as slack:
        assert slack.block_action("order_ack", "1001:key", message_ts=posted["ts"]).response.status_code == 200
    sandbox.wait_for(lambda: sandbox.message("C0ORDERS", posted["ts"])["text"] == "acknowledged by alice")


def test_bolt_modal_opened_from_a_shortcut_shows_errors_then_closes(sandbox: SlackSandbox, bolt_url: str) -> None:
    quoted = sandbox.post_as_user("C0ORDERS", "order 1001?", "U0AGENT2")
    with SlackRequester(sandbox, bolt_url) as slack:
        slack.message_shortcut(quoted)
        (view,) = sandbox.wait_for(lambda: sandbox.views(user="U0AGENT1"))
        empty = {"ack_ref_block": {"ack_ref_input": {"type": "plain_text_input", "value": None}}}
        refused = slack.view_submission(view, empty)
        assert refused.response.json()["response_action"] == "errors"
        assert sandbox.view(view["id"])["errors"] == {"ack_ref_block": "Type a reference"}
        assert sandbox.view(view["id"])["open"] is True
        filled = {"ack_ref_block": {"ack_ref_input": {"type": "plain_text_input", "value": "SHOP-1"}}}
        slack.view_submission(view, filled)
    assert sandbox.view(view["id"])["open"] is False
    assert "errors" not in sandbox.view(view["id"])


def test_submission_ack_update_push_and_clear(sandbox: SlackSandbox, client: WebClient) -> None:
    first = client.views_open(trigger_id=sandbox.new_trigger_id(user="U0AGENT1"), view=MODAL)["view"]
    assert not {"user", "open", "errors"} & first.keys()  # the sandbox's bookkeeping stays out of API answers
    sandbox.submission_acked(first["id"], {"response_action": "push", "view": MODAL | {"callback_id": "second"}})
    second = sandbox.views(user="U0AGENT1")[-1]
    assert (second["callback_id"], second["previous_view_id"]) == ("second", first["id"])
    sandbox.submission_acked(second["id"], {"response_action": "update", "view": MODAL | {"callback_id": "third"}})
    assert sandbox.view(second["id"])["callback_id"] == "third"
    sandbox.submission_acked(second["id"], {"response_action": "clear"})
    assert [v["open"] for v in sandbox.views()] == [False, False]


def test_mounted_app_shares_the_port(sandbox: SlackSandbox) -> None:
    def console(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<h1>console</h1>"]

    sandbox.mount("/console", console)
    assert httpx.get(f"{sandbox.url}/console/").text == "<h1>console</h1>"
    assert httpx.post(f"{sandbox.api_url}auth.test").json()["error"] == "not_authed"
    assert httpx.get(f"{sandbox.url}/elsewhere").status_code == 404


def test_in_process_through_an_httpx_transport() -> None:
    sandbox = SlackSandbox()
    with httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://slack") as http:
        answer = http.post("/api/chat.postMessage", json={"channel": "C0ORDERS", "text": "hi"},
                           headers={"Authorization": f"Bearer {DEFAULT_BOT_TOKEN}"})  # fmt: skip
    assert answer.json()["ok"] is True
    assert [m["text"] for m in sandbox.messages("C0ORDERS")] == ["hi"]
    with pytest.raises(RuntimeError, match="serve"):
        sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")


def test_response_url_faults_and_unknown_urls(sandbox: SlackSandbox) -> None:
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    sandbox.fail_next("response_url", status=500, error="internal_error")
    assert WebhookClient(url).send(text="first").status_code == 500
    assert WebhookClient(url).send(text="second").status_code == 200
    assert [e["text"] for e in sandbox.ephemerals()] == ["second"]
    assert WebhookClient(f"{sandbox.url}/hooks/T0SANDBOX/9/forged").send(text="x").status_code == 404


def test_response_url_expires_after_30_minutes(sandbox: SlackSandbox, clock: FakeClock) -> None:
    url = sandbox.new_response_url(channel="C0ORDERS", user="U0AGENT1")
    clock.now += 30 * 60 + 1
    assert WebhookClient(url).send(text="late").status_code == 404
    assert sandbox.calls("response_url")[-1]["error"] == "expired_url"


def test_concurrent_posts_get_unique_increasing_ts(sandbox: SlackSandbox, client: WebClient) -> None:
    def post(i: int) -> str:
        ts: str = client.chat_postMessage(channel="C0ORDERS", text=str(i))["ts"]
        return ts

    with ThreadPoolExecutor(8) as pool:
        stamps = list(pool.map(post, range(80)))
    history = [m["ts"] for m in sandbox.messages("C0ORDERS")]
    assert sorted(stamps) == history
    assert len(set(history)) == 80


def test_reset_forgets_everything_but_the_directory(sandbox: SlackSandbox, client: WebClient) -> None:
    client.chat_postMessage(channel="C0ORDERS", text="x")
    sandbox.fail_next("auth.test")
    sandbox.reset()
    assert (sandbox.messages("C0ORDERS"), sandbox.calls()) == ([], [])
    assert client.auth_test()["ok"] is True
    assert sandbox.user("U0AGENT1")["name"] == "alice"


def test_wait_for_times_out_with_a_clear_message(sandbox: SlackSandbox) -> None:
    def nothing_posted() -> list[dict[str, Any]]:
        return sandbox.messages("C0ORDERS")

    with pytest.raises(AssertionError, match="nothing_posted"):
        sandbox.wait_for(nothing_posted, timeout=0.1)


def test_orderdesk_slack_sandbox_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "slack-sandbox", "--port", "0", "--token", "xoxb-cli"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        api_url = next(line.split("=", 1)[1].strip() for line in lines if "SLACK_API_URL=" in line)
        assert WebClient(base_url=api_url, token="xoxb-cli").auth_test()["bot_id"] == "B0BOT"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
