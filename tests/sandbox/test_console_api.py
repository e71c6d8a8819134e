"""The console's API, over real HTTP, in front of a real Bolt app: what the page sends for modals, selects and the
Home tab reaches the app signed and in Slack's shape, and what the app answers lands where Slack would put it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from test_slack_sandbox_views import ACTION_MODAL, CARRIERS, REASONS, option, plain

from bot.sandbox.console import Console, _answer
from bot.sandbox.server import ServerThread
from bot.sandbox.slack import DEFAULT_BOT_TOKEN, DEFAULT_SIGNING_SECRET, Sent, SlackRequester, SlackSandbox

JSON = dict[str, Any]
ALICE, BOB = "U0AGENT1", "U0AGENT2"
CONFIRM = {
    "type": "modal",
    "callback_id": "confirm",
    "title": plain("Confirm"),
    "submit": plain("Refund"),
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Refund 12.50 EUR?*"}}],
}
HOME = {
    "type": "home",
    "callback_id": "home",
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*2 orders* wait for <!subteam^S0ONCALL>"}},
        {
            "type": "actions",
            "block_id": "prefs",
            "elements": [
                {"type": "button", "action_id": "snooze", "text": plain("Snooze 1h"), "value": "1001:1h"},
                {"type": "checkboxes", "action_id": "dm_me", "options": [option("escalations", "DM me escalations")]},
            ],
        },
    ],
}


@dataclass
class Stack:
    slack: SlackSandbox
    console_url: str
    received: list[JSON] = field(default_factory=list)

    def post(self, path: str, **body: Any) -> JSON:
        response = httpx.post(f"{self.console_url}/api/{path}", json={"user": ALICE, **body}, timeout=10)
        answer: JSON = response.json()
        answer["http"] = response.status_code
        return answer

    def open_modal(self, user: str = ALICE, **changes: Any) -> JSON:
        client = WebClient(base_url=self.slack.api_url, token=DEFAULT_BOT_TOKEN)
        trigger_id = self.slack.new_trigger_id(user=user)
        view: JSON = client.views_open(trigger_id=trigger_id, view=ACTION_MODAL | changes)["view"]
        return view

    def last(self, kind: str) -> JSON:
        """The latest body of that type the app received (Bolt may run a listener just after its ack)."""
        found: JSON = self.slack.wait_for(
            lambda: next((body for body in reversed(self.received) if body.get("type") == kind), None)
        )
        return found


def bolt_app(slack: SlackSandbox, received: list[JSON]) -> App:
    app = App(
        token=DEFAULT_BOT_TOKEN,
        signing_secret=DEFAULT_SIGNING_SECRET,
        client=WebClient(token=DEFAULT_BOT_TOKEN, base_url=slack.api_url),
        token_verification_enabled=False,
    )

    @app.view("refund")
    def refund(ack: Any, body: JSON, view: JSON) -> None:
        received.append(body)
        values = view["state"]["values"]
        if values["reason"]["pick"]["selected_option"]["value"] == "OUT_OF_STOCK":
            ack(response_action="errors", errors={"quantity": "Only 2 units were shipped."})
            return
        ack(response_action="update", view=CONFIRM | {"private_metadata": view["private_metadata"] + ":confirm"})

    @app.view("confirm")
    def confirm(ack: Any, body: JSON, view: JSON) -> None:
        received.append(body)
        if view["private_metadata"].endswith(":pushed"):
            ack(response_action="clear")
            return
        receipt = CONFIRM | {"callback_id": "receipt", "notify_on_close": True}
        ack(response_action="push", view=receipt)
        slack_client = WebClient(token=DEFAULT_BOT_TOKEN, base_url=slack.api_url)
        slack_client.views_update(view_id=view["id"], view=CONFIRM | {"private_metadata": "1001:pushed"})

    @app.view("bad_errors")
    def bad_errors(ack: Any) -> None:
        ack(response_action="errors", errors={"buttons": "not an input block"})

    @app.view_closed("receipt")
    def closed(ack: Any, body: JSON) -> None:
        ack()
        received.append(body)

    @app.options("carrier")
    def carriers(ack: Any, body: JSON) -> None:
        received.append(body)
        ack(options=[o for o in CARRIERS if body["value"].upper() in o["value"]])

    @app.action("jump")
    @app.action("pick")
    @app.action("approve")
    @app.action("snooze")
    @app.action("dm_me")
    def clicked(ack: Any, body: JSON) -> None:
        ack()
        received.append(body)

    @app.event("app_home_opened")
    def home(event: JSON, client: WebClient) -> None:
        received.append(event)
        client.views_publish(user_id=event["user"], view=HOME)

    return app


@pytest.fixture
def stack() -> Iterator[Stack]:
    slack = SlackSandbox()
    received: list[JSON] = []
    with (
        slack.serve() as server,
        ServerThread(SlackRequestHandler(bolt_app(slack, received))) as bot,  # type: ignore[arg-type]
        SlackRequester(slack, f"{bot.url}/slack/events") as requester,
    ):
        Console(slack, requester).mount()
        yield Stack(slack, f"{server.url}/console", received)


def test_a_modal_submits_every_element_in_slacks_shape_and_walks_errors_update_push_and_clear(stack: Stack) -> None:
    view = stack.open_modal()
    inputs = {
        "note": {"text": "Sorry\nfor the wait"},
        "quantity": {"n": "3"},
        "amount": {"n": "12.50"},
        "reason": {"pick": "OUT_OF_STOCK"},
        "carrier": {"carrier": CARRIERS[1]},
        "restock": {"on": ["restock"]},
        "scope": {"r": "items"},
    }

    assert stack.post("submit", view_id=view["id"], inputs=inputs)["ok"] is True

    submitted = stack.last("view_submission")["view"]
    assert submitted["private_metadata"] == "1001:key-1"
    assert submitted["state"]["values"]["reason"] == {"pick": {"type": "static_select", "selected_option": REASONS[1]}}
    assert submitted["state"]["values"]["amount"] == {"n": {"type": "number_input", "value": "12.50"}}
    assert submitted["state"]["values"]["restock"]["on"]["selected_options"] == [option("restock")]
    assert submitted["state"]["values"]["tracking"] == {"text": {"type": "plain_text_input", "value": None}}
    (modal,) = console_state(stack)["modals"]
    assert modal["errors"] == {"quantity": "Only 2 units were shipped."}

    inputs["reason"] = {"pick": "CUSTOMER_REQUESTED"}
    stack.post("submit", view_id=view["id"], inputs=inputs)
    (modal,) = console_state(stack)["modals"]
    assert (modal["id"], modal["callback_id"], modal["errors"]) == (view["id"], "confirm", None)

    stack.post("submit", view_id=view["id"], inputs={})
    assert stack.last("view_submission")["view"]["private_metadata"] == "1001:key-1:confirm"
    below, top = stack.slack.wait_for(
        lambda: len(console_state(stack)["modals"]) == 2 and console_state(stack)["modals"]
    )
    assert (top["callback_id"], top["previous_view_id"]) == ("receipt", view["id"])
    stack.slack.wait_for(lambda: stack.slack.view(view["id"])["private_metadata"] == "1001:pushed")

    assert stack.post("close", view_id=top["id"], back=True)["ok"] is True
    assert stack.last("view_closed")["is_cleared"] is False
    assert [m["id"] for m in console_state(stack)["modals"]] == [below["id"]]

    stack.post("submit", view_id=below["id"], inputs={})  # private_metadata now says "pushed": the app clears
    assert console_state(stack)["modals"] == []


def console_state(stack: Stack, user: str = ALICE) -> JSON:
    state: JSON = httpx.get(f"{stack.console_url}/api/state", params={"user": user}).json()
    return state


def test_external_select_options_come_from_the_app(stack: Stack) -> None:
    view = stack.open_modal()

    answer = stack.post("suggest", view_id=view["id"], action_id="carrier", block_id="carrier", value="fed")

    assert answer["options"] == [CARRIERS[1]]
    suggestion = stack.last("block_suggestion")
    assert (suggestion["value"], suggestion["view"]["id"]) == ("fed", view["id"])


def test_a_select_in_a_modal_is_a_block_action_with_the_view_and_its_state(stack: Stack) -> None:
    view = stack.open_modal()

    stack.post(
        "action", view_id=view["id"], action_id="jump", selected="UPS", inputs={"reason": {"pick": "OUT_OF_STOCK"}}
    )

    body = stack.last("block_actions")
    assert body["container"] == {"type": "view", "view_id": view["id"]}
    assert body["actions"][0]["selected_option"] == CARRIERS[0]
    assert body["view"]["state"]["values"]["reason"]["pick"]["selected_option"]["value"] == "OUT_OF_STOCK"
    assert "response_url" not in body


def test_the_home_tab_opens_with_app_home_opened_and_its_buttons_act_from_the_view(stack: Stack) -> None:
    assert console_state(stack, BOB)["home"] is None

    assert stack.post("home", user=BOB)["ok"] is True

    home = stack.slack.wait_for(lambda: console_state(stack, BOB)["home"])
    assert home["blocks"][0]["text"]["text"].startswith("*2 orders*")
    assert console_state(stack, BOB)["usergroups"] == {"S0ONCALL": "oncall"}
    assert console_state(stack, ALICE)["home"] is None  # one Home view per person
    opened = stack.last("app_home_opened")
    assert (opened["user"], opened["tab"]) == (BOB, "home")

    stack.post("action", user=BOB, view_id=home["id"], action_id="snooze", value="1001:1h", block_id="prefs")
    snooze = stack.last("block_actions")
    assert (snooze["container"]["type"], snooze["view"]["type"], snooze["actions"][0]["value"]) == (
        "view",
        "home",
        "1001:1h",
    )
    assert "response_url" not in snooze
    stack.post("action", user=BOB, view_id=home["id"], action_id="dm_me", selected=["escalations"])
    assert stack.last("block_actions")["actions"][0]["selected_options"] == [option("escalations", "DM me escalations")]


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("submit", {"inputs": {"reason": {"pick": "NOPE"}}}, "pick offers no option 'NOPE'"),
        ("submit", {"inputs": {"quantity": {"n": "many"}}}, "'many' is not a whole number"),
        ("action", {"action_id": "jump", "selected": "NOPE"}, "jump offers no option 'NOPE'"),
        ("submit", {"user": BOB}, "that modal is not open for you"),
    ],
)
def test_what_slacks_client_would_not_send_is_refused_before_the_app(
    stack: Stack, path: str, body: JSON, error: str
) -> None:
    view = stack.open_modal()
    answer = stack.post(path, view_id=view["id"], **body)
    assert (answer["http"], answer["error"]) == (400, error)
    assert stack.received == []


def test_buttons_in_the_apps_dm_act_on_that_message(stack: Stack) -> None:
    client = WebClient(base_url=stack.slack.api_url, token=DEFAULT_BOT_TOKEN)
    dm = client.conversations_open(users=ALICE)["channel"]["id"]
    posted = client.chat_postMessage(
        channel=ALICE, text="Escalation", blocks=HOME["blocks"]
    )  # by user id, as Slack allows
    assert posted["channel"] == dm

    (direct,) = console_state(stack)["direct"]
    stack.post("action", action_id="snooze", value="1001:1h", message_ts=direct["ts"], channel=dm)

    body = stack.last("block_actions")
    assert (body["channel"]["id"], body["message"]["ts"], body["container"]["is_ephemeral"]) == (
        dm,
        posted["ts"],
        False,
    )
    refused = stack.post("action", user=BOB, action_id="snooze", message_ts=direct["ts"], channel=dm)
    assert (refused["http"], refused["error"]) == (400, f"U0AGENT2 cannot see channel {dm}")


def test_an_answer_slack_would_refuse_is_shown_in_words(stack: Stack) -> None:
    view = stack.open_modal(callback_id="bad_errors")

    answer = stack.post("submit", view_id=view["id"], inputs={})

    assert answer["error"].endswith("errors for blocks that are not inputs of this view (invalid_errors)")
    assert stack.slack.view(view["id"])["open"] is True


def test_an_answer_later_than_three_seconds_is_flagged() -> None:
    slow = Sent(httpx.Response(200, json={}), None, None, {}, elapsed=3.4)
    assert _answer(slow)["warning"] == "the app took 3.4 s to answer; Slack gives up after 3 s"
    assert "warning" not in _answer(Sent(httpx.Response(200), None, None, {}, elapsed=0.2))
