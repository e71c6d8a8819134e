"""``orderdesk demo``: the whole bot, offline, in a browser, in one command.

What runs, all on 127.0.0.1 (:mod:`bot.cli.demo_stack`): the Graph sandbox (seeded orders, and a new one every
~20 s, every third held in ``FB_PROCESSING`` first), the Slack sandbox with the console at ``/console``, and the
real bot, built exactly as ``orderdesk serve --mode http`` builds it, with a fresh sqlite file in a folder of its
own under ``./demo/`` (so a ``make demo`` and a ``--scripted`` run side by side never share a database).

``orderdesk demo --scripted`` starts the same stack without a browser (and without the order feed, so the run is
repeatable), plays the fixed scenario of :mod:`bot.cli.scenario` and prints a transcript. It exits 0 only if every
step behaved as expected.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import webbrowser
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from bot import logs
from bot.cli.demo_stack import DEFAULT_PORT, NEW_ORDER_SECONDS, Demo
from bot.cli.scenario import Scenario
from bot.runtime.http import EVENTS_PATH


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
            f"  /order {demo.actionable:<20} Mark shipped…, Update tracking…, Cancel order… and Refund… on one card",
            "  /order pending       the waiting orders, most urgent first, each with its deadline",
            "  /order status        the integration's health (polls, queue, errors, Meta's rate limit, workers)",
            f"  reminders in a card's thread after {demo.settings.remind_after_seconds}s, with Snooze; the Home tab",
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
