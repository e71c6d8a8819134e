"""How far back a command looks (``since:7d``): one grammar for every command that takes a window.

An integer with a unit (``s``, ``m``, ``h`` or ``d``, any case), more than nothing and at most 90 days. Each command
says in its own words what a duration looks like; the other two refusals read the same everywhere.
"""

from __future__ import annotations

from bot.durations import NotADuration, duration_seconds
from bot.lookup.export import DAY_SECONDS

MAX_WINDOW_SECONDS = 90 * DAY_SECONDS

__all__ = ["MAX_WINDOW_SECONDS", "NotADuration", "window_seconds"]


def window_seconds(value: str, *, units: str = "smhd") -> int:
    """Seconds of a ``since:`` value; :class:`NotADuration`, or ValueError in words for an empty or too long one."""
    seconds = duration_seconds(value, units=units, bare_is_seconds=False)
    if seconds == 0:
        raise ValueError("`since:` must be more than nothing.")
    if seconds > MAX_WINDOW_SECONDS:
        raise ValueError("`since:` goes back 90 days at most (`since:90d`).")
    return seconds
