"""The deadline clock at fixed times: each kind of deadline, each urgency band, time zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.deadlines import Clock, deadline, deadlines, end_of_day, span_words

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, zone: Any = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def order(state: str = "CREATED", created: str = "2026-12-01T08:00:00+00:00", **extra: Any) -> dict[str, Any]:
    return {"id": "7001", "order_status": {"state": state}, "created": created, **extra}


def clock_at(found: dict[str, Any], now: str, zone: Any = UTC) -> Clock:
    clock = deadline(found, at(now), zone)
    assert clock is not None
    return clock


def test_ack_is_due_twelve_hours_after_creation_in_each_band() -> None:
    created = order()
    assert clock_at(created, "2026-12-01T17:00:00").words == "ack due in 3 h"
    soon = clock_at(created, "2026-12-01T17:00:00")
    assert (soon.kind, soon.band, soon.due) == ("ack", "soon", at("2026-12-01T20:00:00"))
    assert clock_at(created, "2026-12-01T19:45:00").words == "ack due in 15 min"
    late = clock_at(created, "2026-12-01T23:30:00")
    assert (late.band, late.words, late.stable) == ("overdue", "ack overdue 3 h", "ack overdue since")
    assert late.emoji == ":red_circle:"
    assert late.band_words == "overdue"


def test_ack_is_never_more_than_a_day_away_so_a_fresh_order_is_due_soon() -> None:
    assert clock_at(order(), "2026-12-01T08:00:00").band == "soon"


def test_ship_by_is_overdue_after_the_end_of_that_day_in_the_shops_zone() -> None:
    shipping = order("IN_PROGRESS", ship_by_date="2026-12-05")
    clock = clock_at(shipping, "2026-12-03T10:00:00")
    assert (clock.kind, clock.band) == ("ship_by", "later")
    assert clock.words == "ship by Sat 5 Dec, due in 2 days"
    assert clock.emoji == ":large_green_circle:"
    assert clock.stable == "ship by Sat 5 Dec"
    # 23:30 in Berlin on the 5th is 22:30 UTC: still due that day there.
    assert clock_at(shipping, "2026-12-05T22:30:00", BERLIN).band == "soon"
    assert clock_at(shipping, "2026-12-05T22:30:00", BERLIN).words == "ship by Sat 5 Dec, due in 30 min"
    # 00:30 on the 6th in Berlin: overdue there, while in New York the 5th still has hours left.
    assert clock_at(shipping, "2026-12-05T23:30:00", BERLIN).band == "overdue"
    assert clock_at(shipping, "2026-12-05T23:30:00", NEW_YORK).band == "soon"
    late = clock_at(shipping, "2026-12-08T00:00:00")
    assert late.words == "ship by Sat 5 Dec, overdue 2 days"
    assert late.stable == "ship by Sat 5 Dec, overdue"


def test_the_end_of_a_day_follows_daylight_saving() -> None:
    # Berlin's clocks go back on 25 Oct 2026: that day has 25 hours and ends at 23:00 UTC.
    assert end_of_day(datetime(2026, 10, 25).date(), BERLIN) == at("2026-10-25T23:00:00")
    assert end_of_day(datetime(2026, 10, 24).date(), BERLIN) == at("2026-10-24T22:00:00")
    # New York springs forward on 8 Mar 2026: the 8th ends at 04:00 UTC on the 9th (EDT, UTC-4).
    assert end_of_day(datetime(2026, 3, 8).date(), NEW_YORK) == at("2026-03-09T04:00:00")
    assert end_of_day(datetime(2026, 3, 7).date(), NEW_YORK) == at("2026-03-08T05:00:00")


def test_meta_auto_cancels_thirty_days_after_placement_when_nothing_shipped() -> None:
    undispatched = order("IN_PROGRESS", created="2026-11-01T08:00:00+00:00")
    clock = clock_at(undispatched, "2026-11-27T08:00:00")
    assert (clock.kind, clock.band, clock.words) == ("auto_cancel", "later", "Meta auto-cancels in 4 days")
    assert clock_at(undispatched, "2026-11-30T20:00:00").words == "Meta auto-cancels in 12 h"
    assert clock_at(undispatched, "2026-12-02T08:00:00").band == "overdue"


def test_auto_cancel_under_a_day_away_outranks_an_older_overdue_deadline() -> None:
    stale = order(created="2026-11-01T08:00:00+00:00")  # never acknowledged: its ack is weeks overdue
    assert clock_at(stale, "2026-11-20T08:00:00").kind == "ack"
    assert clock_at(stale, "2026-11-30T20:00:00").kind == "auto_cancel"
    assert [c.kind for c in deadlines(stale, at("2026-11-20T08:00:00"), UTC)] == ["ack", "auto_cancel"]


def test_a_shipped_completed_or_unknown_order_has_no_deadline() -> None:
    shipped = order("IN_PROGRESS", ship_by_date="2026-12-05", shipments={"data": [{"id": "1"}]})
    assert deadline(shipped, at("2026-12-08T00:00:00")) is None
    assert deadline(order("COMPLETED"), at("2026-12-02T00:00:00")) is None
    assert deadline({"id": "7001"}, at("2026-12-02T00:00:00")) is None
    assert deadline(order(created="not a date"), at("2026-12-02T00:00:00")) is None


def test_an_order_held_by_meta_for_a_day_may_be_cancelled() -> None:
    held = order("FB_PROCESSING")
    early = clock_at(held, "2026-12-01T20:00:00")
    assert (early.kind, early.band, early.words) == ("hold", "soon", "in Meta's hold, cancellable in 12 h")
    late = clock_at(held, "2026-12-03T09:00:00")
    assert (late.band, late.words) == ("overdue", "in Meta's hold for 2 days, cancellable")


def test_clocks_sort_most_urgent_first() -> None:
    now = at("2026-12-01T10:00:00")
    clocks = [deadline(order(), now), deadline(order(created="2026-11-30T08:00:00+00:00"), now)]
    clocks.append(deadline(order("IN_PROGRESS", ship_by_date="2026-12-20"), now))
    ranked = sorted((c for c in clocks if c), key=lambda c: c.rank)
    assert [c.band for c in ranked] == ["overdue", "soon", "later"]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "1 min"),
        (59, "1 min"),
        (61, "1 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (47 * 3600, "47 h"),
        (2 * 86_400, "2 days"),
        (86_400 * 30, "30 days"),
    ],
)
def test_spans_are_rounded_down_in_words(seconds: int, words: str) -> None:
    assert span_words(seconds) == words
