"""One grammar for every duration orderdesk reads: an integer with a unit (``s``, ``m``, ``h`` or ``d``, any case).

Settings also take a bare integer as seconds, so the ``*_SECONDS`` variables that predate units keep working;
commands (``since:7d``) ask for the unit, because a bare ``7`` typed in Slack is more likely a slip than a number of
seconds. Every caller states its own bounds and its own words for a refusal.
"""

from __future__ import annotations

import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"(\d{1,9})([smhd]?)")


class NotADuration(ValueError):
    """The value is not an integer with one of the allowed units."""


def duration_seconds(value: str, *, units: str = "smhd", bare_is_seconds: bool = True) -> int:
    """Seconds in ``value`` (``"90"``, ``"15m"``, ``"4h"``, ``"2D"``); :class:`NotADuration` otherwise.

    ``units`` narrows the allowed units; ``bare_is_seconds=False`` refuses a number without one.
    """
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None:
        raise NotADuration(value)
    number, unit = match.groups()
    if not unit:
        if not bare_is_seconds:
            raise NotADuration(value)
        unit = "s"
    if unit not in units:
        raise NotADuration(value)
    return int(number) * UNIT_SECONDS[unit]


def duration_words(seconds: int) -> str:
    """The shortest exact spelling of ``seconds`` in the same grammar (``3600`` → ``1h``), for messages."""
    for unit in "dhm":
        size = UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
