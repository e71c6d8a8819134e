"""``orderdesk reindex``: rebuild the buyer search index after ``ORDERDESK_SEARCH_KEY`` changed.

The index holds keyed hashes, so hashes made with the old key match nothing a search makes with the new one, and
the spans earlier scans covered would stop ``/order find`` from reading those orders again. ``reindex`` drops every
hash and every covered span, then reads the window (``--since``, 14 days unless given) from Meta again with the
new key, printing its progress; older orders are read when a search's window reaches them. ``--forget-only`` drops
and stops there: the next search reads its window from Meta instead. It runs beside ``orderdesk serve``: the drop
and the re-read hold the searches' scan lock together, so a scan in progress finishes first (and is dropped with
the rest), and a search during the re-read waits for it and then finds the window covered. Without
``reindex``, the first search after the key changed notices it (a fingerprint of the key is kept with the index)
and does the same for its own window, while the agent waits.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from bot.config import ConfigError, Settings
from bot.durations import NotADuration, duration_seconds, duration_words
from bot.graph.client import GraphClient
from bot.lookup.find import rebuild_buyer_index
from bot.storage.sqlite.store import Store

DAY_SECONDS = 86_400
DEFAULT_SINCE_SECONDS = 14 * DAY_SECONDS
MAX_SINCE_SECONDS = 90 * DAY_SECONDS  # the widest window /order find searches
PRINT_EVERY_PAGES = 10  # without a terminal, one progress line per this many pages


def _since(raw: str) -> int:
    try:
        seconds = duration_seconds(raw, units="hd", bare_is_seconds=False)
    except NotADuration:
        raise argparse.ArgumentTypeError(f"not a duration: {raw!r} (use 14d or 36h)") from None
    if not 0 < seconds <= MAX_SINCE_SECONDS:
        raise argparse.ArgumentTypeError(f"{raw!r}: between 1h and 90d")
    return seconds


def _progress(stream: TextIO) -> Callable[[int], None]:
    """A live page count on a terminal; a line every :data:`PRINT_EVERY_PAGES` pages in a log."""
    tty = stream.isatty()

    def show(pages: int) -> None:
        if tty:
            stream.write(f"\rreading Meta: page {pages}")
            stream.flush()
        elif pages % PRINT_EVERY_PAGES == 0:
            print(f"reading Meta: page {pages}", file=stream, flush=True)

    return show


def main(argv: Sequence[str]) -> int:
    """Exit 0 when the index was rebuilt (or, with ``--forget-only``, dropped), 1 when Meta could not be read, 2 for
    bad settings."""
    parser = argparse.ArgumentParser(
        prog="orderdesk reindex",
        description="Rebuild /order find's buyer index with the current ORDERDESK_SEARCH_KEY.",
    )
    parser.add_argument(
        "--since",
        type=_since,
        default=DEFAULT_SINCE_SECONDS,
        help="re-read the orders updated in this window from Meta (14d unless given, 90d at most)",
    )
    parser.add_argument(
        "--forget-only",
        action="store_true",
        help="drop the hashes and the remembered coverage only: the next /order find reads Meta instead",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.search_key:
        print(
            "orderdesk reindex: set ORDERDESK_SEARCH_KEY (a random secret of at least 16 characters, e.g. "
            "`openssl rand -hex 32`): the index is rebuilt with it",
            file=sys.stderr,
        )
        return 2
    window = duration_words(args.since)

    def dropped(count: int) -> None:
        print(f"dropped the search hashes of {count} orders and forgot which updates earlier scans had read")

    with Store(settings.db_path, search_key=settings.search_key) as store:
        if args.forget_only:
            rebuild_buyer_index(None, store, 0, 0, key=settings.search_key, dropped=dropped)
            print("the next /order find reads its window from Meta and indexes it with the current key")
            return 0
        with GraphClient.from_settings(settings) as graph:
            now = time.time()
            scanned = rebuild_buyer_index(
                graph,
                store,
                now - args.since,
                now,
                key=settings.search_key,
                dropped=dropped,
                progress=_progress(sys.stderr),
            )
    if sys.stderr.isatty() and scanned.pages:
        print(file=sys.stderr)  # end the progress line
    if scanned.error is not None:
        print(
            f"orderdesk reindex: Meta could not be read after {scanned.pages} pages: {scanned.error}. The old "
            "hashes are gone; run reindex again, or let /order find read its window from Meta.",
            file=sys.stderr,
        )
        return 1
    print(
        f"indexed the buyers of {scanned.orders} orders updated in the last {window} ({scanned.pages} pages read "
        "from Meta); older orders are read when a search's window reaches them"
    )
    return 0
