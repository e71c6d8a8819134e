"""What ``/order export`` understands (``since:7d``, ``state:awaiting acknowledgement,completed``) and what it
says back, in words: the service (:mod:`bot.lookup.export`) knows neither Slack nor how agents name the states.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.lookup.export import DAY_SECONDS, ExportRequest
from bot.slack.find import span_words
from bot.slack.views.words import STATE_WORDS
from bot.slack.window import NotADuration, window_seconds

log = logging.getLogger(__name__)

DEFAULT_SINCE_SECONDS = 7 * DAY_SECONDS
_OPTION = re.compile(r"(since|state):", re.IGNORECASE)

USAGE = (
    "Usage: `/order export [since:7d] [state:…]`. `since:` is how far back to go by last update: a whole number "
    "and s, m, h or d (`since:36h`, `since:30d`), 7 days unless given, 90 days at most. `state:` keeps orders in "
    "these states, separated by commas: "
    + ", ".join(f"`{words.split(' (')[0].lower()}`" for words in STATE_WORDS.values())
    + " (or Meta's names, such as `CREATED`). Every state unless given."
)


class ExportUsage(ValueError):
    """The arguments could not be read; the message says what was wrong, then how to write them."""


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _aliases() -> dict[str, str]:
    """Each state by Meta's name, its words, and its words' first clause ("acknowledged"), compared loosely."""
    aliases: dict[str, str] = {}
    for code, words in STATE_WORDS.items():
        for name in (code, words, words.split(" (")[0], words.split(",")[0]):
            aliases[_key(name)] = code
    return aliases


_STATE_ALIASES = _aliases()


def parse_export(text: str) -> ExportRequest:
    """The request for the text after ``/order export``; :class:`ExportUsage` in words for anything else."""
    text = text.strip()
    options: dict[str, str] = {}
    matches = list(_OPTION.finditer(text))
    if text and (not matches or matches[0].start() != 0):
        first = text.split()[0]
        raise ExportUsage(f"I do not know `{_shown(first)}`. {USAGE}")
    for number, match in enumerate(matches):
        name = match.group(1).lower()
        end = matches[number + 1].start() if number + 1 < len(matches) else len(text)
        if name in options:
            raise ExportUsage(f"`{name}:` is given twice. {USAGE}")
        options[name] = text[match.end() : end].strip()
    since = parse_since(options["since"]) if "since" in options else DEFAULT_SINCE_SECONDS
    states = parse_states(options["state"]) if "state" in options else frozenset()
    return ExportRequest(since_seconds=since, states=states)


def parse_since(value: str) -> int:
    try:
        return window_seconds(value)
    except NotADuration:
        raise ExportUsage(f"`since:{_shown(value)}` is not a duration such as `7d` or `36h`. {USAGE}") from None
    except ValueError as error:
        raise ExportUsage(f"{error} {USAGE}") from None


def parse_states(value: str) -> frozenset[str]:
    """Meta's state codes for a comma-separated list of states by name or words; a state's full words may
    contain a comma themselves ("Acknowledged, being fulfilled"), so those are recognised first."""
    text = _key(value)
    for code, words in STATE_WORDS.items():
        text = text.replace(_key(words), code.lower())
    states: set[str] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        known = _STATE_ALIASES.get(_key(part))
        if known is None:
            raise ExportUsage(f"I do not know the state `{_shown(part)}`. {USAGE}")
        states.add(known)
    if not states:
        raise ExportUsage(f"`state:` needs at least one state. {USAGE}")
    return frozenset(states)


def _shown(text: str) -> str:
    """What the asker typed, short and safe inside a code span."""
    cleaned = text.strip().replace("`", "'").replace("<", "‹").replace(">", "›").replace("&", "+")
    return cleaned if len(cleaned) <= 40 else cleaned[:39] + "…"


def export_answer(request: ExportRequest, rows: int) -> str:
    """What the asker reads once the file is in their DM."""
    states = ", ".join(sorted(STATE_WORDS.get(code, code) for code in request.states)) or "every state"
    noun = "order" if rows == 1 else "orders"
    return (
        f"Your export is in your direct messages with orderdesk: {rows} {noun} updated in the last "
        f"{span_words(request.since_seconds)} ({states}). It covers the orders orderdesk has seen (announced, "
        "looked up or acknowledged), with no buyer names, emails, phones or addresses."
    )


def user_names(client: WebClient) -> Callable[[str], str]:
    """A Slack user's name by id, for one export: asked of ``users.info`` once per user (the export's own cache),
    their display name, else their full name; the id itself when Slack cannot say."""
    known: dict[str, str] = {}

    def name(user_id: str) -> str:
        if user_id not in known:
            known[user_id] = _name_of(client, user_id)
        return known[user_id]

    return name


def _name_of(client: WebClient, user_id: str) -> str:
    try:
        user: Any = client.users_info(user=user_id).get("user") or {}
    except SlackClientError:
        log.warning("export: users.info failed for a user; the file shows their id")
        return user_id
    profile = user.get("profile") if isinstance(user, dict) else None
    for value in (
        (profile or {}).get("display_name"),
        (profile or {}).get("real_name"),
        user.get("real_name") if isinstance(user, dict) else None,
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return user_id
