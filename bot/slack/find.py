"""What ``/order find`` understands (an email, a phone or a name, then ``since:14d``) and what it says back.

The words never repeat what was searched for: it is a buyer's personal data, and answers end up in screenshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.domain import problems
from bot.domain.buyer_search import query_kind
from bot.domain.text import clip, escape
from bot.graph.client import GraphError, RateLimitedError
from bot.lookup.export import DAY_SECONDS
from bot.lookup.find import FindRequest, FindResult
from bot.slack.window import NotADuration, window_seconds

DEFAULT_SINCE_SECONDS = 14 * DAY_SECONDS
RESPONSE_URL_POSTS = 5  # what Slack allows a response URL (within 30 minutes)
# When each progress post may go out, in seconds since the search began: a scan that ends within the first is
# answered with no progress at all, and a long one keeps saying how far it got, ever less often. Four of the
# response URL's five posts at most, so the answer always keeps one.
PROGRESS_AT_SECONDS = (3.0, 10.0, 30.0, 90.0)
PROGRESS_AFTER_SECONDS = PROGRESS_AT_SECONDS[0]
PROGRESS_UPDATES = len(PROGRESS_AT_SECONDS)
WAITING = "Another search is reading Meta; searching again when it finishes…"
_SINCE = re.compile(r"(?:^|(?<=\s))since:(\S*)(?=\s|$)", re.IGNORECASE)

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
    found = list(_SINCE.finditer(text))
    if len(found) > 1:
        raise FindUsage(f"`since:` is given twice. {USAGE}")
    if found:  # anywhere among the words: `since:7d Ana Díaz` as well as `Ana Díaz since:7d`
        match = found[0]
        since = _since(match.group(1))
        text = " ".join(f"{text[: match.start()]} {text[match.end() :]}".split())
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


def find_summary(result: FindResult, kind: str, shown: int) -> str:
    """One paragraph, the same whether anything matched: how many, over which window, how much of the window came
    from orderdesk's index and how much was read from Meta just now, never what was searched for."""
    window, matches = span_words(result.window_seconds), len(result.matches)
    if matches == 0:
        found = f"No order updated in the last {window} has a buyer with that {kind}."
    else:
        orders = "order" if matches == 1 else "orders"
        found = f"{matches} {orders} updated in the last {window} matched that {kind}"
        found += "." if shown == matches else f"; the {shown} most recently updated are shown."
    return f"{found} {coverage_words(result)} {RELAY_NOTE}"


def coverage_words(result: FindResult) -> str:
    """ "Searched orders updated in the last 14 days: 12 days from orderdesk's index, 2 days read from Meta just now
    (3 pages)."", with the part a failed read of Meta left out, and why."""
    scanned = result.scanned
    parts: list[str] = []
    if scanned.indexed_seconds >= 1:
        parts.append(f"{span_words(scanned.indexed_seconds)} from orderdesk's index")
    if scanned.seconds >= 1 or scanned.pages:
        pages = "page" if scanned.pages == 1 else "pages"
        parts.append(f"{span_words(scanned.seconds)} read from Meta just now ({scanned.pages} {pages})")
    if result.recent_seconds >= 1:
        parts.append(
            f"the last {span_words(result.recent_seconds)} from the index alone (Meta is read for them once they "
            "are a minute old)"
        )
    if scanned.error is not None:
        parts.append(f"{span_words(scanned.missed_seconds)} not searched: {scan_failure_words(scanned.error)}")
    elif scanned.busy and scanned.missed_seconds >= 1:
        parts.append(
            f"{span_words(scanned.missed_seconds)} not searched: another search was still reading Meta, search "
            "again in a minute"
        )
    searched = f"Searched orders updated in the last {span_words(result.window_seconds)}: {', '.join(parts)}."
    if scanned.rekeyed:
        searched += " (The search key changed since the last search, so orderdesk's index was read again from Meta.)"
    return searched


def span_words(seconds: float) -> str:
    """A stretch of time in the largest unit it has two of, rounded: "14 days", "36 hours", "5 minutes"."""
    for unit, size in (("day", DAY_SECONDS), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size or (seconds >= size and seconds % size == 0):
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = round(seconds)
    return f"{count} second{'' if count == 1 else 's'}"


def scan_failure_words(error: GraphError) -> str:
    """Why Meta could not be read for a search, in words an agent can act on (mrkdwn, escaped)."""
    kind = problems.kind_of(error)
    if kind in ("token", "permission"):
        return (
            "orderdesk cannot read orders from Meta; please ask an orderdesk admin "
            f"(Graph error {error.code}, trace {escape(error.fbtrace_id or 'none')})"
        )
    if isinstance(error, RateLimitedError):
        wait = error.retry_after_seconds
        return f"Meta is rate limiting orderdesk, search again in {problems.minutes(wait) if wait else 'a few minutes'}"
    if kind == "transient":
        return "Meta did not answer, search again in a moment"
    return f"Meta refused the read: {clip(escape(problems.meta_words(error)), 300)} (Graph error {error.code})"


class ScanProgress:
    """Says how far a long scan of Meta got ("Searching Meta: page 3…"), through the response URL, at the moments
    of :data:`PROGRESS_AT_SECONDS` (none during the first few seconds; at most four posts, so the answer keeps at
    least one of the URL's five). A search waiting for another's scan says so (:meth:`waiting`), from the same
    posts. The first post is new, the next ones replace it, and so does the answer (``replace_next``)."""

    def __init__(self, respond: Callable[..., object], clock: Callable[[], float]) -> None:
        self._respond = respond
        self._clock = clock
        self._started = clock()
        self.updates = 0

    def __call__(self, pages: int) -> None:
        if self.updates >= PROGRESS_UPDATES or self._clock() - self._started < PROGRESS_AT_SECONDS[self.updates]:
            return
        self._post(f"Searching Meta: page {pages}…")

    def waiting(self) -> None:
        """Another search holds the scan: say so (now), if a post is left for it."""
        if self.updates < PROGRESS_UPDATES:
            self._post(WAITING)

    def _post(self, text: str) -> None:
        self._respond(text=text, response_type="ephemeral", replace_original=self.updates > 0)
        self.updates += 1

    @property
    def replace_next(self) -> bool:
        """Whether the answer's first post replaces a progress message."""
        return self.updates > 0

    @property
    def posts_left(self) -> int:
        """How many posts the response URL has left for the answer."""
        return RESPONSE_URL_POSTS - self.updates
