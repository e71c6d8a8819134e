"""``orderdesk sync``: one notification poll now, beside or instead of the poller in ``orderdesk serve``.

``--since`` backfills: the pass lists orders changed since then instead of since the watermark. The pass takes
the poller's lock, so it waits for a pass of a running ``serve`` rather than racing it.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import TextIO

from bot.config import ConfigError, Settings
from bot.graph.client import GraphClient
from bot.graph.errors import GraphError
from bot.notify.poller import Notifier, PollResult, _iso
from bot.runtime.services import open_store
from bot.slack.publisher import SlackPublisher


def _since(raw: str) -> float:
    """``--since``: unix seconds, an ISO date or datetime (UTC unless it says otherwise), or ``7d`` / ``12h``."""
    units = {"d": 86400, "h": 3600, "m": 60}
    if raw[-1:] in units and raw[:-1].isdigit():
        return time.time() - int(raw[:-1]) * units[raw[-1]]
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {raw!r} (use 2026-03-01, 2026-03-01T10:00, 7d or 12h)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _progress(stream: TextIO) -> Callable[[PollResult], None]:
    """A one-line live counter on a terminal (Meta gives no total, so it counts rather than fills a bar)."""
    if not stream.isatty():
        return lambda _: None
    spinner = itertools.cycle("|/-\\")

    def show(result: PollResult) -> None:
        stream.write(
            f"\r{next(spinner)} scanned {result.scanned} orders · {result.announced} new · {result.updated} changed"
        )
        stream.flush()

    return show


def main(argv: Sequence[str]) -> int:
    """Exit 0 when the poll finished everything, 1 when Meta could not be read or an order failed, 2 for bad
    settings."""
    parser = argparse.ArgumentParser(prog="orderdesk sync", description="Run one notification poll now.")
    parser.add_argument(
        "--since", type=_since, help="backfill: orders changed since then (unix time, 2026-03-01[T10:00], 7d, 12h)"
    )
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between Slack messages per channel (default 1, Slack's limit)"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.notify_channel:
        print("orderdesk sync: set ORDERDESK_NOTIFY_CHANNEL (a channel id such as C0123456789)", file=sys.stderr)
        return 2
    with GraphClient.from_settings(settings) as graph, closing(open_store(settings)) as store:
        notifier = Notifier(settings, graph, store, SlackPublisher.from_settings(settings, pace=args.pace))
        try:
            result = notifier.poll(since=args.since, progress=_progress(sys.stderr))
        except GraphError as exc:
            print(f"orderdesk sync: Meta could not be read: {exc}", file=sys.stderr)
            return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    print(
        f"scanned {result.scanned} orders: announced {result.announced} ({result.digests} digests), "
        f"updated {result.updated}, recovered {result.recovered}, failed {result.failed}; "
        f"watermark {_iso(result.watermark) or 'unchanged'}"
    )
    return 1 if result.failed else 0
