"""orderdesk's sqlite store: one object through which callers reach every table.

Each aggregate's SQL lives in its own module of this package (orders, ledger, notifications and cards, audit,
key/value state, run locks), built on :class:`bot.storage.sqlite.db.SqliteDatabase`; :class:`Store` puts them
together, so callers hold one store and type their parameters with the ports of ``bot.storage.ports`` they use.
The statements stick to what PostgreSQL also understands where that costs nothing (``ON CONFLICT``,
``RETURNING``, case folding done in Python rather than with ``COLLATE NOCASE``).

The names callers have imported from here since the store was one module stay importable from here.
"""

from __future__ import annotations

from bot.domain.order import strip_pii
from bot.storage.ports import Storage
from bot.storage.rows import AuditRow, Card, DigestRow, IndexedOrder, NotificationRow, Row
from bot.storage.sqlite.approvals import SqliteApprovals
from bot.storage.sqlite.audit import SqliteAudit
from bot.storage.sqlite.buyers import SqliteBuyers
from bot.storage.sqlite.coverage import SqliteCoverage
from bot.storage.sqlite.db import DatabaseUnusable, SqliteDatabase, database_path_problem, in_memory
from bot.storage.sqlite.home import SqliteHome
from bot.storage.sqlite.ledger import SqliteLedger
from bot.storage.sqlite.migrations import MIGRATIONS
from bot.storage.sqlite.notifications import SqliteCards, SqliteNotifications
from bot.storage.sqlite.orders import SqliteOrders
from bot.storage.sqlite.reminders import SqliteOnCall
from bot.storage.sqlite.run_lock import SqliteRunLocks
from bot.storage.sqlite.state import SqliteState
from bot.storage.sqlite.unfurls import SqliteUnfurls

__all__ = [
    "MIGRATIONS",
    "AuditRow",
    "Card",
    "DatabaseUnusable",
    "DigestRow",
    "IndexedOrder",
    "NotificationRow",
    "Row",
    "Store",
    "database_path_problem",
    "in_memory",
    "strip_pii",
]


class Store(
    SqliteOrders,
    SqliteLedger,
    SqliteNotifications,
    SqliteCards,
    SqliteAudit,
    SqliteState,
    SqliteRunLocks,
    SqliteUnfurls,
    SqliteBuyers,
    SqliteCoverage,
    SqliteOnCall,
    SqliteHome,
    SqliteApprovals,
    SqliteDatabase,
):
    """The sqlite database: orders index, ledger rows, notifications, cards, audit, scan memory, key/value state,
    run locks, unfurl reads, the buyer search index (hashed with ``search_key``, when given) and what scans of
    Meta covered of it, on-call state, summaries, App Home users and approval requests.

    Opening a Store enables WAL and applies pending migrations; a path sqlite cannot use raises
    :class:`DatabaseUnusable` saying why, never sqlite's bare error. Close it (or use it as a context manager): that
    closes every connection any thread opened through it.
    """


def _store_implements_every_port(store: Store) -> Storage:
    """Never called: mypy checks here that :class:`Store` satisfies every port of ``bot.storage.ports``."""
    return store
