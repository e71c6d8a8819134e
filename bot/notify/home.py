"""What App Home shows one user, and when it must be redrawn: pure of Slack (the view draws it).

Home shows the queue's counts by state and deadline, the most urgent orders, the user's own recent actions and
their preferences. It is redrawn for the users who opened it in the last day whenever the queue changes, which
:func:`queue_signature` tells: a digest of what the Home's order lines show (ids, states, bands).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from bot.notify.queue import Waiting, waiting_orders
from bot.storage.ports import Storage
from bot.storage.rows import AuditRow, HomeUser

HOME_SHOWN = 20
RECENT_ACTIONS = 10


@dataclass(frozen=True)
class HomeState:
    user_id: str
    awaiting_ack: int
    awaiting_shipment: int
    bands: dict[str, int]  # overdue / soon / later → count
    urgent: tuple[Waiting, ...]
    total: int
    recent: tuple[AuditRow, ...]
    dm_escalations: bool
    daily_summary: bool


def _state(entry: Waiting) -> str | None:
    status = entry.order.get("order_status")
    return status.get("state") if isinstance(status, dict) else None


def queue_signature(waiting: Sequence[Waiting]) -> str:
    """Changes whenever a line Home shows would: an order joins or leaves, changes state or deadline band."""
    parts = [f"{w.order_id}:{_state(w)}:{w.clock.band if w.clock else '-'}" for w in waiting]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def home_state(store: Storage, user_id: str, *, now: float, zone: tzinfo) -> tuple[HomeState, str]:
    """The user's Home now, and the queue signature it was drawn from."""
    waiting = waiting_orders(store, now, zone)
    states = Counter(_state(entry) for entry in waiting)
    bands = Counter(entry.clock.band for entry in waiting if entry.clock is not None)
    user: HomeUser | None = store.home_user(user_id)
    state = HomeState(
        user_id=user_id,
        awaiting_ack=states.get("CREATED", 0),
        awaiting_shipment=states.get("IN_PROGRESS", 0),
        bands={band: bands.get(band, 0) for band in ("overdue", "soon", "later")},
        urgent=tuple(waiting[:HOME_SHOWN]),
        total=len(waiting),
        recent=tuple(store.actions_by_user(user_id, limit=RECENT_ACTIONS)),
        dm_escalations=user.dm_escalations if user else False,
        daily_summary=user.daily_summary if user else False,
    )
    return state, queue_signature(waiting)
