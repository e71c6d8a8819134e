"""The console in a real browser (headless Chromium, driven by Playwright) on the real demo stack.

The console is the newcomer's first look at orderdesk, so these tests click what a person clicks: the composer,
buttons (a double-click on Acknowledge), the message menu, modals and the user switcher, and read what a person
reads. Any console error on the page fails the test. A screenshot of a rendered card is kept in
``artifacts/console.png``. The browser is the one ``make test`` found or installed (``tests/needs.py``); without
one, these tests fail with the line that says how to install it, they are never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import needs
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from slack_sdk import WebClient

from bot.cli.demo_stack import ALICE, BOB, CAROL, Demo
from bot.sandbox.slack import BOT_USER_ID
from bot.slack import ids

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    try:
        path = needs.path_for_tests(needs.CHROMIUM, os.environ, needs.Machine.here())
    except needs.Missing as missing:
        pytest.fail(str(missing), pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with Demo.start(tmp_path, poll_seconds=1) as started:
        # The poller's first pass announces the seeded orders awaiting acknowledgement (one digest); let it land
        # so that what a test does is all that happens after this.
        started.slack.wait_for(lambda: started.slack.calls("chat.postMessage"), timeout=20)
        yield started


@pytest.fixture
def page(chromium: Browser, demo: Demo) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(demo.console_url)
    expect(page.locator(".intro-title")).to_contain_text("#orders", timeout=WAIT_MS)
    yield page
    context.close()
    assert errors == [], f"the console logged errors: {errors}"


def send(page: Page, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def ephemeral_card(page: Page, order_id: str) -> Locator:
    card = page.locator("[data-kind=ephemeral]", has=page.locator(".b-header", has_text=f"Order {order_id}"))
    expect(card).to_be_visible(timeout=WAIT_MS)
    return card


def test_help_comes_back_only_visible_to_the_asker(page: Page) -> None:
    send(page, "/order help")

    answer = page.locator("[data-kind=ephemeral]").last
    expect(answer).to_contain_text("Only visible to you", timeout=WAIT_MS)
    expect(answer.locator(".b-header")).to_have_text("Looking up Facebook and Instagram Shops orders")
    expect(answer.locator("code").first).to_have_text("/order <Facebook order ID>")  # entities shown as text


def test_messages_post_and_the_user_switcher_changes_who_acts(page: Page, demo: Demo) -> None:
    send(page, "hello from alice")
    expect(page.locator("[data-kind=message]").last).to_contain_text("hello from alice", timeout=WAIT_MS)

    page.select_option("#user-switch", CAROL)
    expect(page.locator("#user-note")).to_have_text("carol is not allowed to acknowledge.")
    send(page, "hello from carol")
    expect(page.locator("[data-kind=message]").last).to_contain_text("Carol Agent", timeout=WAIT_MS)
    assert [m["user"] for m in demo.slack.messages("C0ORDERS") if m["user"] != BOT_USER_ID] == [ALICE, CAROL]


def test_unknown_slash_commands_are_refused_like_slack_does(page: Page, demo: Demo) -> None:
    before = len(demo.slack.calls())
    send(page, "/shrug")
    expect(page.locator("#toast")).to_contain_text("/shrug is not a valid command", timeout=WAIT_MS)
    # The demo's background jobs (poller, reminders) keep calling Slack; an answer to a command would be one of
    # these two, and there is none.
    answers = [c for c in demo.slack.calls()[before:] if c["method"] in ("response_url", "chat.postEphemeral")]
    assert answers == []


def test_the_message_menu_sends_the_look_up_order_shortcut(page: Page, demo: Demo) -> None:
    order_id = demo.examples[0]
    send(page, f"my order {order_id} is late")
    message = page.locator("[data-kind=message]").last
    expect(message).to_contain_text("is late", timeout=WAIT_MS)

    message.hover()
    message.locator(".more").click()
    # The console redraws the list on every change (the demo's poller makes Graph calls all the time): an open
    # menu must survive that. Make one happen now, and wait for it to be drawn, before clicking the item.
    demo.slack.post_as_user("C0ORDERS", "a message that redraws the list", "U0AGENT2")
    expect(page.locator("[data-kind=message]").last).to_contain_text("redraws the list", timeout=WAIT_MS)
    page.locator("[data-kind=message]", has_text="is late").locator(".menu-item", has_text="Look up order").click()

    expect(page.locator("[data-kind=ephemeral]").last).to_contain_text("Only visible to you", timeout=WAIT_MS)
    assert demo.slack.calls("response_url")  # the bot answered through the shortcut's response URL


def test_lookup_double_click_modal_and_notification(page: Page, demo: Demo) -> None:
    awaiting, _, _ = demo.examples
    send(page, f"/order {awaiting}")
    card = ephemeral_card(page, awaiting)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-card.png"))

    card.locator(f"[data-action-id={ids.ACK}]").dblclick()

    acks = page.locator(".graph-call.ack", has_text=f"/{awaiting}/acknowledge_order")
    expect(acks).to_have_count(1, timeout=WAIT_MS)
    expect(card.locator(".b-context")).to_contain_text("Acknowledged by", timeout=WAIT_MS)
    expect(card.locator(f"[data-action-id={ids.ACK}]")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "console.png"))
    at_meta = [c for c in demo.graph.calls() if c["path"].endswith(f"/{awaiting}/acknowledge_order")]
    assert len(at_meta) == 1

    other = demo.graph.order_ids("CREATED")[1]
    send(page, f"/order {other}")
    ephemeral_card(page, other).locator(f"[data-action-id={ids.ACK_WITH_REF}]").click()
    modal = page.locator("#overlay .modal")
    expect(modal).to_be_visible(timeout=WAIT_MS)
    modal.locator(".modal-submit").click()
    expect(modal.locator(".input-error")).to_be_visible()  # Slack's client refuses an empty required input
    modal.locator(".text-input").fill("   ")
    modal.locator(".modal-submit").click()
    expect(modal.locator(".input-error")).not_to_have_text("Please complete this required field.", timeout=WAIT_MS)
    assert not [c for c in demo.graph.calls() if c["path"].endswith(f"/{other}/acknowledge_order")]
    modal.locator(".modal-x").click()

    new = demo.graph.add_order(items=1)
    notification = page.locator("[data-kind=message]", has_text=new["id"])
    expect(notification.locator(f"[data-action-id={ids.ACK}]")).to_be_visible(timeout=WAIT_MS)


def test_sending_a_command_scrolls_to_its_answer_as_slack_does(page: Page, demo: Demo) -> None:
    for n in range(40):
        demo.slack.post_as_user("C0ORDERS", f"earlier message {n}", BOB)
    expect(page.locator("[data-kind=message]").last).to_contain_text("earlier message 39", timeout=WAIT_MS)
    page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(page.locator(".intro-title")).to_be_in_viewport()

    awaiting = demo.examples[0]
    send(page, f"/order {awaiting}")

    card = ephemeral_card(page, awaiting)
    expect(card.locator(".b-header")).to_be_in_viewport(timeout=WAIT_MS)
    expect(page.locator(".intro-title")).not_to_be_in_viewport()


def test_thread_replies_are_folded_under_n_replies_until_opened(page: Page, demo: Demo) -> None:
    parent = demo.slack.post_as_user("C0ORDERS", "buyer asks where order 42 is", ALICE)
    bot = WebClient(token=demo.settings.slack_bot_token, base_url=demo.slack.api_url)
    for n in (1, 2, 3):
        bot.chat_postMessage(channel="C0ORDERS", thread_ts=parent["ts"], text=f"thread answer {n}")
    message = page.locator("[data-kind=message]", has_text="buyer asks where order 42 is")
    toggle = message.locator(".thread-count")
    replies = message.locator("[data-kind=reply]")

    expect(toggle).to_contain_text("3 replies", timeout=WAIT_MS)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(replies).to_have_count(0)
    expect(message).not_to_contain_text("thread answer")

    toggle.click()
    expect(replies).to_have_count(3)
    expect(replies.last).to_contain_text("thread answer 3")
    demo.slack.post_as_user("C0ORDERS", "a message that redraws the list", BOB)  # an open thread stays open
    expect(page.locator("[data-kind=message]").last).to_contain_text("redraws the list", timeout=WAIT_MS)
    expect(replies).to_have_count(3)

    toggle.click()
    expect(replies).to_have_count(0)
    expect(toggle).to_contain_text("3 replies")


def test_the_graph_panel_keeps_running_totals_and_can_hide_the_pollers_reads(page: Page, demo: Demo) -> None:
    poller_rows = page.locator(".graph-call[data-poller=true]")
    expect(poller_rows.first).to_be_visible(timeout=WAIT_MS)  # the poller lists orders every second

    page.check("#hide-poller")
    expect(poller_rows).to_have_count(0)
    expect(page.locator("#graph-hidden")).to_contain_text("poller read", timeout=WAIT_MS)
    reads = page.locator("#graph-totals [data-kind=reads]")
    seen = reads.get_attribute("data-count")
    expect(reads).not_to_have_attribute("data-count", seen or "", timeout=WAIT_MS)  # the poller has read again
    expect(poller_rows).to_have_count(0)

    # More requests than the list shows, one of them a write and one an error: the totals count every one.
    awaiting = demo.examples[0]
    graph = f"{demo.settings.fb_graph_url}/v25.0"
    auth = {"Authorization": f"Bearer {demo.settings.fb_page_access_token}"}
    with httpx.Client(headers=auth) as http:
        for _ in range(70):
            assert http.get(f"{graph}/{awaiting}").status_code == 200
        assert http.get(f"{graph}/999999999999999").status_code >= 400
        acknowledged = http.post(
            f"{graph}/{awaiting}/acknowledge_order",
            data={"idempotency_key": "0123456789abcdef0123456789abcdef", "merchant_order_reference": "SHOP-T1"},
        )
        assert acknowledged.status_code == 200, acknowledged.text
    totals = page.locator("#graph-totals")
    expect(totals.locator("[data-kind=writes]")).to_have_text("1 write", timeout=WAIT_MS)
    expect(totals.locator("[data-kind=errors]")).to_have_text("1 error")
    expect(page.locator("#ack-count")).to_have_text("1 acknowledgement request")
    requests = int(totals.locator("[data-kind=requests]").get_attribute("data-count") or 0)
    assert requests >= 72 + int(seen or 0)
    assert page.locator(".graph-call").count() <= 60

    page.uncheck("#hide-poller")
    expect(poller_rows.first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#graph-hidden")).to_have_text("")
