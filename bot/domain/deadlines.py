"""Meta's deadlines for an order, as one pure function of the order, the time and the shop's time zone.

Meta's obligations for a seller (the API reference, §6.1 of the repository's notes on Meta's API):

* **acknowledge** an order within 12 hours of its creation;
* **ship** it by its ``ship_by_date``, a calendar date: it is overdue after the end of that day in the shop's
  time zone (``ORDERDESK_TIMEZONE``);
* Meta **auto-cancels** an order not marked as dispatched (no shipment) 30 days after it was placed;
* an order still in Meta's processing hold (``FB_PROCESSING``) 24 hours after creation **may be cancelled** by the
  seller.

:func:`deadline` picks the one a person should look at now: Meta's auto-cancel when it is less than a day away
(the order is about to be lost whatever else is late), else the earliest deadline, an overdue one first. It
answers in words that say the urgency ("ack due in 3 h", "ship by Fri 5 Dec, overdue 2 days") and with an
urgency band, whose emoji a view may add but never rely on alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

from bot.domain.order import order_state

ACK_WITHIN = 12 * 3600
AUTO_CANCEL_AFTER = 30 * 86_400
HOLD_CANCELLABLE_AFTER = 24 * 3600
SOON = 24 * 3600  # a deadline less than this far away is "due soon"

Kind = Literal["ack", "ship_by", "auto_cancel", "hold"]
Band = Literal["later", "soon", "overdue"]

BANDS: tuple[Band, ...] = ("overdue", "soon", "later")  # most urgent first
BAND_EMOJI: dict[Band, str] = {
    "later": ":large_green_circle:",
    "soon": ":large_orange_circle:",
    "overdue": ":red_circle:",
}
BAND_WORDS: dict[Band, str] = {"later": "more than a day left", "soon": "less than a day left", "overdue": "overdue"}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Clock:
    """The deadline that matters now for an order.

    ``due`` is unix seconds; ``words`` are relative to the time asked about ("ack due in 3 h"), for what is drawn
    fresh each time (an answer, a list, App Home); ``stable`` never mentions how long is left, so a posted message
    stays true until the band changes: it reads before the due time ("ack due" + the time, which a view shows in
    each reader's zone), except for ``ship_by``, whose date it names itself.
    """

    kind: Kind
    due: float
    band: Band
    words: str
    stable: str

    @property
    def emoji(self) -> str:
        return BAND_EMOJI[self.band]

    @property
    def band_words(self) -> str:
        return BAND_WORDS[self.band]

    @property
    def rank(self) -> tuple[int, float]:
        """Sorts clocks most urgent first: by band, then by due time."""
        return BANDS.index(self.band), self.due


def span_words(seconds: float) -> str:
    """A length of time as agents say it, rounded down: ``45 min``, ``3 h``, ``2 days`` (hours up to two days)."""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 2 * 86_400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86_400)
    return f"{days} day" if days == 1 else f"{days} days"


def day_words(day: date) -> str:
    """``Fri 5 Dec``: a date as the cards say it (English, whatever the process's locale)."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def parse_created(value: object) -> float | None:
    """Unix seconds of Meta's ``created`` (ISO-8601; naive means UTC), None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_ship_by(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def end_of_day(day: date, zone: tzinfo) -> float:
    """Unix seconds of the first instant after ``day`` ends in ``zone`` (midnight, the next day, there)."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()


def _dispatched(order: Mapping[str, Any]) -> bool:
    shipments = order.get("shipments")
    if isinstance(shipments, Mapping):
        shipments = shipments.get("data")
    return isinstance(shipments, list) and len(shipments) > 0


def _band(due: float, now: float) -> Band:
    if now >= due:
        return "overdue"
    return "soon" if due - now < SOON else "later"


def _clock(kind: Kind, due: float, now: float, ship_by: date | None = None) -> Clock:
    band = _band(due, now)
    left, late = span_words(due - now), span_words(now - due)
    if kind == "ack":
        words = f"ack overdue {late}" if band == "overdue" else f"ack due in {left}"
        stable = "ack overdue since" if band == "overdue" else "ack due"
    elif kind == "ship_by":
        day = day_words(ship_by) if ship_by else "its ship-by date"
        words = f"ship by {day}, overdue {late}" if band == "overdue" else f"ship by {day}, due in {left}"
        stable = f"ship by {day}, overdue" if band == "overdue" else f"ship by {day}"
    elif kind == "auto_cancel":
        words = f"Meta auto-cancels in {left}" if band != "overdue" else f"Meta's auto-cancel was due {late} ago"
        stable = "Meta auto-cancels" if band != "overdue" else "Meta's auto-cancel was due"
    else:
        held = span_words(now - due + HOLD_CANCELLABLE_AFTER)
        words = (
            f"in Meta's hold, cancellable in {left}" if band != "overdue" else f"in Meta's hold for {held}, cancellable"
        )
        stable = (
            "in Meta's hold, cancellable from" if band != "overdue" else "in Meta's hold over 24 h, cancellable since"
        )
    return Clock(kind, due, band, words, stable)


def deadlines(order: Mapping[str, Any], now: float, zone: tzinfo) -> list[Clock]:
    """Every deadline the order still has, earliest first (an empty list once it is shipped, completed or gone)."""
    state = order_state(order)
    created = parse_created(order.get("created"))
    found: list[Clock] = []
    if state == "FB_PROCESSING":
        if created is not None:
            found.append(_clock("hold", created + HOLD_CANCELLABLE_AFTER, now))
        return found
    if state not in ("CREATED", "IN_PROGRESS") or _dispatched(order):
        return found
    if state == "CREATED" and created is not None:
        found.append(_clock("ack", created + ACK_WITHIN, now))
    ship_by = parse_ship_by(order.get("ship_by_date"))
    if ship_by is not None:
        found.append(_clock("ship_by", end_of_day(ship_by, zone), now, ship_by))
    if created is not None:
        found.append(_clock("auto_cancel", created + AUTO_CANCEL_AFTER, now))
    return sorted(found, key=lambda clock: clock.due)


def deadline(order: Mapping[str, Any], now: float, zone: tzinfo = UTC) -> Clock | None:
    """The deadline to show for the order at ``now`` (unix seconds), or None when it has none left."""
    found = deadlines(order, now, zone)
    for clock in found:
        if clock.kind == "auto_cancel" and clock.band != "later":
            return clock
    return found[0] if found else None
