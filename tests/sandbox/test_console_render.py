"""The console's renderer draws every message the bot can produce, in a real browser, without a rendering error.

Two corpora: every Block Kit builder in ``bot.slack.views.blocks`` over orders in every state (and a hostile one:
mentions,
entities, 3,000-character names, 120 items), and everything the bot actually sent to the Slack sandbox during the
scripted demo (messages, edits, ephemerals, modals). A block or element the renderer does not know, a malformed
date or an unknown control sequence is a reported problem and fails the test, as does any console error.
Then a table of mrkdwn cases checks *what* is drawn: formatting, mentions by name, dates, and escaped text shown
as text, never as a mention.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import WAIT_MS, Browser, Page, chromium, expect  # noqa: F401 (chromium is a fixture)
from test_slack_sandbox_views import BLOCKS, CARRIERS, REASONS

from bot.cli.demo_stack import Demo
from bot.cli.scenario import Scenario
from bot.sandbox.console import Console
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack.views import blocks
from bot.slack.views.blocks import AckStatus

pytestmark = pytest.mark.browser

CM = "https://www.facebook.com/commerce_manager/"
KEY = "0123456789abcdef0123456789abcdef"
HOSTILE = "<!channel> <@U123> & <https://evil.example|click> *x* " + "y" * 3000


@pytest.fixture(scope="module")
def harness(chromium: Browser) -> Iterator[Page]:  # noqa: F811
    """The console page in harness mode (renderer loaded, no polling), served by a Slack sandbox."""
    sandbox = SlackSandbox()
    server = sandbox.serve()
    requester = SlackRequester(sandbox, f"{server.url}/nowhere")
    Console(sandbox, requester).mount()
    context = chromium.new_context(timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/console?harness")
    page.wait_for_function("window.OrderdeskConsole !== undefined", timeout=WAIT_MS)
    yield page
    context.close()
    requester.close()
    server.stop()
    assert errors == [] or all("orderdesk console:" in e for e in errors), errors


def render(page: Page, corpus: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Render each named list of blocks; returns ``{name: {text, html, problems}}``."""
    users = {"U0AGENT1": {"name": "alice"}, "U0AGENT2": {"name": "bob"}}
    usergroups = {"S0ONCALL": "oncall"}
    result: dict[str, dict[str, Any]] = page.evaluate(
        """([corpus, users, usergroups]) => Object.fromEntries(Object.entries(corpus).map(
            ([name, blocks]) => [name, OrderdeskConsole.render(blocks, { users, usergroups })]))""",
        [corpus, users, usergroups],
    )
    return result


def _orders() -> dict[str, dict[str, Any]]:
    graph = GraphSandbox(orders=40)
    orders = {state: graph.order(graph.order_ids(state)[0]) for state in ("FB_PROCESSING", "CREATED", "IN_PROGRESS")}
    orders["COMPLETED"] = graph.order(graph.order_ids("COMPLETED")[0])
    hostile = graph.add_order(
        buyer_details={"name": HOSTILE}, items=[{"product_name": HOSTILE, "retailer_id": "<b>&"}] * 120
    )
    orders["hostile"] = graph.order(hostile["id"])
    return orders


def builder_corpus() -> dict[str, list[dict[str, Any]]]:
    orders = _orders()
    statuses = {
        "pending": AckStatus("pending", "U0AGENT1", 1_700_000_000.0),
        "succeeded": AckStatus("succeeded", "U0AGENT2", 1_700_000_000.0, reference="SHOP-1"),
        "retryable": AckStatus("retryable", "U0AGENT1", message="Meta did not answer <in time> & more"),
        "failed": AckStatus("failed", "U0AGENT1", message="order was cancelled"),
    }
    corpus: dict[str, list[dict[str, Any]]] = {}
    for name, order in orders.items():
        corpus[f"order_card/{name}"] = blocks.order_card(order, commerce_manager_url=CM, ack_key=KEY)
        corpus[f"order_card/{name}/shared"] = blocks.order_card(order, commerce_manager_url=CM, shared_by="U0AGENT1")
        corpus[f"contact_blocks/{name}"] = blocks.contact_blocks(order)
        corpus[f"notification_card/{name}"] = blocks.notification_card(order, ack_key=KEY, commerce_manager_url=CM)
        for status_name, status in statuses.items():
            corpus[f"order_card/{name}/{status_name}"] = blocks.order_card(
                order, commerce_manager_url=CM, ack_key=KEY, ack_status=status
            )
            corpus[f"notification_card/{name}/{status_name}"] = blocks.notification_card(
                order, ack_key=KEY, commerce_manager_url=CM, ack_status=status
            )
        corpus[f"ack_status_blocks/{name}"] = blocks.ack_status_blocks(order["id"], statuses["succeeded"])
    listed = list(orders.values())
    corpus["digest_message"] = blocks.digest_message(listed * 10, digest_id="d1")
    corpus["digest_list"] = blocks.digest_list(listed * 10, commerce_manager_url=CM)
    corpus["ack_reference_modal"] = blocks.ack_reference_modal("123", KEY)["blocks"]
    corpus["ack_reference_modal/error"] = blocks.ack_reference_modal("123", KEY, error=HOSTILE, initial="x")["blocks"]
    corpus["ack_not_allowed_blocks"] = blocks.ack_not_allowed_blocks(["U0AGENT1", "S0ONCALL"])
    corpus["ack_not_allowed_blocks/foreign"] = blocks.ack_not_allowed_blocks([], other_workspace=True)
    corpus["ack_conflict_blocks"] = blocks.ack_conflict_blocks("123")
    results = [
        {"id": "1", "state": "IN_PROGRESS", "merchant_order_reference": "SHOP-1"},
        {"id": "2", "error": {"error_code": 2361009, "error_message": HOSTILE}},
    ]
    corpus["batch_result_blocks"] = blocks.batch_result_blocks(results * 40)
    corpus["batch_result_blocks/none"] = blocks.batch_result_blocks([])
    rows = [{"at": 1_700_000_000, "action": "acknowledge", "user_id": "U0AGENT1", "key": KEY, "outcome": "ok"}]
    corpus["history_blocks"] = blocks.history_blocks("123", rows * 50)
    corpus["history_blocks/none"] = blocks.history_blocks("123", [])
    corpus["help_blocks"] = blocks.help_blocks()
    corpus["message_blocks"] = blocks.message_blocks(blocks.escape(HOSTILE))
    return corpus


def test_the_corpus_covers_every_block_builder() -> None:
    """A new builder in ``bot.slack.views.blocks`` must be added to the corpus above (or this test names it)."""
    covered = {name.split("/")[0] for name in builder_corpus()}
    producing = {
        name
        for name in blocks.__all__
        if (
            inspect.isfunction(getattr(blocks, name))
            and "Block" in str(inspect.signature(getattr(blocks, name)).return_annotation)
        )
        or name == "ack_reference_modal"
    }
    assert producing - covered == set()


def test_every_builder_renders_without_a_problem(harness: Page) -> None:
    rendered = render(harness, builder_corpus())

    problems = {name: r["problems"] for name, r in rendered.items() if r["problems"]}
    assert problems == {}
    assert all(r["text"].strip() for r in rendered.values())


def test_the_elements_of_the_order_action_modals_and_home_render_with_their_values(harness: Page) -> None:
    """Every input element the modals use, choices in messages and Home, and a button with a confirm dialog."""
    confirm = {
        "title": {"type": "plain_text", "text": "Refund 12.50 EUR?"},
        "text": {"type": "mrkdwn", "text": "The buyer is told at once."},
        "confirm": {"type": "plain_text", "text": "Refund"},
        "deny": {"type": "plain_text", "text": "Back"},
        "style": "danger",
    }
    approval = {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
             "style": "primary", "value": "a1", "confirm": confirm},
            {"type": "button", "action_id": "decline", "text": {"type": "plain_text", "text": "Decline"},
             "style": "danger", "value": "a1"},
            {"type": "overflow", "action_id": "more", "options": CARRIERS},
            {"type": "radio_buttons", "action_id": "snooze", "options": REASONS, "initial_option": REASONS[0]},
        ],
    }  # fmt: skip
    rendered = render(harness, {"modal": BLOCKS, "approval": [approval]})

    assert {name: r["problems"] for name, r in rendered.items()} == {"modal": [], "approval": []}
    html = rendered["modal"]["html"]
    assert '<textarea class="text-input"' in html
    assert 'inputmode="numeric"' in html
    assert 'inputmode="decimal"' in html
    assert '<optgroup label="Common"><option value="UPS">Ups</option>' in html
    assert 'class="text-input ext-query"' in html
    assert 'type="checkbox" name="restock/on" value="restock"' in html
    assert 'type="radio" name="scope/r" value="whole"' in html
    assert "Customer asked" in rendered["approval"]["text"]


def test_meta_text_is_shown_as_text_never_as_a_mention_or_link(harness: Page) -> None:
    [card] = render(harness, {"card": blocks.order_card(_orders()["hostile"], commerce_manager_url=CM)}).values()

    assert "<!channel> <@U123> & <https://evil.example|click>" in card["text"]
    assert 'class="mention' not in card["html"]
    assert "evil.example" not in card["html"].replace("&lt;https://evil.example", "")


def test_everything_the_bot_sent_in_the_scripted_demo_renders(harness: Page, tmp_path: Path) -> None:
    with Demo.start(tmp_path, poll_seconds=1) as demo:
        Scenario(demo, io.StringIO(), timeout=2.0).run()  # whatever passes or fails, render what was sent
        sent: dict[str, list[dict[str, Any]]] = {}
        for n, call in enumerate(demo.slack.calls()):
            args = call["args"]
            if isinstance(args.get("blocks"), list):
                sent[f"{n}:{call['method']}"] = args["blocks"]
            elif isinstance(args.get("text"), str):  # a text-only message is drawn as mrkdwn
                sent[f"{n}:{call['method']}"] = [{"type": "section", "text": {"type": "mrkdwn", "text": args["text"]}}]
            if isinstance(args.get("view"), dict):
                sent[f"{n}:{call['method']}:view"] = args["view"].get("blocks", [])
    assert sent, "the bot sent nothing during the scripted demo"

    problems = {name: r["problems"] for name, r in render(harness, sent).items() if r["problems"]}
    assert problems == {}


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        ("*bold* _italic_ ~struck~ `code`", "<b>bold</b> <i>italic</i> <s>struck</s> <code"),
        ("*Order <https://cm.example/o/1|1>*", '<b>Order <a class="link" href="https://cm.example/o/1"'),
        ("<@U0AGENT1> and <@U0AGENT2>", ">@alice</span> and <span"),
        ("<!subteam^S0ONCALL>", '<span class="mention group-mention">@oncall</span>'),
        ("<!subteam^S0OTHER|@night-shift>", ">@night-shift</span>"),
        ("<!subteam^S0OTHER>", ">@group</span>"),
        ("due <!date^1700000000^{date_short} {time}|14 Nov 2023>", ">Nov 14, 2023 10:13 PM</span>"),
        ("<!date^0^{date_num} {time}|fallback>", ">1970-01-01 12:00 AM</span>"),
        ("&lt;!channel&gt; &amp; &lt;@U1&gt;", "&lt;!channel&gt; &amp; &lt;@U1&gt;"),
        ("&amp;lt;", "&amp;lt;"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("```\nline <b>\n```", '<pre class="pre">line &lt;b&gt;\n</pre>'),
        ("&gt; quoted", '<blockquote class="quote">quoted</blockquote>'),
    ],
)
def test_mrkdwn_is_drawn_as_slack_draws_it(harness: Page, mrkdwn: str, html: str) -> None:
    [result] = render(harness, {"m": [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}]}).values()
    assert result["problems"] == []
    assert html in result["html"]


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"type": "rich_text", "elements": []}, "block type rich_text"),
        ({"type": "actions", "elements": [{"type": "datepicker"}]}, "element type datepicker"),
        (
            {"type": "actions", "elements": [{"type": "static_select", "action_id": "s"}]},
            "static_select s has no options",
        ),
        (
            {"type": "input", "label": {"type": "plain_text", "text": "x"}, "element": {"type": "rich_text_input"}},
            "input element rich_text_input",
        ),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "<!date^x^{date}|f>"}}, "malformed date"),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "<!date^1^{nope}|f>"}}, "unknown date token"),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "<ftp://x>"}}, "unknown control sequence"),
        ({"type": "header"}, "header: missing text object"),
    ],
)
def test_what_the_renderer_cannot_draw_is_reported(harness: Page, block: dict[str, Any], problem: str) -> None:
    [result] = render(harness, {"b": [block]}).values()
    assert any(problem in p for p in result["problems"]), result["problems"]
    expect(harness.locator("body")).to_be_visible()
