"""Who may see orders at all: members of the workspace orderdesk is installed in, and nobody else.

A Slack Connect guest shares a channel with the team but belongs to another workspace; buyer names, cities,
contact details, agents' names and idempotency keys are none of their business. Every order surface (commands,
shortcuts, buttons, modals) asks :meth:`Access.refusal` before doing anything, from the work pool, never on the
ack path: for a slash command Slack does not say which workspace the user belongs to, so that takes a
``users.info`` call (cached).

When Slack cannot say who someone is, the answer is no: an unknown team is treated like a guest's (fail closed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.storage.ports import Storage

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0

GUEST_REFUSAL = (
    ":no_entry: orderdesk shows orders only to members of this workspace, and you are signed in from another "
    "one (Slack Connect). Ask someone on the team to look the order up for you."
)
UNKNOWN_REFUSAL = (
    ":no_entry: orderdesk could not confirm which workspace you belong to (Slack did not answer), so it shows "
    "nothing. Try again in a minute."
)


def workspace_of(context: BoltContext) -> str | None:
    """The workspace orderdesk is installed in: the one its token belongs to (``auth.test``, which Bolt makes
    once), else the request's team. A guest's request may name the guest's own team; the token's never does."""
    authorized = context.authorize_result
    team = authorized.team_id if authorized is not None else None
    return team or context.team_id


class Members:
    """What Slack says about people, cached for a few minutes: a user's own workspace, a user group's members.

    Thread-safe. A Slack failure is never cached, so the next request asks again. ``client`` is the Web API client
    used when a call is given none: bound so, it is the actions engine's :class:`bot.actions.permissions.Groups`.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = CACHE_SECONDS,
        client: WebClient | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._teams: dict[str, tuple[float, str]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._group_names: tuple[float, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def team_of(self, user_id: str, client: WebClient, payload_team: str | None = None) -> str | None:
        """The user's own workspace: ``payload_team`` when the payload carries it (``user.team_id`` of
        interactive payloads), else ``users.info``; None when Slack cannot say."""
        if payload_team:
            return payload_team
        with self._lock:
            cached = self._teams.get(user_id)
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            user = client.users_info(user=user_id).get("user") or {}
        except SlackClientError:
            log.warning("users.info failed for a user; treating them as from another workspace until it answers")
            return None
        team = user.get("team_id") if isinstance(user, dict) else None
        if not isinstance(team, str) or not team:
            return None
        with self._lock:
            self._teams[user_id] = (self._clock(), team)
        return team

    def _web(self, client: WebClient | None) -> WebClient:
        web = client if client is not None else self._client
        if web is None:
            raise ValueError("Members has no Web API client to ask Slack with")
        return web

    def group_members(self, group: str, client: WebClient | None = None) -> frozenset[str]:
        """Members of a user group; on a Slack failure, nobody (fail closed)."""
        with self._lock:
            cached = self._groups.get(group)
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            members = frozenset(self._web(client).usergroups_users_list(usergroup=group).get("users") or [])
        except SlackClientError:
            log.exception("could not list user group %s; its members may not act until it answers", group)
            return frozenset()
        with self._lock:
            self._groups[group] = (self._clock(), members)
        return members

    def group_names(self, client: WebClient | None = None) -> dict[str, str]:
        """Each user group's handle by id (``{"S0ONCALL": "oncall"}``), so answers name groups people know; on a
        Slack failure, none (answers then show the group as Slack renders its id)."""
        with self._lock:
            cached = self._group_names
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            groups = self._web(client).usergroups_list().get("usergroups") or []
        except SlackClientError:
            log.warning("could not list user groups; answers name them by id until Slack answers")
            return {}
        names = {
            str(g["id"]): str(g.get("handle") or g.get("name") or g["id"])
            for g in groups
            if isinstance(g, dict) and g.get("id")
        }
        with self._lock:
            self._group_names = (self._clock(), names)
        return names


class Access:
    """The guest check every order surface makes, with an audit row for each refusal (the user's own team)."""

    def __init__(self, store: Storage, members: Members) -> None:
        self._store = store
        self.members = members

    def refusal(
        self,
        *,
        user_id: str,
        workspace_id: str | None,
        client: WebClient,
        payload_team: str | None = None,
        surface: str,
    ) -> str | None:
        """Words refusing ``user_id`` (and an audit row), or None when they are a member of ``workspace_id``."""
        team = self.members.team_of(user_id, client, payload_team)
        if team is not None and (workspace_id is None or team == workspace_id):
            return None
        self._store.add_audit(
            action=surface,
            order_id=None,
            user_id=user_id,
            team_id=team,
            key=None,
            outcome="refused",
            detail="user from another workspace" if team else "workspace unknown: Slack did not answer",
        )
        return GUEST_REFUSAL if team else UNKNOWN_REFUSAL
