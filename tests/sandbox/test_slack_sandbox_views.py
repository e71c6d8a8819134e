"""What the order-action modals and App Home need from the Slack sandbox: every input element's state in Slack's
shape, block actions from views, options requests, ``app_home_opened``, ``views.publish`` and the view stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from test_slack_sandbox import MODAL, FakeClock, Receiver

from bot.sandbox.server import ServerThread
from bot.sandbox.slack import DEFAULT_BOT_TOKEN, DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.sandbox.slack_requester import element_state, state_values, suggested_options
from bot.sandbox.slack_web import SlackApiFailure, checked_options

JSON = dict[str, Any]


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


def option(value: str, text: str | None = None) -> JSON:
    return {"text": plain(text or value.title()), "value": value}


def input_block(block_id: str, element: JSON, *, optional: bool = False, dispatch: bool = False) -> JSON:
    block = {"type": "input", "block_id": block_id, "label": plain(block_id), "element": element}
    return block | ({"optional": True} if optional else {}) | ({"dispatch_action": True} if dispatch else {})


CARRIERS = [option("UPS"), option("FEDEX", "FedEx")]
REASONS = [option("CUSTOMER_REQUESTED", "Customer asked"), option("OUT_OF_STOCK", "Out of stock")]
BLOCKS: list[JSON] = [
    input_block("note", {"type": "plain_text_input", "action_id": "text", "multiline": True}),
    input_block("tracking", {"type": "plain_text_input", "action_id": "text"}, optional=True),
    input_block("quantity", {"type": "number_input", "action_id": "n", "is_decimal_allowed": False, "min_value": "0"}),
    input_block("amount", {"type": "number_input", "action_id": "n", "is_decimal_allowed": True}),
    input_block("reason", {"type": "static_select", "action_id": "pick", "options": REASONS}, dispatch=True),
    input_block(
        "grouped",
        {
            "type": "static_select",
            "action_id": "pick",
            "option_groups": [{"label": plain("Common"), "options": CARRIERS}],
            "initial_option": CARRIERS[1],
        },
    ),
    input_block("carrier", {"type": "external_select", "action_id": "carrier", "min_query_length": 0}),
    input_block("restock", {"type": "checkboxes", "action_id": "on", "options": [option("restock")]}, optional=True),
    input_block("scope", {"type": "radio_buttons", "action_id": "r", "options": [option("whole"), option("items")]}),
    {
        "type": "actions",
        "block_id": "buttons",
        "elements": [
            {"type": "button", "action_id": "next", "text": plain("Next"), "value": "2"},
            {"type": "static_select", "action_id": "jump", "placeholder": plain("Go to"), "options": CARRIERS},
        ],
    },
]
ACTION_MODAL: JSON = {
    "type": "modal",
    "callback_id": "refund",
    "private_metadata": "1001:key-1",
    "title": plain("Refund"),
    "submit": plain("Next"),
    "blocks": BLOCKS,
}


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    sandbox = SlackSandbox(clock=FakeClock())
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=DEFAULT_BOT_TOKEN, timeout=5)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def requester(sandbox: SlackSandbox, receiver: Receiver) -> Iterator[SlackRequester]:
    with ServerThread(receiver) as server, SlackRequester(sandbox, f"{server.url}/slack/events") as slack:  # type: ignore[arg-type]
        yield slack


def test_state_values_have_slacks_shape_for_every_element_type() -> None:
    entered = {
        "note": {"text": "line one\nline two"},
        "quantity": {"n": "3"},
        "amount": {"n": "12.50"},
        "reason": {"pick": "OUT_OF_STOCK"},
        "carrier": {"carrier": option("DHL", "DHL Express")},
        "restock": {"on": ["restock"]},
        "scope": {"r": "items"},
    }

    values = state_values(BLOCKS, entered)

    assert values == {
        "note": {"text": {"type": "plain_text_input", "value": "line one\nline two"}},
        "tracking": {"text": {"type": "plain_text_input", "value": None}},
        "quantity": {"n": {"type": "number_input", "value": "3"}},
        "amount": {"n": {"type": "number_input", "value": "12.50"}},
        "reason": {"pick": {"type": "static_select", "selected_option": REASONS[1]}},
        "grouped": {"pick": {"type": "static_select", "selected_option": CARRIERS[1]}},  # its initial option
        "carrier": {"carrier": {"type": "external_select", "selected_option": option("DHL", "DHL Express")}},
        "restock": {"on": {"type": "checkboxes", "selected_options": [option("restock")]}},
        "scope": {"r": {"type": "radio_buttons", "selected_option": option("items")}},
        "buttons": {"jump": {"type": "static_select", "selected_option": None}},
    }
    assert state_values(BLOCKS, {})["restock"] == {"on": {"type": "checkboxes", "selected_options": []}}


@pytest.mark.parametrize(
    ("entered", "message"),
    [
        ({"reason": {"pick": "NOPE"}}, "offers no option 'NOPE'"),
        ({"quantity": {"n": "1.5"}}, "not a whole number"),
        ({"quantity": {"n": "-1"}}, "below the minimum"),
        ({"amount": {"n": "12,50"}}, "not a number"),
        ({"ghost": {"x": "1"}}, "no input ghost/x"),
        ({"carrier": {"carrier": {"value": "X"}}}, "invalid_options"),
    ],
)
def test_state_values_refuse_what_slacks_client_would_not_send(entered: JSON, message: str) -> None:
    with pytest.raises((ValueError, SlackApiFailure), match=message):
        state_values(BLOCKS, entered)


def test_an_unknown_element_type_is_named() -> None:
    with pytest.raises(ValueError, match="datepicker"):
        element_state({"type": "datepicker", "action_id": "d"}, "2026-01-01")


def test_options_answers_are_checked_like_slack_checks_them() -> None:
    assert checked_options({"options": CARRIERS}) == {"options": CARRIERS}
    grouped = {"option_groups": [{"label": plain("Common"), "options": CARRIERS}]}
    assert checked_options(grouped) == grouped
    for bad in ({}, {"options": [{"value": "x"}]}, {"options": [option(str(n)) for n in range(101)]}, []):
        with pytest.raises(SlackApiFailure):
            checked_options(bad)


def open_modal(sandbox: SlackSandbox, client: WebClient, view: JSON = ACTION_MODAL, user: str = "U0AGENT1") -> JSON:
    opened: JSON = client.views_open(trigger_id=sandbox.new_trigger_id(user=user), view=view)["view"]
    return opened


def test_a_click_in_a_modal_carries_the_view_and_no_response_url(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    view = open_modal(sandbox, client)
    values = state_values(view["blocks"], {"reason": {"pick": "OUT_OF_STOCK"}})

    sent = requester.view_action(view["id"], "jump", selected="FEDEX", values=values)

    payload = receiver.last_payload()
    assert payload == sent.payload
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert "response_url" not in payload
    assert "channel" not in payload
    assert payload["view"]["private_metadata"] == "1001:key-1"
    assert payload["view"]["hash"] == view["hash"]
    assert payload["view"]["state"]["values"]["reason"]["pick"]["selected_option"] == REASONS[1]
    (action,) = payload["actions"]
    assert (action["type"], action["block_id"], action["selected_option"]) == ("static_select", "buttons", CARRIERS[1])
    assert payload["trigger_id"]


def test_choices_and_thread_replies_in_messages(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    parent = client.chat_postMessage(channel="C0ORDERS", text="Order 1001")
    reply = client.chat_postMessage(
        channel="C0ORDERS", thread_ts=parent["ts"], text="Still waiting", blocks=[BLOCKS[-1]]
    )

    requester.block_action("jump", "", message_ts=reply["ts"], selected="UPS")

    payload = receiver.last_payload()
    assert payload["container"]["thread_ts"] == parent["ts"]
    assert payload["message"]["thread_ts"] == parent["ts"]
    assert payload["actions"][0]["selected_option"] == CARRIERS[0]
    requester.block_action("next", "2", message_ts=reply["ts"])
    assert receiver.last_payload()["actions"][0]["value"] == "2"


@pytest.fixture
def bolt(sandbox: SlackSandbox) -> Iterator[tuple[SlackRequester, list[JSON]]]:
    """A Bolt app answering options, opening Home for whoever opens it, recording what it received."""
    received: list[JSON] = []
    app = App(
        token=DEFAULT_BOT_TOKEN,
        signing_secret=DEFAULT_SIGNING_SECRET,
        client=WebClient(token=DEFAULT_BOT_TOKEN, base_url=sandbox.api_url),
        token_verification_enabled=False,
    )

    @app.options("carrier")
    def carriers(ack: Any, body: JSON) -> None:
        received.append(body)
        typed = body["value"].upper()
        if typed == "BROKEN":
            ack(options=[{"text": plain("no value")}])
            return
        ack(option_groups=[{"label": plain("Common"), "options": [o for o in CARRIERS if typed in o["value"]]}])

    @app.event("app_home_opened")
    def home(event: JSON, client: WebClient) -> None:
        received.append(event)
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": BLOCKS[-1:]})

    with (
        ServerThread(SlackRequestHandler(app)) as server,
        SlackRequester(sandbox, f"{server.url}/slack/events") as slack,
    ):  # type: ignore[arg-type]
        yield slack, received


def test_block_suggestion_reaches_bolts_options_listener(
    sandbox: SlackSandbox, client: WebClient, bolt: tuple[SlackRequester, list[JSON]]
) -> None:
    slack, received = bolt
    view = open_modal(sandbox, client)

    sent = slack.block_suggestion("carrier", "fed", view_id=view["id"])

    assert suggested_options(sent) == {"option_groups": [{"label": plain("Common"), "options": [CARRIERS[1]]}]}
    (body,) = received
    assert (body["type"], body["block_id"], body["value"]) == ("block_suggestion", "carrier", "fed")
    assert body["container"] == {"type": "view", "view_id": view["id"]}
    assert body["view"]["private_metadata"] == "1001:key-1"
    with pytest.raises(SlackApiFailure, match="invalid_options"):
        suggested_options(slack.block_suggestion("carrier", "broken", view_id=view["id"]))


def test_app_home_opened_then_views_publish_keeps_one_home_per_user(
    sandbox: SlackSandbox, bolt: tuple[SlackRequester, list[JSON]]
) -> None:
    slack, received = bolt
    assert sandbox.home("U0AGENT2") is None

    assert slack.app_home_opened("U0AGENT2").response.status_code == 200
    home = sandbox.wait_for(lambda: sandbox.home("U0AGENT2") or {})
    slack.app_home_opened("U0AGENT2")
    sandbox.wait_for(lambda: len(sandbox.calls("views.publish")) == 2)

    first, second = received
    assert (first["type"], first["tab"], first["user"], first["channel"]) == (
        "app_home_opened",
        "home",
        "U0AGENT2",
        "DU0AGENT2",
    )
    assert "view" not in first
    assert second["view"]["id"] == home["id"]  # the second opening carries the view published after the first
    assert [v["id"] for v in sandbox.views() if v["type"] == "home"] == [home["id"]]
    assert sandbox.home("U0AGENT1") is None

    sent = slack.view_action(home["id"], "next", value="2", user="U0AGENT2")
    assert sent.payload["view"]["type"] == "home"
    assert sent.payload["container"] == {"type": "view", "view_id": home["id"]}
    assert "response_url" not in sent.payload


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": "U0AGENT1", "view": ACTION_MODAL}, "invalid_arguments"),
        ({"user_id": "U0NOBODY", "view": {"type": "home", "blocks": BLOCKS[-1:]}}, "user_not_found"),
        ({"view": {"type": "home", "blocks": BLOCKS[-1:]}}, "invalid_arguments"),
        ({"user_id": "U0AGENT1", "view": {"type": "home", "blocks": []}}, "invalid_arguments"),
        ({"user_id": "U0AGENT1", "view": {"type": "home", "blocks": [{"type": "section"}]}}, "invalid_blocks"),
    ],
)
def test_views_publish_refuses_what_slack_refuses(client: WebClient, kwargs: JSON, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("views.publish", json=kwargs)
    assert raised.value.response["error"] == error


def test_views_publish_with_a_stale_hash_is_a_conflict(sandbox: SlackSandbox, client: WebClient) -> None:
    first = client.views_publish(user_id="U0AGENT1", view={"type": "home", "blocks": BLOCKS[:1]})["view"]
    client.views_publish(user_id="U0AGENT1", view={"type": "home", "blocks": BLOCKS[-1:]}, hash=first["hash"])
    with pytest.raises(SlackApiError) as raised:
        client.views_publish(user_id="U0AGENT1", view={"type": "home", "blocks": BLOCKS[:1]}, hash=first["hash"])
    assert raised.value.response["error"] == "hash_conflict"
    home = sandbox.home("U0AGENT1")
    assert home is not None
    assert home["blocks"] == BLOCKS[-1:]


def test_an_update_replaces_the_whole_view_and_errors_must_name_input_blocks(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    view = open_modal(sandbox, client)
    sandbox.submission_acked(view["id"], {"response_action": "errors", "errors": {"quantity": "Too many"}})
    assert sandbox.view(view["id"])["errors"] == {"quantity": "Too many"}
    for errors in ({"buttons": "not an input"}, {"ghost": "x"}, {}, {"quantity": ""}):
        with pytest.raises(SlackApiFailure, match="invalid_errors"):
            sandbox.submission_acked(view["id"], {"response_action": "errors", "errors": errors})

    sandbox.submission_acked(view["id"], {"response_action": "update", "view": MODAL | {"private_metadata": "step2"}})
    assert sandbox.view(view["id"])["private_metadata"] == "step2"
    assert "errors" not in sandbox.view(view["id"])
    without = {k: v for k, v in MODAL.items() if k != "private_metadata"}
    updated = client.views_update(view_id=view["id"], view=without)["view"]
    assert updated["private_metadata"] == ""


def test_a_stack_holds_three_views_and_back_closes_only_the_top(sandbox: SlackSandbox, client: WebClient) -> None:
    first = open_modal(sandbox, client, MODAL)
    sandbox.submission_acked(first["id"], {"response_action": "push", "view": MODAL | {"callback_id": "two"}})
    second = sandbox.views(user="U0AGENT1")[-1]
    third = client.views_push(trigger_id=sandbox.new_trigger_id(user="U0AGENT1"), view=MODAL)["view"]
    with pytest.raises(SlackApiError) as raised:
        client.views_push(trigger_id=sandbox.new_trigger_id(user="U0AGENT1"), view=MODAL)
    assert raised.value.response["error"] == "push_limit_reached"
    with pytest.raises(SlackApiFailure, match="push_limit_reached"):
        sandbox.submission_acked(third["id"], {"response_action": "push", "view": MODAL})

    assert [v["id"] for v in sandbox.close_view(third["id"], whole_stack=False)] == [third["id"]]
    assert [v["open"] for v in sandbox.views()] == [True, True, False]
    closed = sandbox.close_view(second["id"], whole_stack=True)
    assert [v["id"] for v in closed] == [second["id"], first["id"]]
    assert not any(v["open"] for v in sandbox.views())


def test_blocks_without_ids_get_them_as_slack_gives_them(sandbox: SlackSandbox, client: WebClient) -> None:
    bare = {"type": "input", "label": plain("Note"), "element": {"type": "plain_text_input"}}
    view = open_modal(sandbox, client, MODAL | {"blocks": [bare, bare]})
    first, second = view["blocks"]
    assert first["block_id"]
    assert first["element"]["action_id"]
    assert first["block_id"] != second["block_id"]
    assert set(state_values(view["blocks"], {})) == {first["block_id"], second["block_id"]}


def test_the_apps_dm_takes_messages_by_user_id_or_once_opened_by_its_id(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="DU0AGENT2", text="not opened yet")
    assert raised.value.response["error"] == "channel_not_found"

    by_user = client.chat_postMessage(channel="U0AGENT2", text="Escalation: order 1001")
    opened = client.conversations_open(users="U0AGENT2")["channel"]["id"]
    reply = client.chat_postMessage(channel=opened, thread_ts=by_user["ts"], text="snoozed")

    assert by_user["channel"] == opened == sandbox.dm_channel("U0AGENT2")
    assert [m["text"] for m in sandbox.messages(opened, thread_ts=by_user["ts"])] == [
        "Escalation: order 1001",
        "snoozed",
    ]
    assert reply["channel"] == opened
    assert client.conversations_info(channel=opened)["channel"]["is_im"] is True


@pytest.mark.parametrize(
    ("element", "count"),
    [("static_select", 101), ("checkboxes", 11), ("radio_buttons", 11), ("overflow", 6)],
)
def test_more_options_than_slack_shows_are_refused(client: WebClient, element: str, count: int) -> None:
    options = [option(f"v{n}") for n in range(count)]
    block = {"type": "actions", "elements": [{"type": element, "action_id": "a", "options": options}]}
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0ORDERS", text="x", blocks=[block])
    assert raised.value.response["error"] == "invalid_blocks"
    fits = {"type": "actions", "elements": [{"type": element, "action_id": "a", "options": options[:-1]}]}
    assert client.chat_postMessage(channel="C0ORDERS", text="x", blocks=[fits])["ok"]


def test_submit_builds_state_values_from_the_stored_view(
    sandbox: SlackSandbox, client: WebClient, requester: SlackRequester, receiver: Receiver
) -> None:
    view = open_modal(sandbox, client)

    requester.submit(view["id"], {"reason": {"pick": "CUSTOMER_REQUESTED"}, "quantity": {"n": "2"}}, user="U0AGENT1")

    submitted = receiver.last_payload()["view"]
    assert submitted["state"]["values"]["reason"]["pick"]["selected_option"] == REASONS[0]
    assert submitted["state"]["values"]["quantity"]["n"]["value"] == "2"
    assert submitted["private_metadata"] == "1001:key-1"
    with pytest.raises(ValueError, match="whole number"):
        requester.submit(view["id"], {"quantity": {"n": "2.5"}})
