"""The services a running bot shares between listeners, built once per process.

Listeners never import services as globals: :func:`bot.runtime.app.create_app` puts every field of
:class:`Services` into Bolt's ``context`` under its own name, and a listener declares what it needs as a
parameter (``def on_order(ack, command, respond, orders, settings)``). Tests build a ``Services`` by hand
around sandboxes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from types import TracebackType

from bot.actions.acknowledge import AcknowledgementService
from bot.actions.approvals import ApprovalService
from bot.actions.cancel import CANCEL_ACTION
from bot.actions.order_actions import REFUND, OrderActionsService
from bot.actions.refund import REFUND_ACTION
from bot.actions.runner import CrashPoints
from bot.actions.ship import SHIP_ACTION
from bot.actions.update_tracking import TRACKING_ACTION
from bot.config import Settings
from bot.graph.client import GraphClient
from bot.lookup.service import OrderService
from bot.notify.health import UsageRecorder
from bot.slack.access import Access, Members
from bot.slack.approval_board import SlackApprovalBoard
from bot.slack.publisher import SlackPublisher
from bot.storage.ports import Backend, Storage
from bot.storage.postgres.store import PostgresStore, redacted
from bot.storage.sqlite.store import Store


def backend_name(settings: Settings) -> str:
    """Which database the settings select, in words fit for a log (never the password)."""
    if settings.database_url:
        return f"PostgreSQL at {redacted(settings.database_url)}"
    return f"sqlite file {settings.db_path}"


def open_store(settings: Settings) -> Backend:
    """The store the settings select: PostgreSQL when ``ORDERDESK_DATABASE_URL`` is set (it wins over
    ``ORDERDESK_DB``), else the sqlite file. Either migrates on opening."""
    if settings.database_url:
        return PostgresStore(settings.database_url, search_key=settings.search_key)
    return Store(settings.db_path, search_key=settings.search_key)


@dataclass(frozen=True)
class Services:
    """``orders``, ``acks`` and ``notifier`` stay ``None`` until their modules exist; listeners that need them
    are registered only alongside them. (Typed ``object`` until then: their owners narrow the type.)"""

    settings: Settings
    graph: GraphClient
    store: Backend
    orders: OrderService | None = None
    acks: AcknowledgementService | None = None
    notifier: object | None = None
    access: Access | None = None
    publisher: SlackPublisher | None = None
    order_actions: OrderActionsService | None = None
    approvals: ApprovalService | None = None

    @classmethod
    def open(cls, settings: Settings, *, crash_points: CrashPoints | None = None) -> Services:
        """The production wiring: a Graph client from settings and the store they select (:func:`open_store`).

        ``crash_points`` arms the acknowledgement crash test's stopping points (``serve --crash-points``)."""
        graph = GraphClient.from_settings(settings)
        try:
            store = open_store(settings)
        except BaseException:
            graph.close()
            raise
        graph.on_usage = UsageRecorder(store)  # Meta's rate-limit headroom, for /order status
        publisher = SlackPublisher.from_settings(settings)
        members = Members(client=publisher.client)
        acks = AcknowledgementService(
            settings, graph, store, publisher=publisher, groups=members, crash_points=crash_points
        )
        orders = OrderService(settings, graph, store)
        access = Access(store, members)
        order_actions = OrderActionsService(
            settings,
            graph,
            store,
            publisher=publisher,
            actions=[SHIP_ACTION, TRACKING_ACTION, CANCEL_ACTION, REFUND_ACTION],
            groups=members,
            crash_points=crash_points,
        )
        return cls(
            settings=settings,
            graph=graph,
            store=store,
            orders=orders,
            acks=acks,
            access=access,
            publisher=publisher,
            order_actions=order_actions,
            approvals=approvals_for(
                settings, graph, store, order_actions, SlackApprovalBoard(publisher.client, publisher.lanes)
            ),
        )

    def context(self) -> dict[str, object]:
        """What the middleware adds to each request's context: one entry per field, by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        self.graph.close()
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def approvals_for(
    settings: Settings,
    graph: GraphClient,
    store: Storage,
    order_actions: OrderActionsService,
    board: SlackApprovalBoard,
    *,
    clock: Callable[[], float] = time.time,
) -> ApprovalService:
    """Four-eyes refunds on the card actions' runner and ledger: approvers are those allowed to refund."""
    return ApprovalService(
        graph,
        store,
        runner=order_actions.runner,
        board=board,
        permissions=order_actions.permissions[REFUND],
        over=settings.refund_approval_over,
        channel=settings.approval_channel,
        ttl_seconds=settings.approval_ttl_seconds,
        clock=clock,
    )
