"""What ``/order find`` understands (an email, a phone or a name, then ``since:14d``) and what it says back.

The words never repeat what was searched for: it is a buyer's personal data, and answers end up in screenshots.
"""

from __future__ import annotations

import re

from bot.domain.buyer_search import query_kind
from bot.lookup.export import DAY_SECONDS, window_words
from bot.lookup.find import FindRequest
from bot.slack.window import NotADuration, window_seconds

DEFAULT_SINCE_SECONDS = 14 * DAY_SECONDS
_SINCE = re.compile(r"(?:^|\s)since:(\S*)\s*$", re.IGNORECASE)

USAGE = (
    "Usage: `/order find <email | phone | name> [since:14d]`, for example `/order find ana@example.com` or "
    "`/order find Ana Díaz since:30d`. `since:` is how far back to look by last update, in hours or days "
    "(`since:36h`, `since:30d`): 14 days unless given, 90 days at most."
)
NOT_CONFIGURED = (
    "Finding orders by buyer is not configured here: an admin sets `ORDERDESK_SEARCH_KEY` (a random secret of at "
    "least 16 characters) and restarts orderdesk. Until then, look orders up by number with `/order <number>`."
)
RELAY_NOTE = (
    "Meta may hide a buyer's real email behind a relay address (…@marketplace.facebook.com): if an email finds "
    "nothing, search by the buyer's name."
)


class FindUsage(ValueError):
    """The arguments could not be read; the message says what was wrong, then how to write them."""


def parse_find(text: str) -> FindRequest:
    """The request for the text after ``/order find``; :class:`FindUsage` in words for anything else."""
    since = DEFAULT_SINCE_SECONDS
    match = _SINCE.search(text)
    if match:
        since = _since(match.group(1))
        text = text[: match.start()]
    kind = query_kind(text)
    if kind is None:
        raise FindUsage(f"Tell me a buyer's email, phone number or name to look for. {USAGE}")
    return FindRequest(kind=kind, text=text.strip(), since_seconds=since)


def _since(value: str) -> int:
    try:
        return window_seconds(value, units="hd")
    except NotADuration:
        raise FindUsage(f"`since:` takes a duration such as `14d` or `36h`. {USAGE}") from None
    except ValueError as error:
        raise FindUsage(f"{error} {USAGE}") from None


def find_summary(request: FindRequest, matches: int, shown: int) -> str:
    """One paragraph, the same whether anything matched: how many, over which window, what was searched."""
    window = window_words(request.since_seconds)
    if matches == 0:
        found = f"No order updated in the last {window} has a buyer with that {request.kind}."
    else:
        orders = "order" if matches == 1 else "orders"
        found = f"{matches} {orders} updated in the last {window} matched that {request.kind}"
        found += "." if shown == matches else f"; the {shown} most recently updated are shown."
    covered = (
        "I searched the buyers of the orders orderdesk has looked up (each `/order` lookup indexes its order's "
        "buyer), not the rest of Meta's list."
    )
    return f"{found} {covered} {RELAY_NOTE}"
