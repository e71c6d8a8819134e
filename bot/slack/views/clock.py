"""The deadline clock as a card or a list line draws it (the clock itself: :mod:`bot.domain.deadlines`).

Two forms. A message drawn for one reader now (an answer, ``/order pending``, App Home) says how long is left
("ack due in 3 h"). A message that stays in a channel says when, as Slack's ``<!date^…>`` (each reader sees it in
their own zone) and which band it is in, never how long is left: it stays true until the band changes, and the
band worker redraws it then. The band's emoji always comes with words that say the same.
"""

from __future__ import annotations

from bot.domain.deadlines import Clock
from bot.slack.views.kit import Block, context, slack_date

DUE_FORMAT = "{date_short_pretty} {time}"


def clock_text(clock: Clock, *, live: bool, banded: bool = True) -> str:
    """One line: ``live`` for a reader now, else the form that does not go stale in a posted message.

    ``banded=False`` is for a posted message nothing redraws (a link unfurl): only what stays true, the deadline
    as a date with no band and no emoji, unless it has passed already ("overdue" stays true).
    """
    if live:
        return f"{clock.emoji} {clock.words}"
    if not banded and clock.band != "overdue":
        return clock.stable if clock.kind == "ship_by" else f"{clock.stable} {slack_date(clock.due, DUE_FORMAT)}"
    text = f"{clock.emoji} {clock.stable}"
    if clock.kind != "ship_by":
        text += f" {slack_date(clock.due, DUE_FORMAT)}"
    return text if clock.band == "overdue" else f"{text} · {clock.band_words}"


def clock_blocks(clock: Clock | None, *, live: bool) -> list[Block]:
    """A context block with the clock, or nothing for an order without a deadline."""
    return [context(clock_text(clock, live=live))] if clock is not None else []
