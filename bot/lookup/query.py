"""What agents type after ``/order``, and what order numbers a Slack message mentions: pure parsing, no I/O.

The grammar, as ``/order help`` teaches it:

* A **Facebook order ID** is a string of 10 to 20 digits (Meta's order ids are 15-16 digits today; the range
  leaves room either way without swallowing prices or years).
* A **merchant reference** is any other word that fits :data:`bot.domain.acknowledgement.MERCHANT_REF_PATTERN`:
  it starts with a letter or digit and holds only letters, digits and ``. _ / # -``, 64 characters at most. A
  short all-digit word (``1042``) is a reference too: many shops number their orders that way.
* Up to :data:`MAX_QUERIES` of them, separated by spaces or commas. Anything else is refused with the reason and
  an example, never guessed at.

Free message text (the "Look up order" shortcut) is noisier, so there a reference must also *look like* an order
number: a word with at least one letter and at least three digits (``SO-1042``, ``FB-7001234567890``). Plain words,
mentions, short digit runs (prices, quantities) and ``/`` (it would join URL paths into one word) are not searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain.acknowledgement import MERCHANT_REF_PATTERN
from bot.domain.text import clip, escape

MAX_QUERIES = 5
EXAMPLE = "`/order 7001234567890` or `/order SHOP-1042` (several: `/order 7001234567890, 7001234567891`)"

_ORDER_ID = re.compile(r"[0-9]{10,20}")
_SEPARATORS = re.compile(r"[\s,]+")
_QUOTES = "\"'`“”‘’"  # an agent pasting `SO-1042` or "SO-1042" means the reference inside
# Slack markup in message text: mentions and channel/special links go, a link keeps its URL and label.
_MENTION = re.compile(r"<[@#!][^>]*>")
_LINK = re.compile(r"<([^>|]*)(?:\|([^>]*))?>")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#-]*")
_LOOSE_ENDS = "._#-"
_TEXT_KEYS = frozenset({"text", "title", "pretext"})  # not "value": button values carry keys, not quotes


@dataclass(frozen=True)
class Query:
    """One thing to look up: a Facebook order ID or a merchant reference, as typed (references keep their case;
    matching decides about case)."""

    kind: Literal["id", "reference"]
    value: str

    def __str__(self) -> str:
        return self.value


class QueryError(ValueError):
    """Input that is not a lookup; the message says what is wrong and shows an example (mrkdwn, escaped)."""


def parse_query(text: str, *, references: bool = False) -> list[Query]:
    """The lookups ``/order <text>`` asks for, in the order given, without repeats.

    ``references=True`` (``/order ref <text>``) reads every word as a merchant reference, even one of 10 to 20
    digits that would otherwise be taken for a Facebook order ID: a shop numbering its orders that way can still
    look its own references up.

    Raises :class:`QueryError` for an empty text, a word that is neither an ID nor a reference, or more than
    :data:`MAX_QUERIES` distinct lookups.
    """
    words = [word.strip(_QUOTES) for word in _SEPARATORS.split(text) if word.strip(_QUOTES)]
    if not words:
        raise QueryError(f"Tell me which order to look up, e.g. {EXAMPLE}.")
    queries = []
    for word in words:
        query = _as_reference(word) if references else _classify(word)
        if query is None:
            raise QueryError(
                f"`{_quote(word)}` is neither a Facebook order ID (10 to 20 digits) nor a merchant reference "
                f"(letters, digits and `. _ / # -`, at most 64 characters). Try {EXAMPLE}."
            )
        queries.append(query)
    unique = list(dict.fromkeys(queries))
    if len(unique) > MAX_QUERIES:
        raise QueryError(f"That is {len(unique)} orders; I look up at most {MAX_QUERIES} at once. Try {EXAMPLE}.")
    return unique


def parse_order_id(value: str) -> str:
    """A Facebook order ID from a button's value; :class:`QueryError` for anything orderdesk would not render."""
    if not _ORDER_ID.fullmatch(value):
        raise QueryError(f"`{_quote(value)}` is not a Facebook order ID, so there is nothing to show.")
    return value


def find_in_message(message: Mapping[str, Any]) -> list[Query]:
    """Every order ID and order-number-like reference in a Slack message (its text, its blocks' and its
    attachments' texts), in order of appearance, without repeats. The caller decides how many to look up."""
    found = (_find_in_text(text) for text in _texts(message))
    return list(dict.fromkeys(query for queries in found for query in queries))


def _classify(word: str) -> Query | None:
    if _ORDER_ID.fullmatch(word):
        return Query("id", word)
    if MERCHANT_REF_PATTERN.fullmatch(word):
        return Query("reference", word)
    return None


def _as_reference(word: str) -> Query | None:
    return Query("reference", word) if MERCHANT_REF_PATTERN.fullmatch(word) else None


def _find_in_text(text: str) -> Iterable[Query]:
    text = _LINK.sub(lambda link: f" {link[1]} {link[2] or ''} ", _MENTION.sub(" ", text))
    for match in _WORD.finditer(text):
        word = match[0].rstrip(_LOOSE_ENDS)
        query = _classify(word)
        if query is not None and (query.kind == "id" or _looks_like_order_number(word)):
            yield query


def _looks_like_order_number(word: str) -> bool:
    return any(c.isalpha() for c in word) and sum(c.isdigit() for c in word) >= 3


def _texts(node: object) -> Iterable[str]:
    """Strings under ``text`` / ``title`` / ``pretext`` keys anywhere in a message: its text, section and field
    texts, rich-text runs, attachment texts. Repeats (rich text restating ``text``) are removed by the caller."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _TEXT_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _quote(word: str) -> str:
    """A refused word, safe inside backticks in mrkdwn: escaped, without backticks, and not endless."""
    return clip(escape(word).replace("`", "'"), 80)
