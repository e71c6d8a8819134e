"""The console's modals, choices, threads and Home tab in a real browser, in front of a small Bolt app (the
order-action and on-call listeners are the bot's; these tests hold the console to what Slack's client does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from test_browser import WAIT_MS, Browser, Page, chromium, expect  # noqa: F401 (chromium is a fixture)
from test_console_api import ALICE, Stack, stack  # noqa: F401 (stack is a fixture)
from test_slack_sandbox_views import CARRIERS, option

from bot.sandbox.slack import DEFAULT_BOT_TOKEN

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Browser, stack: Stack) -> Iterator[Page]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.console_url}?user={ALICE}")
    expect(page.locator(".intro-title")).to_contain_text("#orders", timeout=WAIT_MS)
    yield page
    context.close()
    assert errors == [], f"the console logged errors: {errors}"


def test_a_modal_with_every_input_walks_errors_update_push_back_and_cancel(page: Page, stack: Stack) -> None:  # noqa: F811
    view = stack.open_modal()
    modal = page.locator("#overlay .modal")
    expect(modal.locator(".modal-title")).to_have_text("Refund", timeout=WAIT_MS)

    modal.locator("#input-note-text").fill("Sorry\nfor the wait")
    modal.locator("#input-quantity-n").fill("1.5")
    modal.locator("#input-amount-n").fill("12.50")
    modal.locator("select[name='reason/pick']").select_option("OUT_OF_STOCK")
    modal.locator("#input-carrier-carrier").fill("fed")
    modal.locator(".ext-option", has_text="FedEx").click(timeout=WAIT_MS)
    expect(modal.locator("#input-carrier-carrier")).to_have_value("FedEx")
    modal.locator("input[name='restock/on'][value=restock]").check()
    modal.locator("input[name='scope/r'][value=items]").check()
    modal.locator(".modal-submit").click()
    expect(modal.locator(".b-input[data-block-id=quantity] .input-error")).to_have_text("Enter a whole number.")
    assert not [b for b in stack.received if b["type"] == "view_submission"]  # Slack's client keeps it from the app
    # The reason's input block has dispatch_action: its choice was also a block action.
    picked = stack.slack.wait_for(lambda: clicked(stack, "pick"))
    assert picked[0]["actions"][0]["selected_option"]["value"] == "OUT_OF_STOCK"
    assert picked[0]["container"] == {"type": "view", "view_id": view["id"]}

    modal.locator("#input-quantity-n").fill("3")
    modal.locator(".modal-submit").click()
    expect(modal.locator(".b-input[data-block-id=quantity] .input-error")).to_have_text(
        "Only 2 units were shipped.", timeout=WAIT_MS
    )
    values = stack.last("view_submission")["view"]["state"]["values"]
    assert values["carrier"]["carrier"] == {"type": "external_select", "selected_option": CARRIERS[1]}
    assert values["note"]["text"]["value"] == "Sorry\nfor the wait"
    assert values["quantity"]["n"] == {"type": "number_input", "value": "3"}
    assert values["restock"]["on"]["selected_options"] == [option("restock")]
    assert values["scope"]["r"]["selected_option"] == option("items")

    expect(modal.locator("#input-amount-n")).to_have_value("12.50")  # what was typed survives the redraw
    modal.locator("select[name='reason/pick']").select_option("CUSTOMER_REQUESTED")
    modal.locator(".modal-submit").click()
    expect(modal.locator(".modal-title")).to_have_text("Confirm", timeout=WAIT_MS)
    expect(modal.locator(".modal-back")).to_have_count(0)

    modal.locator(".modal-submit").click()
    expect(modal.locator(".modal-back")).to_be_visible(timeout=WAIT_MS)  # the pushed receipt
    modal.locator(".modal-back").click()
    assert stack.last("view_closed")["view"]["callback_id"] == "receipt"
    expect(modal.locator(".modal-back")).to_have_count(0, timeout=WAIT_MS)
    expect(modal.locator(".modal-title")).to_have_text("Confirm")

    modal.locator(".modal-cancel").click()
    expect(page.locator("#overlay")).to_be_hidden()
    stack.slack.wait_for(lambda: not stack.slack.view(view["id"])["open"])


def test_confirm_dialogs_threads_group_mentions_and_the_home_tab(page: Page, stack: Stack) -> None:  # noqa: F811
    bot = WebClient(token=DEFAULT_BOT_TOKEN, base_url=stack.slack.api_url)
    approval = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Refund of 80.00 EUR* needs approval"}},
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": "a1",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Send the refund?"},
                        "text": {"type": "mrkdwn", "text": "Meta tells the buyer at once."},
                        "confirm": {"type": "plain_text", "text": "Send"},
                        "deny": {"type": "plain_text", "text": "Not yet"},
                    },
                }
            ],
        },
    ]
    parent = bot.chat_postMessage(channel="C0ORDERS", text="Refund needs approval", blocks=approval)
    bot.chat_postMessage(channel="C0ORDERS", thread_ts=parent["ts"], text="Still waiting, <!subteam^S0ONCALL>")
    message = page.locator("[data-kind=message]", has_text="needs approval")

    message.locator("[data-action-id=approve]").click(timeout=WAIT_MS)
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text("Meta tells the buyer at once.")
    dialog.locator("button", has_text="Not yet").click()
    assert not [b for b in stack.received if b.get("type") == "block_actions"]
    message.locator("[data-action-id=approve]").click()
    dialog.locator("button", has_text="Send").click()
    assert stack.last("block_actions")["actions"][0]["value"] == "a1"

    message.locator(".thread-count").click()
    expect(message.locator("[data-kind=reply]")).to_contain_text("Still waiting, @oncall")

    page.locator("#home-link").click()
    home = page.locator("#home")
    expect(home).to_contain_text("2 orders wait for @oncall", timeout=WAIT_MS)
    expect(page.locator("#messages")).to_be_hidden()
    assert stack.last("app_home_opened")["user"] == ALICE
    home.locator("[data-action-id=snooze]").click()
    snooze = stack.slack.wait_for(
        lambda: [b for b in stack.received if b.get("actions", [{}])[0].get("action_id") == "snooze"]
    )
    assert snooze[0]["container"]["type"] == "view"
    home.locator("input[name='prefs/dm_me']").check()
    dm_me = stack.slack.wait_for(
        lambda: [b for b in stack.received if b.get("actions", [{}])[0].get("action_id") == "dm_me"]
    )
    assert dm_me[0]["actions"][0]["selected_options"] == [option("escalations", "DM me escalations")]

    page.locator("#channel-link").click()
    expect(page.locator("#messages")).to_be_visible()


def clicked(stack: Stack, action_id: str) -> list[dict[str, Any]]:  # noqa: F811
    return [b for b in stack.received if b.get("type") == "block_actions" and b["actions"][0]["action_id"] == action_id]
