"""What every write to Meta has in common: the request that asks for it, and the :class:`Operation` describing it.

An operation is one kind of write (acknowledge one order, acknowledge a batch; later ship, cancel, refund). The
:class:`bot.actions.runner.Runner` drives every operation alike (claim, send, record, publish) and asks the
operation only what differs between kinds: how to send the stored request, how to confirm by reading the order
back, what a success changes besides the ledger row, and which orders' cards show the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.actions.ledger import Ledger, LedgerEntry
from bot.graph.client import GraphClient
from bot.storage.ports import Storage


@dataclass(frozen=True)
class Actor:
    """Someone asking for a write: their user id, their own workspace, and the workspace the bot is installed in.

    The two workspaces differ for a Slack Connect guest, who may not act.
    """

    user_id: str
    user_team_id: str | None
    workspace_id: str | None


@dataclass(frozen=True)
class Request:
    """One press of a card's button for one order: the intent (order, idempotency key), who asked, and where.

    The key was minted when the card was drawn, so every press of one card is one intent at Meta. ``channel_id``
    and ``message_ts`` name the card when it is a channel message; ``response_url`` answers the requester (and
    replaces an ephemeral card).

    ``listed``: the press came from a line of a list (a ``/order pending`` page, App Home), not from a card. The
    list shows many orders, so it is never remembered as this order's card (a redraw of the order would replace
    the whole list with one card); the requester is answered privately instead.
    """

    order_id: str
    key: str
    user_id: str
    user_team_id: str | None
    workspace_id: str | None
    channel_id: str | None
    message_ts: str | None
    ephemeral: bool
    response_url: str | None
    listed: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.user_team_id, self.workspace_id)


class Operation(Protocol):
    """One kind of write to Meta, as the runner needs to know it.

    ``name`` is what the ledger and the audit trail store; ``offered_in`` the order states whose cards offer it.
    Which orders a claim locks is the ledger entry's :attr:`LedgerEntry.order_ids`, written when it is claimed.
    """

    name: str
    offered_in: frozenset[str]

    def send(self, graph: GraphClient, entry: LedgerEntry) -> dict[str, Any]:
        """Make the call with the stored key and the stored parameters, byte for byte as first claimed."""
        ...

    def read_back(self, graph: GraphClient, entry: LedgerEntry) -> Mapping[str, Any] | None:
        """The order as Meta has it now, to confirm an ambiguous outcome; None when this kind cannot confirm so."""
        ...

    def took_effect(self, entry: LedgerEntry, order: Mapping[str, Any]) -> bool:
        """Whether the order read back shows this very intent done (so it is recorded without another call)."""
        ...

    def recovered(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The success recorded when Meta's answer was lost but the order shows the intent done."""
        ...

    def refused_words(self, order: Mapping[str, Any]) -> str | None:
        """Why Meta refused, in words, from the state the order turned out to be in; None when nothing to add."""
        ...

    def record_success(
        self, store: Storage, ledger: Ledger, entry: LedgerEntry, response: Mapping[str, Any]
    ) -> LedgerEntry:
        """Record Meta's success: the ledger row and what else changes (index, audit), in one transaction."""
        ...

    def shown_on(self, entry: LedgerEntry) -> Sequence[str]:
        """The orders whose cards show the recorded outcome of ``entry``."""
        ...
