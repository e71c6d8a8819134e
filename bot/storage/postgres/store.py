"""orderdesk's PostgreSQL store: one object through which callers reach every table, for several replicas.

Each aggregate's SQL lives in its own module of this package, as in the sqlite backend (orders and the buyer
index, ledger, notifications and cards, audit, key/value state, run locks, unfurl reads, the buyer index's
coverage, on-call state, summaries, App Home users, approval requests), built on
:class:`bot.storage.postgres.db.PostgresDatabase`; :class:`PostgresStore` puts them together.

A new table: a migration appended to ``migrations.MIGRATIONS`` (and its columns to ``COPIED_TABLES``), a module
here with a ``PostgresDatabase`` subclass holding its SQL, and that class added to :class:`PostgresStore`'s bases.
"""

from __future__ import annotations

from bot.storage.ports import Storage
from bot.storage.postgres.approvals import PostgresApprovals
from bot.storage.postgres.audit import PostgresAudit
from bot.storage.postgres.buyers import PostgresBuyers
from bot.storage.postgres.coverage import PostgresCoverage
from bot.storage.postgres.db import PostgresDatabase, PostgresUnusable, redacted
from bot.storage.postgres.home import PostgresHome
from bot.storage.postgres.ledger import PostgresLedger
from bot.storage.postgres.notifications import PostgresCards, PostgresNotifications
from bot.storage.postgres.orders import PostgresOrders
from bot.storage.postgres.reminders import PostgresOnCall
from bot.storage.postgres.run_lock import PostgresRunLocks
from bot.storage.postgres.state import PostgresState
from bot.storage.postgres.unfurls import PostgresUnfurls

__all__ = ["PostgresStore", "PostgresUnusable", "redacted"]


class PostgresStore(
    PostgresOrders,
    PostgresLedger,
    PostgresNotifications,
    PostgresCards,
    PostgresAudit,
    PostgresState,
    PostgresRunLocks,
    PostgresUnfurls,
    PostgresBuyers,
    PostgresCoverage,
    PostgresOnCall,
    PostgresHome,
    PostgresApprovals,
    PostgresDatabase,
):
    """The PostgreSQL database at a URL: every port of ``bot.storage.ports``.

    Opening migrates (once across replicas) and opens the connection pool; an unreachable server raises
    :class:`PostgresUnusable` saying why, without the password. Close it to close the pool.
    """


def _store_implements_every_port(store: PostgresStore) -> Storage:
    """Never called: mypy checks here that :class:`PostgresStore` satisfies every port of ``bot.storage.ports``."""
    return store
