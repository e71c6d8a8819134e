"""``/order find``: which orders' buyers match an email, a phone or a name, from orderdesk's buyer index.

Meta's API cannot search by buyer, so orderdesk matches keyed hashes of what it has indexed (the poller and
lookups index every order they read). The searched value is hashed at once and never kept: the audit row records
the query's shape (email, phone or name) and how many orders matched, nothing of what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.buyer_search import Kind, query_hashes
from bot.lookup.export import window_words
from bot.storage.ports import Audit, BuyerIndex

FIND_ACTION = "find"
MAX_MATCHES = 50  # more than any agent reads; the answer says how many there were


class FindStore(BuyerIndex, Audit, Protocol):
    """What a search needs of storage."""


@dataclass(frozen=True)
class FindRequest:
    """What to look for (already classified), and the window by last update."""

    kind: Kind
    text: str
    since_seconds: int


def find_orders(
    store: FindStore, key: str, request: FindRequest, *, now: float, user_id: str, team_id: str | None
) -> list[str]:
    """The matching order ids, most recently updated first, after writing the search's audit row."""
    hashes = query_hashes(key, request.kind, request.text)
    matches = store.buyers_matching(request.kind, hashes, since=now - request.since_seconds, limit=MAX_MATCHES)
    store.add_audit(
        action=FIND_ACTION,
        order_id=None,
        user_id=user_id,
        team_id=team_id,
        outcome="succeeded",
        detail=f"query={request.kind} since={window_words(request.since_seconds)} results={len(matches)}",
    )
    return matches
