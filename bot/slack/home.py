"""Publishing App Home (``views.publish``): when a user opens it, when they change a preference, and, for the users
who opened it in the last day, whenever the queue changes.

At most one publish per user every ``every_seconds``, decided in the database (a claim on the user's row), so a
burst of queue changes, or several processes, cost one ``views.publish`` per user per interval; a change that
fell inside the interval is published by the next pass after it (each user's Home remembers the queue signature it
was drawn from).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.actions.ledger import Ledger
from bot.config import Settings
from bot.notify.announce import Announcer
from bot.notify.home import home_state, queue_signature
from bot.notify.queue import waiting_orders
from bot.slack.views.home import home_view
from bot.slack.views.kit import section
from bot.storage.ports import RunLockBusy, Storage

log = logging.getLogger(__name__)

HOME_EVERY_SECONDS = 5.0
RECENT_OPENERS_SECONDS = 86_400.0
SHOWN = "home.shown."  # key/value: the queue signature each user's Home was drawn from
STALE = "stale"


class HomePublisher:
    def __init__(
        self,
        settings: Settings,
        store: Storage,
        client: WebClient,
        *,
        every_seconds: float = HOME_EVERY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._every = every_seconds
        self._clock = clock

    def opened(self, user_id: str) -> bool:
        """The user opened Home: remember it, and publish it unless it was published within the interval."""
        self._store.home_opened(user_id)
        return self.publish(user_id)

    def mark_stale(self, user_id: str) -> None:
        self._store.set_state(SHOWN + user_id, STALE)

    def publish(self, user_id: str) -> bool:
        """Publish the user's Home if this call wins the interval's claim; True when it did. Its lines carry the
        user's list keys (:meth:`Announcer.list_key`), so a press before and after a re-publish is one intent."""
        if not self._store.claim_home_publish(user_id, every_seconds=self._every):
            return False
        now = self._clock()
        state, signature = home_state(self._store, user_id, now=now, zone=self._settings.zone)
        announcer = Announcer(self._store, Ledger(self._store))
        view = home_view(
            state,
            ack_keys={entry.order_id: announcer.list_key(entry.order_id, user_id) for entry in state.urgent},
            commerce_manager_url=self._settings.commerce_manager_url,
            now=now,
        )
        try:
            self._client.views_publish(user_id=user_id, view=view)
        except (SlackApiError, SlackClientError, OSError):
            log.exception("could not publish App Home for %s", user_id)
            self.mark_stale(user_id)
            return False
        self._store.set_state(SHOWN + user_id, signature)
        return True

    def publish_refusal(self, user_id: str, words: str) -> None:
        try:
            self._client.views_publish(user_id=user_id, view={"type": "home", "blocks": [section(words)]})
        except (SlackApiError, SlackClientError, OSError):
            log.exception("could not publish App Home for %s", user_id)

    def refresh(self) -> int:
        """Republish Home for recent openers whose Home no longer shows the queue as it is; how many."""
        now = self._clock()
        signature = queue_signature(waiting_orders(self._store, now, self._settings.zone))
        published = 0
        for user in self._store.home_users_since(now - RECENT_OPENERS_SECONDS):
            if self._store.get_state(SHOWN + user.user_id) != signature and self.publish(user.user_id):
                published += 1
        return published

    def refresh_in_service(self) -> int:
        try:
            with self._store.run_lock("app_home", wait=False):
                return self.refresh()
        except RunLockBusy:
            return 0
