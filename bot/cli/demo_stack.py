"""The demo's stack: the Graph sandbox, the Slack sandbox with its console, and the real bot between them.

The bot is built by :func:`bot.runtime.serve.build_server` around :meth:`bot.runtime.services.Services.open`
exactly as ``orderdesk serve --mode http`` builds it, with a fresh sqlite file in a folder of its own (removed when
the stack stops, so two demos side by side never share or delete each other's database). The pieces know each
other only through :class:`Settings` (``SLACK_API_URL`` → the Slack sandbox, ``FB_GRAPH_URL`` → the Graph
sandbox), so what the console shows is what a workspace would see; nothing in the bot knows it is in a demo.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

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

JSON = dict[str, Any]

CHANNEL = "C0ORDERS"
ALICE, BOB, CAROL = "U0AGENT1", "U0AGENT2", "U0AGENT3"
# Alice through the on-call user group (resolved with usergroups.users.list), Bob by id; Carol may only look.
ACK_ALLOWED = ("S0ONCALL", BOB)
# A refund over this total (before tax) waits for a second person; #orders is shared with a partner (Slack
# Connect), so approval requests go to #support.
REFUND_APPROVAL_OVER = Decimal("10")
APPROVAL_CHANNEL = "C0SUPPORT"
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
    actionable: str = ""  # an order whose card offers all four card actions (see :func:`partly_shipped`)

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
        actionable = partly_shipped(graph)
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
                command=ids.ORDER_COMMAND,
                tips=(*tips(*chosen), actions_tip(actionable)),
            )
            console.mount()
            if feed_seconds is not None:
                feed = Worker("demo-order-feed", OrderFeed(graph).tick, feed_seconds)
                feed.start()
                stack.callback(feed.stop)
            yield cls(settings, graph, slack, server, requester, console, chosen, actionable)


def polls_for_new_orders(call: JSON) -> bool:
    """The poller's reads among the Graph calls: its order-list reads, told from the lookups' by their fields."""
    return lists_orders(call) and call.get("params", {}).get("fields") == NOTIFY_FIELDS


def examples(graph: GraphSandbox) -> tuple[str, str, str]:
    """Orders to try: one awaiting acknowledgement, and one with its merchant reference (id, reference)."""
    awaiting = graph.order_ids("CREATED")[0]
    reference_id = graph.order_ids("IN_PROGRESS", with_reference=True)[0]
    return awaiting, reference_id, graph.order(reference_id)["merchant_order_id"]


def partly_shipped(graph: GraphSandbox) -> str:
    """Add an acknowledged order with one unit shipped and two still open: its card offers Mark shipped…, Update
    tracking…, Cancel order… and Refund… together. Its id."""
    placed = graph.add_order(state="IN_PROGRESS", items=[{"quantity": 2}, {"quantity": 1}])
    first = placed["items"]["data"][0]["id"]
    graph.ship(str(placed["id"]), {str(first): 1})
    return str(placed["id"])


def actions_tip(order_id: str) -> str:
    """The tip (mrkdwn) naming the order whose card shows every card action."""
    return (
        f"`/order {order_id}`: one unit shipped, two to go. Its card offers *Mark shipped…*, *Update tracking…*, "
        f"*Cancel order…* and *Refund…*; a refund over {REFUND_APPROVAL_OVER} waits for someone else's *Approve* "
        "in #support."
    )


def tips(awaiting: str, reference_id: str, reference: str) -> tuple[str, ...]:
    """Things to try (mrkdwn, shown at the top of the console's channel), naming orders that exist."""
    return (
        f"*Try* `/order {awaiting}`: an order awaiting acknowledgement. Click *Acknowledge*, even twice: "
        "the Graph panel on the right shows Meta receiving one acknowledgement.",
        f"`/order {reference}`: the same lookup by the shop's own order number (order {reference_id}).",
        f"Write a message such as _my order {awaiting} has not arrived_, then ⋮ → *Look up order*.",
        "Switch to *carol* (left) to see a refused acknowledgement. New orders arrive every ~20 seconds.",
        "`/order pending`: what waits, most urgent first, with its deadline; `/order status`: the integration's "
        "health. Unacknowledged cards get a reminder in their thread after 30 s (with *Snooze*), and the Home tab "
        "shows the queue.",
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
        ship_allowed=ACK_ALLOWED,  # the card actions: the same people (carol is refused, in words)
        cancel_allowed=ACK_ALLOWED,
        refund_allowed=ACK_ALLOWED,
        refund_approval_over=REFUND_APPROVAL_OVER,  # four-eyes refunds: requests go to #support
        approval_channel=APPROVAL_CHANNEL,
        log_level="WARNING",
        http_workers=8,
        # On-call in demo time: reminders after 6 polls, escalations to @oncall after 24 (30 s and 2 min live).
        remind_after_seconds=max(3, 6 * poll),
        escalate_after_seconds=24 * poll,
        oncall_group="S0ONCALL",
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
