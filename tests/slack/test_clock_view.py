"""The clock's two forms: relative words for a reader now, a date and a band for a message that stays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.deadlines import deadline
from bot.slack.views.clock import clock_blocks, clock_text

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC).timestamp()


def order(**extra: Any) -> dict[str, Any]:
    return {"id": "7001", "order_status": {"state": "CREATED"}, "created": "2026-12-01T08:00:00+00:00", **extra}


def test_live_and_stable_forms() -> None:
    clock = deadline(order(), NOW)
    assert clock is not None
    assert clock_text(clock, live=True) == ":large_orange_circle: ack due in 3 h"
    due = int(datetime(2026, 12, 1, 20, 0, tzinfo=UTC).timestamp())
    assert clock_text(clock, live=False) == (
        f":large_orange_circle: ack due <!date^{due}^{{date_short_pretty}} {{time}}|2026-12-01 20:00 UTC>"
        " · less than a day left"
    )
    late = deadline(order(), NOW + 86_400)
    assert late is not None
    assert clock_text(late, live=False).startswith(":red_circle: ack overdue since <!date^")


def test_a_ship_by_date_is_named_not_dated_and_no_deadline_draws_nothing() -> None:
    shipping = order(order_status={"state": "IN_PROGRESS"}, ship_by_date="2026-12-05")
    clock = deadline(shipping, NOW)
    assert clock is not None
    assert clock_text(clock, live=False) == ":large_green_circle: ship by Sat 5 Dec · more than a day left"
    assert clock_blocks(None, live=True) == []
    assert clock_blocks(clock, live=True)[0]["type"] == "context"


def test_every_card_draws_its_clock_lookup_live_channel_stable() -> None:
    from bot.slack.views.order_card import notification_card, order_card

    clock = deadline(order(), NOW)
    url = "https://cm.example/"
    lookup = str(order_card(order(), commerce_manager_url=url, clock=clock))
    assert "ack due in 3 h" in lookup
    shared = str(order_card(order(), commerce_manager_url=url, clock=clock, shared_by="U1"))
    assert "ack due <!date^" in shared
    assert "in 3 h" not in shared
    posted = str(notification_card(order(), ack_key="k1", commerce_manager_url=url, clock=clock))
    assert "ack due <!date^" in posted


def test_the_unbanded_form_says_only_what_stays_true() -> None:
    clock = deadline(order(), NOW)
    assert clock is not None
    due = int(datetime(2026, 12, 1, 20, 0, tzinfo=UTC).timestamp())
    assert clock_text(clock, live=False, banded=False) == (
        f"ack due <!date^{due}^{{date_short_pretty}} {{time}}|2026-12-01 20:00 UTC>"
    )
    shipping = deadline(order(order_status={"state": "IN_PROGRESS"}, ship_by_date="2026-12-05"), NOW)
    assert shipping is not None
    assert clock_text(shipping, live=False, banded=False) == "ship by Sat 5 Dec"
    late = deadline(order(), NOW + 86_400)
    assert late is not None  # an overdue deadline stays overdue: that much stays true
    assert clock_text(late, live=False, banded=False) == clock_text(late, live=False)
