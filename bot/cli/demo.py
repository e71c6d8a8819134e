"""``orderdesk demo``: the whole bot, offline, in a browser, in one command.

What runs, all on 127.0.0.1: the Graph sandbox (seeded orders, and a new one every ~20 s, every third held in
``FB_PROCESSING`` first), the Slack sandbox with the console at ``/console``, and the real bot, built by
:func:`bot.runtime.serve.build_server` around :meth:`bot.runtime.services.Services.open` exactly as
``orderdesk serve --mode http``
builds it, with a fresh sqlite file in a folder of its own under ``./demo/`` (removed when it stops, so two demos
side by side, say a ``make demo`` and a ``--scripted`` run, never share or delete each other's database). The
pieces know each other only through :class:`Settings` (``SLACK_API_URL`` → the Slack sandbox, ``FB_GRAPH_URL`` →
the Graph sandbox), so what the console shows is what a workspace would see; nothing in the bot knows it is in a
demo.

``orderdesk demo --scripted`` starts the same stack without a browser (and without the order feed, so the run is
repeatable), plays a fixed scenario through the signed-request client and prints a transcript. It exits 0 only
if every step behaved as expected: a step whose feature is missing fails, it is never skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot import logs
from bot.config import Settings
from bot.notify.poller import NOTIFY_FIELDS
from bot.runtime.http import EVENTS_PATH
from bot.runtime.serve import HttpServer, build_server
from bot.runtime.services import Services
from bot.runtime.workers import Worker
from bot.sandbox.console import Agent, Console, lists_orders
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import parse_ack_value

JSON = dict[str, Any]

CHANNEL = "C0ORDERS"
ALICE, BOB, CAROL = "U0AGENT1", "U0AGENT2", "U0AGENT3"
# Alice through the on-call user group (resolved with usergroups.users.list), Bob by id; Carol may only look.
ACK_ALLOWED = ("S0ONCALL", BOB)
AGENTS = (Agent(ALICE, "on call"), Agent(BOB), Agent(CAROL, "not allowed to acknowledge"))
MERCHANT_REF_TEMPLATE = "SHOP-{order_id}"
DEFAULT_PORT = 8800
NEW_ORDER_SECONDS = 20.0
SEEDED_ORDERS = 40
ANSWER_TIMEOUT = 10.0  # for the bot's answers in the scripted run: generous, the checks never depend on speed


@dataclass(frozen=True)
class Demo:
    """A running demo stack; :meth:`start` builds it and stops everything, in reverse order, on exit."""

    settings: Settings
    graph: GraphSandbox
    slack: SlackSandbox
    server: HttpServer
    requester: SlackRequester
    console: Console
    examples: tuple[str, str, str]  # chosen before the order feed starts, so the tips and the banner agree

    @property
    def console_url(self) -> str:
        return f"{self.slack.url}/console"

    @classmethod
    @contextmanager
    def start(
        cls, directory: Path, *, port: int = 0, poll_seconds: int = 5, feed_seconds: float | None = None
    ) -> Iterator[Demo]:
        """Start the stack with a fresh database in a new folder inside ``directory``, removed when the stack
        stops; ``port`` is the console's (0: any free one).

        ``feed_seconds`` starts the order feed (a new order at that interval); None leaves the orders as seeded.
        """
        graph = GraphSandbox(orders=SEEDED_ORDERS)
        slack = SlackSandbox()
        with ExitStack() as stack:
            database = stack.enter_context(_run_folder(directory)) / "orderdesk.db"
            graph_server = graph.serve()
            stack.callback(graph_server.stop)
            stack.callback(slack.serve(port=port).stop)
            settings = demo_settings(graph, slack, graph_server.url, database, poll_seconds)
            services = stack.enter_context(Services.open(settings))
            server = build_server(settings, services)
            stack.enter_context(server)
            requester = stack.enter_context(SlackRequester(slack, server.url + EVENTS_PATH, DEFAULT_SIGNING_SECRET))
            chosen = examples(graph)
            console = Console(
                slack,
                requester,
                graph_calls=graph.calls,
                is_poller_read=polls_for_new_orders,
                channel=CHANNEL,
                agents=AGENTS,
                tips=tips(*chosen),
            )
            console.mount()
            if feed_seconds is not None:
                feed = Worker("demo-order-feed", OrderFeed(graph).tick, feed_seconds)
                feed.start()
                stack.callback(feed.stop)
            yield cls(settings, graph, slack, server, requester, console, chosen)


def polls_for_new_orders(call: JSON) -> bool:
    """The poller's reads among the Graph calls: its order-list reads, told from the lookups' by their fields."""
    return lists_orders(call) and call.get("params", {}).get("fields") == NOTIFY_FIELDS


def examples(graph: GraphSandbox) -> tuple[str, str, str]:
    """Orders to try: one awaiting acknowledgement, and one with its merchant reference (id, reference)."""
    awaiting = graph.order_ids("CREATED")[0]
    reference_id = graph.order_ids("IN_PROGRESS", with_reference=True)[0]
    return awaiting, reference_id, graph.order(reference_id)["merchant_order_id"]


def tips(awaiting: str, reference_id: str, reference: str) -> tuple[str, ...]:
    """Things to try (mrkdwn, shown at the top of the console's channel), naming orders that exist."""
    return (
        f"*Try* `/order {awaiting}`: an order awaiting acknowledgement. Click *Acknowledge*, even twice: "
        "the Graph panel on the right shows Meta receiving one acknowledgement.",
        f"`/order {reference}`: the same lookup by the shop's own order number (order {reference_id}).",
        f"Write a message such as _my order {awaiting} has not arrived_, then ⋮ → *Look up order*.",
        "Switch to *carol* (left) to see a refused acknowledgement. New orders arrive every ~20 seconds.",
    )


def demo_settings(graph: GraphSandbox, slack: SlackSandbox, graph_url: str, database: Path, poll: int) -> Settings:
    """The settings a deployment would put in its environment, pointing at the sandboxes instead."""
    return sandbox_settings(
        graph,
        graph_url,
        slack,
        database,
        notify_channel=CHANNEL,
        poll_seconds=poll,
        merchant_ref_template=MERCHANT_REF_TEMPLATE,
        ack_allowed=ACK_ALLOWED,
        log_level="WARNING",
        http_workers=8,
    )


@contextmanager
def _run_folder(directory: Path) -> Iterator[Path]:
    """A new, empty folder for one run inside ``directory``, removed with everything in it afterwards.

    Each run owns its folder, so starting a demo never touches a database another demo is using.
    """
    directory.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=directory))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class OrderFeed:
    """Orders arriving at Meta while the demo runs: one a tick, every third one held in ``FB_PROCESSING`` (Meta's
    processing hold, when the bot must not announce it yet) and released to ``CREATED`` at the next tick."""

    def __init__(self, graph: GraphSandbox) -> None:
        self._graph = graph
        self._held: list[str] = []
        self._count = 0

    def tick(self) -> None:
        for order_id in self._held:
            self._graph.advance(order_id, "CREATED")
        self._held.clear()
        self._count += 1
        state = "FB_PROCESSING" if self._count % 3 == 0 else "CREATED"
        order = self._graph.add_order(state=state)
        if state == "FB_PROCESSING":
            self._held.append(order["id"])


# ---------------------------------------------------------------------- the scripted scenario


class StepFailed(Exception):
    """A scenario step did not behave as expected; the message says what happened instead."""


class Scenario:
    """The fixed walk-through of ``--scripted``: each step plays Slack towards the bot and checks the outcome in
    the sandboxes' records (what Slack would show, what Meta received), never in the bot's internals."""

    def __init__(self, demo: Demo, out: TextIO, *, timeout: float = ANSWER_TIMEOUT) -> None:
        self.demo = demo
        self.slack = demo.slack
        self.graph = demo.graph
        self.out = out
        self.timeout = timeout
        self.cards: dict[str, JSON] = {}  # what earlier steps produced for later ones
        created = self.graph.order_ids("CREATED")
        self.awaiting, self.for_carol, self.for_modal = created[0], created[1], created[2]
        _, self.reference_id, self.reference = examples(self.graph)
        self.completed = self.graph.order_ids("COMPLETED")[0]

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("Look up an order by its Facebook order ID", self.lookup_by_id),
            ("Look up an order by the shop's merchant reference", self.lookup_by_reference),
            ("Look up order from a message (message shortcut)", self.message_shortcut),
            ("Double-click Acknowledge: Meta receives one acknowledgement", self.double_click),
            ("An agent who may not acknowledge is refused", self.refused),
            ("Acknowledge with reference: the modal rejects a blank reference", self.reference_modal),
            ("A new order is announced in #orders", self.notification),
            ("Acknowledging from the notification updates it", self.notification_update),
        ]

    def run(self) -> bool:
        steps = self.steps()
        failed: list[str] = []
        self._say(
            f"orderdesk demo --scripted: {len(steps)} steps against the sandboxes (console at {self.demo.console_url})"
        )
        for number, (title, step) in enumerate(steps, 1):
            self._say(f"\n{number}. {title}")
            try:
                self._say(f"   ✓ {step()}")
            except StepFailed as exc:
                failed.append(f"{number}. {title}")
                self._say(f"   ✗ FAILED: {exc}")
            except Exception as exc:  # a crash in one step must not hide the others' results
                failed.append(f"{number}. {title}")
                self._say(f"   ✗ FAILED with {type(exc).__name__}: {exc}")
        self._say(f"\n{len(steps) - len(failed)} of {len(steps)} steps passed.")
        for title in failed:
            self._say(f"   failed: {title}")
        return not failed

    # ------------------------------------------------------------------ steps

    def lookup_by_id(self) -> str:
        mark = self._graph_seq()
        self.cards["awaiting"] = card = self._lookup(ALICE, self.awaiting, self.awaiting)
        requests = len(self.graph.calls(since=mark))
        return f"a card for order {self.awaiting} ({_state_of(card)}), from {requests} Graph request(s)"

    def lookup_by_reference(self) -> str:
        card = self._lookup(BOB, self.reference, self.reference_id)
        return f"{self.reference} is order {self.reference_id} ({_state_of(card)})"

    def message_shortcut(self) -> str:
        text = f"Buyer says: my order {self.completed} never arrived, can someone check?"
        message = self.slack.post_as_user(CHANNEL, text, BOB)
        self._say(f"   bob posts: {text}")
        self._say("   bob: ⋮ → Look up order")
        seen = self._ephemeral_ts(BOB)
        self._check_ack(self.demo.requester.message_shortcut(message, channel=CHANNEL, user=BOB))
        card = self._card_answer(BOB, seen, self.completed)
        return f"found order {self.completed} in the message ({_state_of(card)})"

    def double_click(self) -> str:
        card = self._needs("awaiting", "the card from step 1")
        value, block_id = self._button(card, ids.ACK)
        mark, answers_before = self._graph_seq(), self._answer_count(ALICE)
        self._say("   alice double-clicks Acknowledge (two signed block_actions, same button value)")
        with ThreadPoolExecutor(max_workers=2) as pool:
            clicks = list(pool.map(lambda _: self._click(ALICE, ids.ACK, value, card["message_ts"], block_id), [1, 2]))
        updated = self._wait(
            lambda: _acknowledged(self._ephemeral(ALICE, card["message_ts"])), "the card to show the acknowledgement"
        )
        self._wait(lambda: self._answer_count(ALICE, clicks) - answers_before >= 2, "an answer to each click")
        self._say(f"   orderdesk updates the card: {_summary(updated)}")
        acks = self._acks(self.awaiting, mark)
        order = self.graph.order(self.awaiting)
        expected = MERCHANT_REF_TEMPLATE.format(order_id=self.awaiting)
        if len(acks) != 1:
            raise StepFailed(f"Meta received {len(acks)} acknowledgements of order {self.awaiting}, not 1")
        if order["order_status"]["state"] != "IN_PROGRESS" or order.get("merchant_order_id") != expected:
            raise StepFailed(
                f"order {self.awaiting} is {order['order_status']['state']} with "
                f"reference {order.get('merchant_order_id')}, not IN_PROGRESS with {expected}"
            )
        return f"2 clicks, 1 acknowledge_order at Meta; order {self.awaiting} is IN_PROGRESS with reference {expected}"

    def refused(self) -> str:
        card = self._lookup(CAROL, self.for_carol, self.for_carol)
        value, block_id = self._button(card, ids.ACK)
        mark = self._graph_seq()
        self._say("   carol clicks Acknowledge")
        self._click(CAROL, ids.ACK, value, card["message_ts"], block_id)
        answer = self._wait(
            lambda: next((e for e in self._ephemerals(CAROL) if "not allowed" in _all_text(e)), None),
            "an answer saying carol is not allowed to acknowledge",
        )
        self._say(f"   orderdesk → carol: {_summary(answer)}")
        if self._acks(self.for_carol, mark):
            raise StepFailed(f"Meta received an acknowledgement of order {self.for_carol} from carol's click")
        return "refused, and nothing was sent to Meta"

    def reference_modal(self) -> str:
        card = self._lookup(ALICE, self.for_modal, self.for_modal)
        value, block_id = self._button(card, ids.ACK_WITH_REF)
        known = {v["id"] for v in self.slack.views(user=ALICE)}
        mark = self._graph_seq()
        self._say("   alice clicks Acknowledge with reference…")
        self._click(ALICE, ids.ACK_WITH_REF, value, card["message_ts"], block_id)
        view = self._wait(
            lambda: next((v for v in self.slack.views(user=ALICE) if v["id"] not in known and v["open"]), None),
            "a modal to open",
        )
        field = next((b for b in view.get("blocks", []) if b.get("type") == "input"), None)
        if field is None:
            raise StepFailed("the modal has no input for the reference")
        self._say("   alice submits it with a blank reference")
        blank = {field["block_id"]: {field["element"]["action_id"]: {"type": "plain_text_input", "value": "   "}}}
        self._check_ack(self.demo.requester.view_submission(view, blank, user=ALICE))
        shown = self.slack.view(view["id"])
        error = (shown.get("errors") or {}).get(field["block_id"])
        if not shown["open"] or not error:
            raise StepFailed("the modal did not show an inline error for the blank reference")
        self._say(f"   the modal shows under the input: {error}")
        if self._acks(self.for_modal, mark):
            raise StepFailed(f"Meta received an acknowledgement of order {self.for_modal} with a blank reference")
        return "inline error shown, the modal stays open, nothing was sent to Meta"

    def notification(self) -> str:
        order = self.graph.add_order(items=2)
        self._say(f"   Meta: new order {order['id']} (CREATED)")
        poll = self.demo.settings.poll_seconds
        message = self._wait(
            lambda: next((m for m in self.slack.messages(CHANNEL) if _card_of(m, order["id"])), None),
            f"a card for order {order['id']} in #orders",
            timeout=3 * poll + self.timeout,
        )
        self.cards["notification"] = message
        self._say(f"   orderdesk in #orders: {_summary(message)}")
        return f"announced with its Acknowledge buttons (poll every {poll}s)"

    def notification_update(self) -> str:
        message = self._needs("notification", "the notification from step 7")
        order_id = _card_of(message, None) or ""
        value, block_id = self._button(message, ids.ACK)
        mark = self._graph_seq()
        self._say("   bob clicks Acknowledge on the card in #orders")
        self._click(BOB, ids.ACK, value, message["ts"], block_id)
        updated = self._wait(
            lambda: _acknowledged(self.slack.message(CHANNEL, message["ts"])), "the card in #orders to be updated"
        )
        self._say(f"   orderdesk updates it in place: {_summary(updated)}")
        for reply in self.slack.messages(CHANNEL, thread_ts=message["ts"])[1:]:
            self._say(f"   in the thread: {_summary(reply)}")
        acks = self._acks(order_id, mark)
        if len(acks) != 1:
            raise StepFailed(f"Meta received {len(acks)} acknowledgements of order {order_id}, not 1")
        return "the channel's card shows who acknowledged it, its buttons are gone"

    # ------------------------------------------------------------------ playing Slack

    def _lookup(self, user: str, query: str, order_id: str) -> JSON:
        self._say(f"   {_name(user)}: /order {query}")
        seen = self._ephemeral_ts(user)
        self._check_ack(self.demo.requester.slash_command(query, user=user, channel=CHANNEL))
        return self._card_answer(user, seen, order_id)

    def _card_answer(self, user: str, seen: set[str], order_id: str) -> JSON:
        """The card for ``order_id`` among ``user``'s new ephemeral messages; fails quoting what did arrive."""
        try:
            card: JSON = self._wait(
                lambda: next(
                    (e for e in self._ephemerals(user) if e["message_ts"] not in seen and _card_of(e, order_id)), None
                ),
                f"a card for order {order_id}",
            )
        except StepFailed:
            answers = [_summary(e) for e in self._ephemerals(user) if e["message_ts"] not in seen]
            said = "; ".join(answers) if answers else "nothing"
            raise StepFailed(f"no card for order {order_id}; orderdesk answered: {said}") from None
        self._say(f"   orderdesk → {_name(user)} (only visible to you): {_summary(card)}")
        return card

    def _click(self, user: str, action_id: str, value: str, message_ts: str, block_id: str | None) -> str | None:
        sent = self.demo.requester.block_action(
            action_id, value, user=user, channel=CHANNEL, message_ts=message_ts, block_id=block_id
        )
        self._check_ack(sent)
        return sent.response_url

    def _check_ack(self, sent: Any) -> None:
        if sent.response.status_code != 200:
            raise StepFailed(f"orderdesk answered HTTP {sent.response.status_code} instead of acknowledging")

    def _button(self, message: JSON, action_id: str) -> tuple[str, str | None]:
        for block in message.get("blocks", []):
            for element in block.get("elements", []):
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return str(element.get("value", "")), block.get("block_id")
        raise StepFailed(f"the card has no {action_id} button: {_summary(message)}")

    def _needs(self, name: str, what: str) -> JSON:
        card = self.cards.get(name)
        if card is None:
            raise StepFailed(f"needs {what}, which did not come")
        return card

    # ------------------------------------------------------------------ reading the sandboxes

    def _ephemerals(self, user: str) -> list[JSON]:
        return self.slack.ephemerals(user=user, channel=CHANNEL)

    def _ephemeral_ts(self, user: str) -> set[str]:
        return {e["message_ts"] for e in self._ephemerals(user)}

    def _ephemeral(self, user: str, message_ts: str) -> JSON | None:
        return next((e for e in self._ephemerals(user) if e["message_ts"] == message_ts), None)

    def _answer_count(self, user: str, response_urls: Sequence[str | None] = ()) -> int:
        """Answers ``user`` got: posts to these response URLs plus ephemeral messages posted to them."""
        posted = sum(len(self.slack.responses(url)) for url in response_urls if url)
        direct = [c for c in self.slack.calls("chat.postEphemeral") if c["args"].get("user") == user]
        return posted + len(direct)

    def _graph_seq(self) -> int:
        calls = self.graph.calls()
        return int(calls[-1]["seq"]) if calls else 0

    def _acks(self, order_id: str, since: int) -> list[JSON]:
        """acknowledge_order calls for the order, and acknowledge_orders batches naming it, after ``since``."""
        return [
            c
            for c in self.graph.calls(since=since)
            if c["method"] == "POST"
            and (
                c["path"].endswith(f"/{order_id}/acknowledge_order")
                or (c["path"].endswith("/acknowledge_orders") and order_id in str(c["params"]))
            )
        ]

    def _wait(self, predicate: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
        try:
            return self.slack.wait_for(predicate, timeout=self.timeout if timeout is None else timeout)
        except AssertionError:
            raise StepFailed(f"waited {self.timeout if timeout is None else timeout:g}s for {what}") from None

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


# ---------------------------------------------------------------------- reading messages like a person


def _texts(value: Any) -> Iterator[str]:
    """Every ``text`` string in a message or its blocks, in reading order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            elif key not in ("value", "url", "action_id", "block_id", "metadata"):
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _all_text(message: JSON | None) -> str:
    return " ".join(_plain(t) for t in _texts(message or {}))


def _plain(mrkdwn: str) -> str:
    """mrkdwn as a person reads it: dates as their fallback, mentions as @name, links as their label."""
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", mrkdwn)
    text = re.sub(r"<@(\w+)>", lambda m: "@" + _name(m[1]), text)
    text = re.sub(r"<!subteam\^(\w+)(?:\|([^>]*))?>", lambda m: m[2] or "@" + m[1], text)
    text = re.sub(r"<[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"[*`]|(?<!\w)[_~]|[_~](?!\w)", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _summary(message: JSON | None) -> str:
    """One line: the header or first text, context lines, and the buttons as [labels]."""
    if not message:
        return "(nothing)"
    blocks = message.get("blocks") or []
    parts: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "context") or (kind == "section" and not parts):
            parts.append(_all_text({"blocks": [block]}))
        elif kind == "actions":
            parts.append(" ".join(f"[{_all_text(e.get('text'))}]" for e in block.get("elements", [])))
    line = " · ".join(p for p in parts if p) or _plain(str(message.get("text", "")))
    line = " ".join(line.replace("\n", " · ").split())
    return line if len(line) <= 240 else line[:239] + "…"


def _state_of(card: JSON) -> str:
    match = re.search(r"\*State\*\n([A-Z_]+)", json.dumps(card.get("blocks", [])).replace("\\n", "\n"))
    return match[1] if match else "state not shown"


def _card_of(message: JSON | None, order_id: str | None) -> str | None:
    """The order a message is a card for (its header or its Acknowledge button), if it is ``order_id``'s."""
    if not message:
        return None
    for block in message.get("blocks") or []:
        if block.get("type") == "header":
            found = re.fullmatch(r"Order (\d+)", str(block.get("text", {}).get("text", "")))
            if found and order_id in (None, found[1]):
                return found[1]
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == ids.ACK:
                with contextlib.suppress(ValueError):
                    found_id = parse_ack_value(str(element.get("value")))[0]
                    if order_id in (None, found_id):
                        return found_id
    return None


def _acknowledged(message: JSON | None) -> JSON | None:
    """The message if it says the order was acknowledged and offers no Acknowledge button any more."""
    if not message or "acknowledged by" not in _all_text(message).lower():
        return None
    buttons = [e for b in message.get("blocks", []) for e in b.get("elements", []) if isinstance(e, dict)]
    return None if any(e.get("action_id") == ids.ACK for e in buttons) else message


def _name(user_id: str) -> str:
    return {ALICE: "alice", BOB: "bob", CAROL: "carol"}.get(user_id, user_id)


# ---------------------------------------------------------------------- the command


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The command line of ``orderdesk demo`` (the README documents each flag; a test holds them together)."""
    parser = argparse.ArgumentParser(
        prog="orderdesk demo",
        description="Run orderdesk offline: Meta's Order Management API and Slack simulated on 127.0.0.1, "
        "with a browser console that behaves like a Slack channel.",
    )
    parser.add_argument("--scripted", action="store_true", help="no browser: run a fixed scenario, print a transcript")
    parser.add_argument("--port", type=int, help=f"the console's port (default {DEFAULT_PORT}; scripted: any free)")
    parser.add_argument("--no-browser", action="store_true", help="do not open the console in a browser")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("demo"),
        help="where each run makes its own folder for its database, removed when it stops (default ./demo)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parse_args(argv)
    handler = logs.configure_logging("WARNING")
    try:
        if args.scripted:
            with Demo.start(args.dir, port=args.port or 0, poll_seconds=1) as demo:
                return 0 if Scenario(demo, sys.stdout).run() else 1
        return _interactive(args)
    finally:
        logging.getLogger().removeHandler(handler)


def _interactive(args: argparse.Namespace) -> int:
    port = DEFAULT_PORT if args.port is None else args.port
    with ExitStack() as stack:
        try:
            demo = stack.enter_context(Demo.start(args.dir, port=port, feed_seconds=NEW_ORDER_SECONDS))
        except OSError as exc:
            print(
                f"orderdesk demo: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                "choose another port with --port N (0: any free port)",
                file=sys.stderr,
            )
            return 2
        print(_banner(demo), flush=True)
        if not args.no_browser:
            webbrowser.open(demo.console_url)
        _wait_for_stop()
        print("\nstopping: finishing requests in flight…", flush=True)
    print("stopped", flush=True)
    return 0


def _banner(demo: Demo) -> str:
    awaiting, reference_id, reference = demo.examples
    return "\n".join(
        [
            "orderdesk demo is running. Press Ctrl-C to stop.",
            "",
            f"  Console    {demo.console_url}",
            f"  Bot        {demo.server.url}{EVENTS_PATH}  (health: {demo.server.url}/healthz)",
            f"  Graph API  {demo.settings.fb_graph_url}  (Meta's Order Management API, simulated)",
            f"  Database   {demo.settings.db_path}",
            "",
            "Things to try in the console:",
            f"  /order {awaiting:<20} an order awaiting acknowledgement: click Acknowledge (twice, if you like)",
            f"  /order {reference:<20} lookup by the shop's own order number (order {reference_id})",
            f"  a message like 'my order {awaiting} is late', then ⋮ → Look up order",
            "  switch to carol (not allowed to acknowledge) and click Acknowledge",
            f"  new orders arrive every ~{NEW_ORDER_SECONDS:.0f}s and are announced in #orders",
        ]
    )


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM, then restore the previous handlers."""
    stopping = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stopping.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopping.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
