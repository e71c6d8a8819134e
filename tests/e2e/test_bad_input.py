"""Bad input, signed and over real HTTP: odd ``/order`` texts and malformed or tampered Slack payloads.

Whatever arrives, the bot answers the user in words (an ephemeral message) or refuses the request with a 4xx;
it never answers 5xx, never shows a traceback, and never lets data it did not render itself drive a Graph call.
The corpus tests share one stack per module (they do not change its state); tests that click on cards get their
own. The property tests go through the same HTTP path with a bot that finishes each listener before answering
(an inline work executor), so every answer is in the Slack sandbox by the time the request returns.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from e2e_stack import Stack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.lookup.query import MAX_QUERIES, QueryError, find_in_message, parse_order_id, parse_query
from bot.runtime.app import create_app
from bot.runtime.later import InlineExecutor
from bot.runtime.serve import EVENTS_PATH, HttpServer, build_server
from bot.sandbox.slack import SlackRequester
from bot.slack import ids
from bot.slack.views.blocks import MERCHANT_REF_PATTERN, ack_value, notification_card, notification_text
from handlers.commands import SUBCOMMANDS, parse

pytestmark = pytest.mark.e2e

CHANNEL = "C0ORDERS"
USER = "U0AGENT1"
JSON = dict[str, Any]
ORDER_ID = re.compile(r"[0-9]{10,20}")  # what Meta's order ids look like, as the lookup accepts them

# What a user must never see: Python's words for a failure.
TRACEBACK_MARKS = ("Traceback", 'File "/', "Error:", "Exception", "site-packages")
# Mention syntax that would ping people if the bot echoed it unescaped.
BROADCASTS = ("<!channel>", "<!here>", "<!everyone>", "<@U0AGENT2>", "<!subteam^S0ONCALL>")

ORDER_TEXTS = {
    "empty": "",
    "whitespace": " \t \n ",
    "10k characters": "7" * 10_000,
    "10k words": "order " * 1_700,
    "unicode": "Bestellung Nr. 12345 für Zoë – Ünïcödé ✓",
    "right-to-left": "\u202eطلب رقم ١٢٣٤٥ \u05d4\u05d6\u05de\u05e0\u05d4",
    "emoji": "📦🛒 :package: 🇫🇷👩‍👩‍👧",
    "mrkdwn": "*bold* _it_ ~strike~ `code` ```block``` > quote <http://evil.example|click>",
    "mentions": " ".join(BROADCASTS),
    "html entities": "&lt;script&gt; <script>alert(1)</script> &amp;",
    "sql": "1' OR '1'='1'; DROP TABLE ledger; --",
    "sql union": "x UNION SELECT * FROM audit",
    "many ids": " ".join(str(10**14 + n) for n in range(500)),
    "ids and commas": ",".join(str(10**14 + n) for n in range(50)),
    "huge number": "9" * 400,
    "negative and float": "-5 3.14 1e99 0x1F",
    "control characters": "\x00\x01\x07\x1b[31mred\x1b[0m",
    "keyword only": "history",
    "keyword then junk": "history '; DROP TABLE orders; --",
    "help in caps": "HELP",
    "zero-width": "\u200b\u200c\u200d\ufeff",
    "lone surrogate escape": "\\ud800",
    "format string": "{order_id} %s %(x)s {0!r}",
}


@pytest.fixture(scope="module", name="stack")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack.start(tmp_path_factory.mktemp("bad_input")) as started:
        yield started


@pytest.fixture(name="own_stack")
def own_stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    with Stack.start(tmp_path) as started:
        yield started


def graph_posts(stack: Stack, since: int = 0) -> list[JSON]:
    return [c for c in stack.graph_sandbox.calls(since) if c["method"] == "POST"]


def last_seq(stack: Stack) -> int:
    calls = stack.graph_sandbox.calls()
    return calls[-1]["seq"] if calls else 0


def assert_fit_for_a_user(answer: JSON) -> None:
    """An answer a person may read: ephemeral, in words, no traceback, no broadcast ping smuggled through."""
    assert answer.get("response_type", "ephemeral") == "ephemeral", answer
    assert answer.get("text") or answer.get("blocks"), answer
    shown = json.dumps(answer, ensure_ascii=False)
    for mark in TRACEBACK_MARKS:
        assert mark not in shown, f"{mark!r} shown to a user: {shown[:500]}"
    for mention in BROADCASTS:
        assert mention not in shown, f"{mention!r} echoed unescaped: {shown[:500]}"


def answers(stack: Stack, response_url: str | None) -> list[JSON]:
    assert response_url is not None
    return stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(response_url))


@pytest.mark.parametrize("text", ORDER_TEXTS.values(), ids=ORDER_TEXTS.keys())
def test_any_order_text_gets_an_ephemeral_answer_in_words(stack: Stack, text: str) -> None:
    since = last_seq(stack)
    sent = stack.slack.slash_command(text)
    assert sent.response.status_code == 200
    for answer in answers(stack, sent.response_url):
        assert_fit_for_a_user(answer)
    calls = stack.graph_sandbox.calls(since)
    assert not [c for c in calls if c["method"] == "POST"]
    assert len(calls) <= 25, f"one command fanned out into {len(calls)} Graph calls"


def test_a_form_body_with_odd_fields_is_refused_or_answered_never_a_500(stack: Stack) -> None:
    """The slash command form with its fields missing, duplicated or of the wrong encoding."""
    bodies = [
        b"command=%2Forder",  # no text, no user, no response_url
        b"command=%2Forder&text=1&text=2&user_id=U0AGENT1",
        b"command=%2Forder&text=%FF%FE&user_id=U0AGENT1",
        b"command=%2Fnot-ours&text=1",
        b"\xff\xfe\x00",
        b"a" * 100_000,
    ]
    for body in bodies:
        response = send_signed(stack.slack, body)
        assert response.status_code < 500, (body[:60], response.status_code, response.text)
        assert "Traceback" not in response.text


def send_signed(requester: SlackRequester, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **requester.sign(body)}
    return requester.send_raw(body, headers)


def payload_body(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def click_payload(stack: Stack, value: object, *, action_id: str = ids.ACK) -> JSON:
    """A well-formed ``block_actions`` payload for a click on an ephemeral card, with ``value`` as given."""
    return {
        "type": "block_actions",
        "token": "sandbox-verification-token",
        "api_app_id": "A0ORDERDESK",
        "user": {"id": USER, "username": "agent1", "name": "agent1", "team_id": stack.slack_sandbox.team_id},
        "team": {"id": stack.slack_sandbox.team_id, "domain": "sandbox"},
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": CHANNEL,
            "is_ephemeral": True,
        },
        "channel": {"id": CHANNEL, "name": "orders"},
        "trigger_id": stack.slack_sandbox.new_trigger_id(user=USER),
        "response_url": stack.slack_sandbox.new_response_url(channel=CHANNEL, user=USER),
        "state": {"values": {}},
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "actions", "value": value, "action_ts": "1.0"}
        ],
    }


def created_order(stack: Stack) -> str:
    return str(stack.graph_sandbox.add_order()["id"])


def without(payload: JSON, *path: str | int) -> JSON:
    """``payload`` with the entry at ``path`` removed (a missing field)."""
    target: Any = payload
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return payload


def replaced(payload: JSON, value: object, *path: str | int) -> JSON:
    """``payload`` with the entry at ``path`` set to ``value`` (a wrong type)."""
    target: Any = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return payload


def valid_value(stack: Stack) -> str:
    return ack_value(created_order(stack), new_key())


@dataclass(frozen=True)
class Case:
    build: Callable[[Stack], JSON | bytes]
    answered: bool = False  # the listener runs: an ephemeral answer must arrive on the payload's response URL
    bug: str | None = None  # a known bug in a feature file: the case is a strict xfail until it is fixed


PAYLOADS: dict[str, Case] = {
    "payload not JSON": Case(lambda s: b"payload=%7Bnot+json"),
    "payload a JSON list": Case(lambda s: payload_body([1, 2])),
    "payload a JSON string": Case(lambda s: payload_body("block_actions")),
    "no payload field": Case(lambda s: b"foo=bar"),
    "invalid UTF-8": Case(lambda s: b"payload=\xff\xfe"),
    "unknown payload type": Case(lambda s: replaced(click_payload(s, "x"), "no_such_type", "type")),
    "type a number": Case(lambda s: replaced(click_payload(s, "x"), 5, "type")),
    "actions missing": Case(lambda s: without(click_payload(s, "x"), "actions")),
    "actions empty": Case(lambda s: replaced(click_payload(s, "x"), [], "actions")),
    "actions a string": Case(lambda s: replaced(click_payload(s, "x"), "order_ack", "actions")),
    "action a string": Case(lambda s: replaced(click_payload(s, "x"), ["order_ack"], "actions")),
    "action id missing": Case(lambda s: without(click_payload(s, valid_value(s)), "actions", 0, "action_id")),
    "unknown action id": Case(lambda s: click_payload(s, valid_value(s), action_id="order_delete_everything")),
    "action id a list": Case(lambda s: replaced(click_payload(s, "x"), [ids.ACK], "actions", 0, "action_id")),
    "user missing": Case(lambda s: without(click_payload(s, valid_value(s)), "user")),
    "user a string": Case(lambda s: replaced(click_payload(s, valid_value(s)), USER, "user")),
    "user id a number": Case(lambda s: replaced(click_payload(s, valid_value(s)), 42, "user", "id")),
    "container a string": Case(lambda s: replaced(click_payload(s, valid_value(s)), "message", "container")),
    "value missing": Case(lambda s: without(click_payload(s, "x"), "actions", 0, "value"), answered=True),
    "value a number": Case(lambda s: click_payload(s, 368508827392800), answered=True),
    "value an object": Case(lambda s: click_payload(s, {"o": "1", "k": "a"}), answered=True),
    "value null": Case(lambda s: click_payload(s, None), answered=True),
    "value not JSON": Case(lambda s: click_payload(s, "acknowledge please"), answered=True),
    "value with spaces": Case(lambda s: click_payload(s, '{"o": "123", "k": "abc"}'), answered=True),
    "value with an extra field": Case(
        lambda s: click_payload(s, '{"o":"123","k":"abc","user":"U0BOSS"}'), answered=True
    ),
    "value order id not digits": Case(lambda s: click_payload(s, '{"o":"123 OR 1=1","k":"abc"}'), answered=True),
    "value order id a path": Case(lambda s: click_payload(s, '{"o":"../me/accounts","k":"abc"}'), answered=True),
    "value key with odd characters": Case(lambda s: click_payload(s, '{"o":"123","k":"a b&c=d"}'), answered=True),
    "value key too long": Case(lambda s: click_payload(s, json.dumps({"o": "123", "k": "k" * 101})), answered=True),
    "value 100k characters": Case(lambda s: click_payload(s, "{" * 100_000), answered=True),
    "retry with a made-up key": Case(
        lambda s: click_payload(s, ack_value(created_order(s), new_key()), action_id=ids.ACK_RETRY), answered=True
    ),
    "submission without view": Case(
        lambda s: {"type": "view_submission", "user": {"id": USER, "team_id": s.slack_sandbox.team_id}}
    ),
    "submission view a string": Case(lambda s: {"type": "view_submission", "user": {"id": USER}, "view": "modal"}),
    "submission metadata not JSON": Case(lambda s: submission(s, "not json")),
    "submission metadata a list": Case(lambda s: submission(s, "[1]")),
    "submission metadata with a forged key": Case(
        lambda s: submission(s, json.dumps({"order_id": "123", "key": "a b"}))
    ),
    "submission with odd state": Case(lambda s: replaced(submission(s, "{}"), "x", "view", "state")),
}


def submission(stack: Stack, metadata: str) -> JSON:
    return {
        "type": "view_submission",
        "user": {"id": USER, "team_id": stack.slack_sandbox.team_id},
        "team": {"id": stack.slack_sandbox.team_id},
        "view": {
            "id": "V0FORGED",
            "type": "modal",
            "callback_id": ids.ACK_REF_MODAL,
            "private_metadata": metadata,
            "state": {"values": {ids.ACK_REF_BLOCK: {ids.ACK_REF_INPUT: {"type": "plain_text_input", "value": "R1"}}}},
        },
    }


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=name, marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [])
        for name, case in PAYLOADS.items()
    ],
)
def test_malformed_payloads_get_a_4xx_or_an_answer_and_never_a_graph_call(
    stack: Stack, strict_bot: SlackRequester, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    """Sent to the bot that finishes listeners before answering, so "no Graph call" is checked after the fact.

    The client's fault is a warning line for the operator, never an error with a traceback."""
    caplog.set_level(logging.INFO)
    built = case.build(stack)
    since = last_seq(stack)
    response = send_signed(strict_bot, built if isinstance(built, bytes) else payload_body(built))
    assert response.status_code in (200, 400, 404), response.text
    for mark in TRACEBACK_MARKS:
        assert mark not in response.text
    if case.answered:  # the listener ran: whatever the status, the user must have been told in words
        assert isinstance(built, dict)
        for answer in answers(stack, built["response_url"]):
            assert_fit_for_a_user(answer)
    assert not graph_posts(stack, since)
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]


def post_card(stack: Stack, order_id: str) -> tuple[str, str]:
    """A notification card for ``order_id`` in the channel, as the bot posts it: (key, message ts)."""
    key = new_key()
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    url = stack.settings.commerce_manager_url
    posted = client.chat_postMessage(
        channel=CHANNEL,
        blocks=notification_card(order, ack_key=key, commerce_manager_url=url),
        text=notification_text(order),
    )
    stack.services.store.remember_card(
        order_id, channel=CHANNEL, ts=str(posted["ts"]), response_url=None, kind="notification"
    )
    return key, str(posted["ts"])


def test_a_button_value_naming_another_order_than_its_card_makes_no_graph_call(own_stack: Stack) -> None:
    stack = own_stack
    shown, other = created_order(stack), created_order(stack)
    key, ts = post_card(stack, shown)
    sent = stack.slack.block_action(ids.ACK, ack_value(other, key), message_ts=ts)
    assert sent.response.status_code == 200
    answers(stack, sent.response_url)
    assert not graph_posts(stack)
    assert stack.graph_sandbox.order(other)["order_status"]["state"] == "CREATED"


def test_a_forged_value_for_an_order_the_bot_never_showed_makes_no_graph_call(own_stack: Stack) -> None:
    stack = own_stack
    never_shown = created_order(stack)
    sent = stack.slack.block_action(ids.ACK, ack_value(never_shown, new_key()))
    assert sent.response.status_code == 200
    for answer in answers(stack, sent.response_url):
        assert_fit_for_a_user(answer)
    assert not graph_posts(stack)


@given(st.text(max_size=300))
def test_parse_always_names_a_subcommand_and_keeps_the_argument(text: str) -> None:
    name, argument = parse(text)
    assert name in SUBCOMMANDS
    assert argument == argument.strip()
    assert argument in text
    if not text.split():
        assert (name, argument) == ("help", "")


@given(st.text(max_size=400))
def test_parse_query_returns_few_valid_lookups_or_says_why_not(text: str) -> None:
    try:
        queries = parse_query(text)
    except QueryError as error:
        message = str(error)
        assert message
        assert "<" not in message.replace("&lt;", ""), "a refusal echoes unescaped mrkdwn"
        return
    assert 1 <= len(queries) <= MAX_QUERIES
    assert len(set(queries)) == len(queries)
    for query in queries:
        assert query.value in text
        assert ORDER_ID.fullmatch(query.value) if query.kind == "id" else MERCHANT_REF_PATTERN.fullmatch(query.value)


MESSAGE_PARTS = st.recursive(
    st.text(max_size=60) | st.none() | st.integers(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["text", "title", "blocks", "elements", "value", "x"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(MESSAGE_PARTS)
def test_find_in_message_takes_any_message_shape(message: object) -> None:
    found = find_in_message({"message": message})
    for query in found:
        assert ORDER_ID.fullmatch(query.value) if query.kind == "id" else MERCHANT_REF_PATTERN.fullmatch(query.value)


@given(st.text(max_size=100))
def test_parse_order_id_accepts_only_ids(value: str) -> None:
    try:
        assert parse_order_id(value) == value
    except QueryError:
        assert not ORDER_ID.fullmatch(value)
    else:
        assert ORDER_ID.fullmatch(value)


@pytest.fixture(scope="module", name="strict_bot")
def strict_bot_fixture(stack: Stack) -> Iterator[SlackRequester]:
    """The shared stack's services behind a second server whose listeners finish before the HTTP answer."""
    app = create_app(stack.settings, services=stack.services, work=InlineExecutor())
    server: HttpServer
    with (
        build_server(stack.settings, stack.services, app=app) as server,
        SlackRequester(stack.slack_sandbox, server.url + EVENTS_PATH) as requester,
    ):
        yield requester


json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=40)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
action_ids = st.sampled_from([*ids.ALL_ACTION_IDS, "unknown"]) | st.text(max_size=20)


@st.composite
def payloads(draw: st.DrawFn) -> JSON:
    """Interactivity payloads with Slack's skeleton and anything in the places a forger or a bug could touch."""
    action = draw(
        st.fixed_dictionaries(
            {"action_id": action_ids, "type": st.just("button")},
            optional={"value": st.text(max_size=200) | json_values, "block_id": json_values},
        )
    )
    return draw(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["block_actions", "view_submission", "message_action", "shortcut"])},
            optional={
                "actions": st.just([action]) | json_values,
                "user": st.just({"id": USER, "team_id": "T0SANDBOX"}) | json_values,
                "container": json_values,
                "channel": json_values,
                "callback_id": st.sampled_from([ids.LOOKUP_SHORTCUT, ids.ACK_REF_MODAL]) | st.text(max_size=10),
                "view": json_values,
                "message": json_values,
            },
        )
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads())
def test_any_signed_payload_is_answered_without_a_5xx_or_a_graph_call(
    stack: Stack, strict_bot: SlackRequester, payload: JSON
) -> None:
    response_url = stack.slack_sandbox.new_response_url(channel=CHANNEL, user=USER)
    since = last_seq(stack)
    response = send_signed(strict_bot, payload_body({**payload, "response_url": response_url}))
    assert response.status_code in (200, 400, 404), response.text
    for mark in TRACEBACK_MARKS:
        assert mark not in response.text
    for answer in stack.slack_sandbox.responses(response_url):
        assert_fit_for_a_user(answer)
    assert not graph_posts(stack, since)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=500))
def test_any_signed_slash_command_text_is_answered_in_words(
    stack: Stack, strict_bot: SlackRequester, text: str
) -> None:
    sent = strict_bot.slash_command(text)
    assert sent.response.status_code == 200
    posted = stack.slack_sandbox.responses(sent.response_url or "")
    assert posted, "no answer by the time the listener finished"
    for answer in posted:
        assert_fit_for_a_user(answer)
