"""Block Kit primitives for the builders in :mod:`bot.slack.views`: escaping, clipping, Slack's limits and small
element builders.

Slack rejects a whole message when one element breaks a limit, and it turns ``<!channel>`` in any text into a
ping of the whole channel. Both dangers come from text we do not control (Meta's order data can hold anything a
buyer or seller typed), so every element here clips to its limit by construction and every caller escapes
foreign text before it gets near mrkdwn. Nothing here knows about orders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.domain import money as money_values

# Re-exported: the builders take them from here with the other primitives.
from bot.domain.text import ELLIPSIS as ELLIPSIS
from bot.domain.text import clip as clip
from bot.domain.text import escape as escape

Block = dict[str, Any]
T = TypeVar("T")

# Slack's documented limits (https://api.slack.com/reference/block-kit). slack_sdk validates most of them, but
# not the block count or the length of a section field, and Slack checks them all server-side.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_CONTEXT_ELEMENTS = 10

# Our own markup that may legitimately appear in text: user and user-group mentions we add for agents.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")


def mention(user_id: str | None, group_names: Mapping[str, str] | None = None) -> str:
    """``<@U…>`` for a Slack user id the bot got from Slack, ``<!subteam^S…|@handle>`` for a user group.

    A group's handle comes from ``group_names`` (group id → handle, as ``usergroups.list`` gives it): clients that
    cannot resolve the group themselves show the handle, never the bare id. Anything else is escaped as text, so
    a malformed id can never turn into markup.
    """
    if user_id is None:
        return "someone"
    if _USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    if _GROUP_ID.fullmatch(user_id):
        handle = _handle((group_names or {}).get(user_id))
        return f"<!subteam^{user_id}|@{handle}>" if handle else f"<!subteam^{user_id}>"
    return escape(user_id)


def _handle(name: object) -> str | None:
    """A group handle fit for a mention's label: no leading ``@``, no markup characters, at most 80 characters."""
    if not isinstance(name, str):
        return None
    cleaned = re.sub(r"[<>&|\s]", "", name.removeprefix("@"))[:80]
    return cleaned or None


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 order``, ``2 orders``, ``0 orders``: a count with its noun in the right number.

    The plural is ``plural_form`` when given, else the regular English one (``entry`` → ``entries``,
    ``match`` → ``matches``, ``item`` → ``items``).
    """
    if count == 1:
        return f"{count} {noun}"
    if plural_form is None:
        if re.search(r"[^aeiou]y\Z", noun):
            plural_form = noun[:-1] + "ies"
        elif re.search(r"(?:s|x|z|ch|sh)\Z", noun):
            plural_form = noun + "es"
        else:
            plural_form = noun + "s"
    return f"{count} {plural_form}"


def slack_date(unix: float, fmt: str = "{date_short_pretty} {time}") -> str:
    """Slack date formatting: each reader sees the time in their own time zone; the fallback is UTC."""
    fallback = datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(unix)}^{fmt}|{fallback}>"


def parse_time(value: object) -> float | None:
    """Unix seconds of an ISO-8601 datetime as Graph sends it (naive means UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        return None


def when(value: object) -> str | None:
    """A Graph timestamp as a Slack date, the escaped raw text if it does not parse, None if missing."""
    unix = parse_time(value)
    if unix is not None:
        return slack_date(unix)
    return None if value is None else clip(escape(value), 100)


def money(amount: object) -> str | None:
    """A Graph ``currency_amount`` (``{"amount": "12.50", "currency": "USD"}``) as ``USD 12.50``, ``JPY 1,500``.

    Amounts are decimal strings, kept exact and written with their currency's own digits (ISO 4217, through
    :mod:`bot.domain.money`). A value that is not a sane number is shown as Meta sent it (escaped) rather than
    dropped, so nobody is told a wrong total.
    """
    if not isinstance(amount, Mapping) or amount.get("amount") is None:
        return None
    currency = clip(escape(amount.get("currency") or ""), 10)
    parsed = money_values.from_graph(amount)
    if parsed is None:
        return f"{currency} {clip(escape(amount['amount']), 40)}".strip()
    return f"{currency} {money_values.format_amount(parsed.amount, parsed.currency)}".strip()


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def fields_section(pairs: Iterable[tuple[str, str]]) -> Block:
    """A two-column section of ``*label*`` / value pairs: at most 10 fields of at most 2000 characters each."""
    fields = [mrkdwn(f"*{label}*\n{value}", MAX_FIELD_TEXT) for label, value in pairs]
    return {"type": "section", "fields": fields[:MAX_FIELDS]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button; ``value`` must already fit (we never clip a value: a cut value would be a different one)."""
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text, MAX_BUTTON_TEXT)}
    if value is not None:
        if not 0 < len(value) <= MAX_BUTTON_VALUE:
            raise ValueError(f"button value must be 1-{MAX_BUTTON_VALUE} characters, got {len(value)}")
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def actions(elements: Sequence[dict[str, Any]]) -> list[Block]:
    """An actions block, or nothing at all: Slack rejects an actions block without elements."""
    return [{"type": "actions", "elements": list(elements)}] if elements else []


def confirm_dialog(title: str, text: str, confirm: str, deny: str = "Cancel") -> dict[str, Any]:
    return {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(confirm, 30),
        "deny": plain(deny, 30),
    }


def line_sections(title: str, lines: Sequence[str], *, line_limit: int = 400) -> list[Block]:
    """``title`` and one line per entry, packed into as few sections as Slack's 3000 characters allow.

    Each line is clipped to ``line_limit`` first, so a few enormous entries cannot crowd out the rest and the
    number of sections stays bounded by ``len(lines) * line_limit / 3000``.
    """
    blocks: list[Block] = []
    current = title
    for line in lines:
        line = clip(line, line_limit)
        if current and len(current) + 1 + len(line) > MAX_SECTION_TEXT:
            blocks.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks


def summarised(entries: Sequence[T], render: Callable[[T], str], shown: int, noun: str) -> list[str]:
    """The first ``shown`` entries rendered as lines, then one "…and N more orders" line instead of the rest.

    ``noun`` is singular (``order``); the last line puts it in the right number. Only the shown entries are
    rendered, so a card for an order with thousands of items costs what one with ``shown`` items costs.
    """
    lines = [render(entry) for entry in entries[:shown]]
    if len(entries) <= shown:
        return lines
    rest = len(entries) - shown
    return [*lines, f"{ELLIPSIS}and {rest} more {plural(rest, noun).split(' ', 1)[1]}"]
