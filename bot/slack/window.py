"""How far back a command looks (``since:7d``): one grammar for every command that takes a window.

An integer with a unit (``s``, ``m``, ``h`` or ``d``, any case), more than nothing and at most 90 days. Each command
says in its own words what a duration looks like; the other two refusals read the same everywhere.
"""

from __future__ import annotations

import re

from bot.lookup.export import DAY_SECONDS

MAX_WINDOW_SECONDS = 90 * DAY_SECONDS
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY_SECONDS}
_DURATION = re.compile(r"(\d{1,7})([smhd])")


class NotADuration(ValueError):
    """The value is not an integer with one of the allowed units."""


def window_seconds(value: str, *, units: str = "smhd") -> int:
    """Seconds of a ``since:`` value; :class:`NotADuration`, or ValueError in words for an empty or too long one."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None or match.group(2) not in units:
        raise NotADuration(value)
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds == 0:
        raise ValueError("`since:` must be more than nothing.")
    if seconds > MAX_WINDOW_SECONDS:
        raise ValueError("`since:` goes back 90 days at most (`since:90d`).")
    return seconds
