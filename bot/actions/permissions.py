"""Who may write to Meta: members of the workspace orderdesk is installed in, and, when the action's setting
(``ORDERDESK_ACK_ALLOWED``, ``ORDERDESK_SHIP_ALLOWED``, ...) names users and user groups, only those. An empty list
means everyone for acknowledging and shipping, and nobody for cancelling and refunding (money leaves the shop).

Group membership comes through the :class:`Groups` port (Slack's user groups, cached, in
:class:`bot.slack.access.Members`); when it cannot say, a group has no members (fail closed). Every refusal is in
the audit trail.
"""

from __future__ import annotations

from typing import Protocol

from bot.actions.answers import NotAllowed
from bot.actions.operation import Actor
from bot.storage.sqlite.store import Store


class Groups(Protocol):
    """User groups, as the chat workspace knows them."""

    def group_members(self, group: str) -> frozenset[str]:
        """The group's members; none when that cannot be known now."""
        ...

    def group_names(self) -> dict[str, str]:
        """Each group's handle by id, so answers name groups people know; none when that cannot be known now."""
        ...


class NoGroups:
    """No user groups at all: every group is empty (what a deployment without group lookups gets)."""

    def group_members(self, group: str) -> frozenset[str]:
        return frozenset()

    def group_names(self) -> dict[str, str]:
        return {}


def is_group(entry: str) -> bool:
    """Slack user-group ids start with ``S``; every other allowed entry is a user id."""
    return entry.startswith("S")


class Permissions:
    """The check every write makes before claiming anything.

    ``setting`` names the list in answers and the audit; ``verb`` says what it allows ("acknowledge");
    ``empty_allows_all`` says what an empty list means.
    """

    def __init__(
        self,
        allowed: tuple[str, ...],
        store: Store,
        groups: Groups | None = None,
        *,
        setting: str = "ORDERDESK_ACK_ALLOWED",
        verb: str = "acknowledge",
        empty_allows_all: bool = True,
    ) -> None:
        self._allowed = allowed
        self._store = store
        self._groups = groups or NoGroups()
        self.setting = setting
        self.verb = verb
        self._empty_allows_all = empty_allows_all

    @property
    def nobody(self) -> bool:
        """True when nobody may act: an empty list that means nobody (the button says who can allow it)."""
        return not self._allowed and not self._empty_allows_all

    @property
    def allowed(self) -> tuple[str, ...]:
        return self._allowed

    def refusal(self, actor: Actor, *, order_id: str | None, key: str | None, action: str) -> NotAllowed | None:
        """The answer for someone who may not act (and its audit row), or None if they may."""
        foreign = bool(actor.user_team_id and actor.workspace_id and actor.user_team_id != actor.workspace_id)
        allowed = self._allowed
        everyone = not allowed and self._empty_allows_all
        if not foreign and (everyone or actor.user_id in self._allowed_users()):
            return None
        self._store.add_audit(
            action=action,
            order_id=order_id,
            user_id=actor.user_id,
            team_id=actor.user_team_id,
            key=key,
            outcome="refused",
            detail="user from another workspace" if foreign else f"not in {self.setting}",
        )
        names = self._groups.group_names() if any(is_group(o) for o in allowed) else {}
        return NotAllowed(
            tuple(allowed), other_workspace=foreign, group_names=names, verb=self.verb, setting=self.setting
        )

    def _allowed_users(self) -> frozenset[str]:
        users = {entry for entry in self._allowed if not is_group(entry)}
        for group in filter(is_group, self._allowed):
            users |= self._groups.group_members(group)
        return frozenset(users)
