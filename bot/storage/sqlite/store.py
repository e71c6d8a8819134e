"""orderdesk's storage: every SQL statement of the project lives in this module.

Keeping all SQL here means a second backend (PostgreSQL, for running several replicas) can be added without
touching handlers or services; the statements stick to what both dialects understand where that costs nothing
(``ON CONFLICT``, ``RETURNING``, case folding done in Python rather than with ``COLLATE NOCASE``).

Threads. Bolt runs listeners in a thread pool and the HTTP server has its own, so the store is shared between
threads. Each thread gets its own connection (``threading.local``): reads run side by side under WAL and never
wait for a writer. Writes go through :meth:`Store.transaction`, which takes an in-process lock before
``BEGIN IMMEDIATE``: threads of this process queue on the lock instead of polling in SQLite's busy handler,
whose sleeps starve unlucky writers (bench_ledger, 8 threads: worst claim 1.6 s without the lock, 0.13 s with
it), and ``busy_timeout`` only has to cover other processes (``orderdesk sync`` beside ``serve``, a restart).
Connections are opened with ``check_same_thread=False`` solely so that :meth:`Store.close` (and the reaping of
connections whose thread has ended) can close them from another thread; each is used by its own thread only.

Durability: WAL with ``synchronous=NORMAL`` survives a killed process (the crash the ledger is built for); only a
power loss can drop the last commits.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.runtime.per_thread import PerThread

Row = dict[str, Any]

MIGRATIONS = Migrations("orderdesk")
HEALTH_TABLES = ("orders", "ledger")  # what every lookup and acknowledgement reads: /healthz checks them
CACHE_KIB = 256  # sqlite page cache per connection (one connection per thread)


@MIGRATIONS(name="0001_initial")
def _initial_schema(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE orders (
            id TEXT PRIMARY KEY,                -- Meta's order id: numeric-looking, kept as text
            merchant_ref TEXT,                  -- merchant_order_id as Meta reports it (the reference at ack time)
            reference_key TEXT,                 -- merchant_ref.casefold(): the case-insensitive lookup key
            state TEXT,
            channel TEXT,
            created TEXT,
            last_updated TEXT,
            updated_ts REAL,                    -- last_updated as unix time, so a stale read never wins
            data TEXT NOT NULL DEFAULT '{}',    -- last seen order JSON, without buyer email/phone/street
            seen_at REAL NOT NULL
        );
        CREATE INDEX orders_merchant_ref ON orders (merchant_ref);
        CREATE INDEX orders_reference_key ON orders (reference_key);
        CREATE INDEX orders_state ON orders (state, created);

        CREATE TABLE ledger (
            key TEXT PRIMARY KEY,               -- the idempotency key sent to Meta
            operation TEXT NOT NULL,
            order_id TEXT NOT NULL,
            params TEXT NOT NULL,               -- canonical JSON of the exact Graph parameters
            fingerprint TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
            retryable INTEGER NOT NULL DEFAULT 0,
            user_id TEXT NOT NULL,
            team_id TEXT,
            channel_id TEXT,
            message_ts TEXT,
            reference TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            lease_expires_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            response TEXT,
            error TEXT
        );
        CREATE INDEX ledger_order ON ledger (order_id, operation, created_at);
        CREATE INDEX ledger_state ON ledger (state, lease_expires_at);

        CREATE TABLE notifications (
            order_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            claimed_at REAL NOT NULL,
            ts TEXT,                            -- NULL until posted: claimed but unfinished
            posted_at REAL,
            state_summary TEXT,                 -- what the card last announced, to detect changes
            PRIMARY KEY (order_id, channel)
        );
        CREATE INDEX notifications_unfinished ON notifications (ts) WHERE ts IS NULL;

        CREATE TABLE cards (
            id INTEGER PRIMARY KEY,
            order_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT,
            ts TEXT,
            response_url TEXT,
            created_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX cards_message ON cards (order_id, channel, ts);
        CREATE UNIQUE INDEX cards_response_url ON cards (order_id, response_url);

        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            action TEXT NOT NULL,
            order_id TEXT,
            user_id TEXT NOT NULL,
            team_id TEXT,
            key TEXT,
            outcome TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX audit_order ON audit (order_id, at);

        CREATE TABLE lookup_scans (
            reference_key TEXT PRIMARY KEY,
            found INTEGER NOT NULL,
            scanned_at REAL NOT NULL
        );

        CREATE TABLE state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        """
    )


# --- acknowledgements: one live acknowledgement per order ---------------------------------------------------


@MIGRATIONS(name="0002_ack_order_locks")
def _ack_order_locks(db: Database) -> None:
    """Which idempotency key owns an order's acknowledgement. Two cards of one order carry different keys, so
    the ledger's primary key alone cannot stop both calling Meta; a unique order id here can, with the same
    ``INSERT OR IGNORE`` claim."""
    db.execute("CREATE TABLE ack_order_locks (order_id TEXT PRIMARY KEY, key TEXT NOT NULL, locked_at REAL NOT NULL)")


# --- notifications: digests -----------------------------------------------------------------------------------


@MIGRATIONS(name="0003_notifier_digests")
def _notifier_digests(db: Database) -> None:
    """One message announcing a burst of new orders. Its orders' notification rows carry the digest's ts once it
    is posted, so exactly-once and crash recovery work as for single cards; this row says which orders it lists."""
    db.execute(
        """
        CREATE TABLE notifier_digests (
            id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            order_ids TEXT NOT NULL,            -- JSON list, in announcement order
            created_at REAL NOT NULL,
            ts TEXT                             -- NULL until posted
        )
        """
    )
    db.execute("CREATE INDEX notifier_digests_message ON notifier_digests (channel, ts)")


_LOCKS_AND_RETRIES = (
    """
    ALTER TABLE ack_order_locks ADD COLUMN reference_key TEXT
    """,
    """
    CREATE UNIQUE INDEX ack_order_locks_reference ON ack_order_locks (reference_key)
    """,
    """
    CREATE INDEX ack_order_locks_key ON ack_order_locks (key)
    """,
    """
    ALTER TABLE ledger ADD COLUMN next_attempt_at REAL
    """,
    """
    ALTER TABLE ledger ADD COLUMN gave_up INTEGER NOT NULL DEFAULT 0
    """,
    """
    UPDATE ledger SET next_attempt_at = updated_at WHERE state = 'failed' AND retryable = 1
    """,
    """
    DELETE FROM ack_order_locks WHERE NOT EXISTS (
        SELECT 1 FROM ledger
        WHERE ledger.key = ack_order_locks.key
          AND (ledger.state IN ('pending', 'succeeded') OR (ledger.state = 'failed' AND ledger.retryable = 1))
          AND (ledger.order_id = ack_order_locks.order_id
               OR EXISTS (SELECT 1 FROM json_each(ledger.params, '$.orders') AS sent
                          WHERE json_extract(sent.value, '$.id') = ack_order_locks.order_id))
    )
    """,
    """
    CREATE TABLE ack_waiters (
        key TEXT NOT NULL,                  -- the claim the waiter asked about
        order_id TEXT NOT NULL,             -- the order they clicked (a batch claim covers several)
        user_id TEXT NOT NULL,
        channel TEXT,
        response_url TEXT,
        created_at REAL NOT NULL
    )
    """,
    """
    CREATE INDEX ack_waiters_key ON ack_waiters (key)
    """,
)


@MIGRATIONS(name="0004_claims_hold_the_locks")
def _claims_hold_the_locks(db: Database) -> None:
    """An order's lock row is written and removed only with the ledger claim that holds it.

    ``reference_key`` reserves the merchant reference with the order, so two claims can never send one reference
    for two orders. ``next_attempt_at`` and ``gave_up`` let the sweeper re-drive a transiently failed claim a
    bounded number of times. Locks that no live claim holds (a refused, conflicting or permanently failed claim
    of an older version) are removed, so the orders they held can be acknowledged again.
    """
    for statement in _LOCKS_AND_RETRIES:
        db.execute(statement)


# --- rows handed to callers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedOrder:
    """An order as orderdesk last saw it: enough to find it by reference and to draw a cached card."""

    id: str
    merchant_ref: str | None
    state: str | None
    channel: str | None
    created: str | None
    last_updated: str | None
    data: dict[str, Any]
    seen_at: float


@dataclass(frozen=True)
class NotificationRow:
    """One announcement of an order in a channel; ``ts is None`` means claimed but not (known to be) posted."""

    order_id: str
    channel: str
    claimed_at: float
    ts: str | None
    posted_at: float | None
    state_summary: str | None


@dataclass(frozen=True)
class Card:
    """A message showing an order that the bot can update: by channel + ts, or (ephemeral) by response_url."""

    id: int
    order_id: str
    kind: str
    channel: str | None
    ts: str | None
    response_url: str | None
    created_at: float


@dataclass(frozen=True)
class DigestRow:
    """A digest message: the new orders it announced together; ``ts is None`` until posted."""

    id: str
    channel: str
    order_ids: tuple[str, ...]
    ts: str | None


def _digest_row(row: Row) -> DigestRow:
    return DigestRow(row["id"], row["channel"], tuple(json.loads(row["order_ids"])), row["ts"])


@dataclass(frozen=True)
class AuditRow:
    """Who did what to which order, with the idempotency key and the outcome; never buyer data."""

    id: int
    at: float
    action: str
    order_id: str | None
    user_id: str
    team_id: str | None
    key: str | None
    outcome: str
    detail: str | None


# --- buyer PII ------------------------------------------------------------------------------------------

# Allow-lists, not deny-lists: a field Meta adds later stays out until someone decides it is safe.
_BUYER_FIELDS = frozenset({"name", "email_remarketing_option"})
_ADDRESS_FIELDS = frozenset({"name", "first_name", "last_name", "city", "state", "country"})


def strip_pii(order: Mapping[str, Any]) -> dict[str, Any]:
    """The order without what a cached card does not need: buyer email and phone, street and postal code."""
    kept = dict(order)
    for name, allowed in (("buyer_details", _BUYER_FIELDS), ("shipping_address", _ADDRESS_FIELDS)):
        value = kept.get(name)
        if isinstance(value, Mapping):
            kept[name] = {k: v for k, v in value.items() if k in allowed}
    return kept


def _reference_key(reference: str) -> str:
    return reference.casefold()


def _unix_time(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _order_values(order: Mapping[str, Any], seen_at: float) -> tuple[Any, ...]:
    reference = order.get("merchant_order_id") or None
    status = order.get("order_status")
    return (
        str(order["id"]),
        reference,
        _reference_key(reference) if reference else None,
        status.get("state") if isinstance(status, Mapping) else None,
        order.get("channel"),
        order.get("created"),
        order.get("last_updated"),
        _unix_time(order.get("last_updated")),
        json.dumps(strip_pii(order), separators=(",", ":")),
        seen_at,
    )


# A partial read (the lookup scan asks only for id and merchant_order_id) fills gaps and never erases what a
# fuller read stored; a read older than the stored one (a slow poll racing a lookup) changes nothing.
_UPSERT_ORDER = """
INSERT INTO orders (id, merchant_ref, reference_key, state, channel, created, last_updated, updated_ts, data,
                    seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    merchant_ref = COALESCE(excluded.merchant_ref, orders.merchant_ref),
    reference_key = COALESCE(excluded.reference_key, orders.reference_key),
    state = COALESCE(excluded.state, orders.state),
    channel = COALESCE(excluded.channel, orders.channel),
    created = COALESCE(excluded.created, orders.created),
    last_updated = COALESCE(excluded.last_updated, orders.last_updated),
    updated_ts = COALESCE(excluded.updated_ts, orders.updated_ts),
    data = json_patch(orders.data, excluded.data),
    seen_at = excluded.seen_at
WHERE excluded.updated_ts IS NULL OR orders.updated_ts IS NULL OR excluded.updated_ts >= orders.updated_ts
"""


def _indexed_order(row: Row) -> IndexedOrder:
    return IndexedOrder(**{**row, "data": json.loads(row["data"])})


# --- opening the database --------------------------------------------------------------------------------


class DatabaseUnusable(Exception):
    """The database at ``path`` cannot be opened or created, with ``problem`` in words for the operator.

    Raised instead of sqlite's own errors when a Store opens: "file is not a database" or "unable to open database
    file" do not say which file, or what to do. ``problem`` never starts with the path, so a caller can name the
    setting the path came from (:meth:`for_setting`).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def for_setting(self, variable: str) -> str:
        """One line naming the variable, the path and what is wrong: ``ORDERDESK_DB=/x/y.db: the folder /x ...``."""
        return f"{variable}={self.path}: {self.problem}"


def in_memory(path: str) -> bool:
    """True for the paths sqlite does not treat as a file name (``:memory:``, a temporary database, a URI)."""
    return path == ":memory:" or path == "" or path.startswith("file:")


def database_path_problem(path: str | PathLike[str]) -> str | None:
    """What would stop sqlite from opening or creating a database file at ``path``, found without touching it
    (None when nothing does; sqlite may still find the file itself damaged).

    A missing folder is refused, never created: ``ORDERDESK_DB`` with a typo in it would otherwise start the bot
    on a new, empty ledger beside the real one, forgetting the acknowledgements in flight and the cards it keeps
    current, and nobody would notice until an order was acknowledged twice. Creating the folder is one ``mkdir``
    for the operator; the refusal names it.
    """
    text = os.fspath(path)
    if in_memory(text):
        return None
    target = Path(text)
    folder = Path(os.path.abspath(target.parent))
    if target.is_dir():
        return "this is a folder, not a database file"
    if not folder.is_dir():
        if folder.exists():
            return f"{folder} is a file, not a folder"
        return f"the folder {folder} does not exist: create it, or correct the path"
    # sqlite writes the -wal and -shm files beside the database, so the folder must be writable even when the
    # file exists.
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} cannot be written by this user"
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        return "the file cannot be read and written by this user"
    return None


def _sqlite_problem(error: sqlite3.Error) -> str:
    """sqlite's complaint at opening, in words (its message kept in brackets for a search)."""
    message = str(error)
    if "file is not a database" in message:
        return "the file is not an sqlite database (it is damaged, or another kind of file)"
    if "malformed" in message:
        return f"the database is damaged ({message})"
    if "readonly" in message:
        return f"the file is read-only ({message})"
    return f"sqlite cannot open it ({message})"


class Store:
    """The sqlite database: orders index, ledger rows, notifications, cards, audit, scan memory, key/value state.

    Opening a Store enables WAL and applies pending migrations; a path sqlite cannot use raises
    :class:`DatabaseUnusable` saying why, never sqlite's bare error. Close it (or use it as a context manager): that
    closes every connection any thread opened through it.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._write_lock = threading.Lock()
        self._connections = PerThread(self._connect, "the store")
        problem = database_path_problem(self.path)
        if problem is not None:
            raise DatabaseUnusable(self.path, problem)
        try:
            db = self._db()
            db.enable_wal()
            with self.transaction():
                MIGRATIONS.apply(db)
        except sqlite3.Error as error:
            self.close()
            raise DatabaseUnusable(self.path, _sqlite_problem(error)) from error

    # --- connections and transactions ---------------------------------------------------------------------

    def _db(self) -> Database:
        """The calling thread's connection (one per thread, closed with the store: ``bot.runtime.per_thread``)."""
        return self._connections.get()

    def _connect(self) -> Database:
        # isolation_level=None: no implicit BEGIN; transactions are exactly those of transaction().
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Each of the work pool's threads has its own connection, and sqlite's default cache is 2 MiB per
        # connection: 128 of them would let memory creep up to 256 MiB as caches fill. The OS caches the file for
        # all of them; 256 KiB each keeps the hot pages of a lookup or a claim.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return Database(conn, execute_plugins=False)

    def close(self) -> None:
        """Close every connection opened through this store, in whichever thread; later calls raise."""
        self._connections.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside the block commit together, or not at all.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so two transactions never deadlock upgrading a read
        lock. Nested blocks become savepoints: an inner failure that the caller catches undoes only its writes.
        """
        db = self._db()
        if db.conn.in_transaction:
            with db.atomic():
                yield
            return
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                db.rollback()  # a no-op when the error already ended the transaction
                raise

    def _statement(self) -> AbstractContextManager[None]:
        """The transaction for a single write: the caller's if one is open (a statement is atomic by itself, so
        no savepoint is needed), else a new one. Saves a third of the cost of a claim made inside a transaction.
        """
        return nullcontext() if self._db().conn.in_transaction else self.transaction()

    def _write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement in its own transaction (or the caller's); return the rows it changed."""
        with self._statement():
            return int(self._db().execute(sql, params).rowcount)

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._db().execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _select_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._select(sql, params)
        return rows[0] if rows else None

    def _returning(self, sql: str, params: Sequence[Any]) -> Row | None:
        """An ``UPDATE ... RETURNING`` in a transaction: the changed row, or None when the WHERE did not match."""
        with self._statement():
            return self._select_one(sql, params)

    # --- health (for /healthz and `orderdesk doctor`) -----------------------------------------------------

    def ping(self) -> bool:
        """True when the database answers a query."""
        try:
            return self._select_one("SELECT 1 AS ok") == {"ok": 1}
        except sqlite3.Error:
            return False

    def health_problem(self) -> str | None:
        """Why the database cannot serve the bot, in words, or None when it can.

        Asked on a fresh connection to the file at :attr:`path`: the store's own connections keep reading a file
        that was deleted under them, and a thread's new connection would create an empty one. The migrations
        table must be there with every migration applied, and the core tables readable.
        """
        if self.path == ":memory:" or self.path.startswith("file:"):
            return None if self.ping() else "the database does not answer"
        try:
            conn = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=rw", uri=True)
        except sqlite3.Error:
            return f"the database file {self.path} is missing or cannot be opened"
        try:
            db = Database(conn, execute_plugins=False)
            if not db[MIGRATIONS.migrations_table].exists():
                return f"the database {self.path} has no orderdesk tables (was it deleted or replaced?)"
            pending = [m.name for m in MIGRATIONS.pending(db)]
            if pending:
                return f"the database {self.path} lacks migrations {', '.join(pending)}"
            for table in HEALTH_TABLES:
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()  # noqa: S608 - fixed table names
        except sqlite3.Error as error:
            return f"the database {self.path} cannot be read: {error}"
        finally:
            conn.close()
        return None

    def journal_mode(self) -> str:
        return str(self._db().journal_mode)

    def schema_version(self) -> int:
        """How many of orderdesk's migrations this database has applied."""
        return len(MIGRATIONS.applied(self._db()))

    def migrations_current(self) -> bool:
        return not MIGRATIONS.pending(self._db())

    # --- orders index -------------------------------------------------------------------------------------

    def upsert_order(self, order: Mapping[str, Any]) -> None:
        """Index a Graph order dict (any field selection that includes ``id``), without buyer PII."""
        self._write(_UPSERT_ORDER, _order_values(order, self._clock()))

    def upsert_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """Index many orders in one transaction (a poll page, a scan); the iterable is consumed lazily."""
        seen_at = self._clock()
        with self.transaction():
            self._db().conn.executemany(_UPSERT_ORDER, (_order_values(order, seen_at) for order in orders))

    def get_order(self, order_id: str) -> IndexedOrder | None:
        row = self._select_one(
            "SELECT id, merchant_ref, state, channel, created, last_updated, data, seen_at FROM orders WHERE id = ?",
            (order_id,),
        )
        return _indexed_order(row) if row else None

    def orders_in_state(self, state: str) -> list[IndexedOrder]:
        """Indexed orders last seen in ``state``, oldest first (the order an on-call works through them)."""
        rows = self._select(
            """
            SELECT id, merchant_ref, state, channel, created, last_updated, data, seen_at FROM orders
            WHERE state = ? ORDER BY created, id
            """,
            (state,),
        )
        return [_indexed_order(row) for row in rows]

    def find_by_reference(self, reference: str) -> list[str]:
        """Order ids using a merchant reference: exact matches if any, else case-insensitive ones."""
        exact = self._select("SELECT id FROM orders WHERE merchant_ref = ? ORDER BY id", (reference,))
        if not exact:
            exact = self._select(
                "SELECT id FROM orders WHERE reference_key = ? ORDER BY id", (_reference_key(reference),)
            )
        return [row["id"] for row in exact]

    def reference_owner(self, reference: str, *, other_than: str | None = None) -> str | None:
        """An order (other than ``other_than``) already using this reference, compared case-insensitively."""
        row = self._select_one(
            "SELECT id FROM orders WHERE reference_key = ? AND id IS NOT ? ORDER BY id LIMIT 1",
            (_reference_key(reference), other_than),
        )
        return row["id"] if row else None

    def set_reference(self, order_id: str, reference: str) -> None:
        """Record the reference an order was acknowledged with (indexing the order if it was not yet)."""
        self._write(
            """
            INSERT INTO orders (id, merchant_ref, reference_key, data, seen_at)
            VALUES (?1, ?2, ?3, json_object('id', ?1, 'merchant_order_id', ?2), ?4)
            ON CONFLICT (id) DO UPDATE SET
                merchant_ref = excluded.merchant_ref,
                reference_key = excluded.reference_key,
                data = json_set(orders.data, '$.merchant_order_id', excluded.merchant_ref)
            """,
            (order_id, reference, _reference_key(reference), self._clock()),
        )

    def set_order_state(self, order_id: str, state: str) -> None:
        """Record a state change orderdesk caused itself (an acknowledgement), before Meta's next read shows it."""
        self._write(
            """
            INSERT INTO orders (id, state, data, seen_at)
            VALUES (?1, ?2, json_object('id', ?1, 'order_status', json_object('state', ?2)), ?3)
            ON CONFLICT (id) DO UPDATE SET
                state = excluded.state,
                data = json_set(orders.data, '$.order_status', json_object('state', excluded.state))
            """,
            (order_id, state, self._clock()),
        )

    # --- lookup-scan memory -------------------------------------------------------------------------------

    def record_scan(self, reference: str, found: bool) -> None:
        """Remember that the fallback scan looked for this reference, so a repeated miss does not rescan."""
        self._write(
            """
            INSERT INTO lookup_scans (reference_key, found, scanned_at) VALUES (?, ?, ?)
            ON CONFLICT (reference_key) DO UPDATE SET found = excluded.found, scanned_at = excluded.scanned_at
            """,
            (_reference_key(reference), int(found), self._clock()),
        )

    def scanned_recently(self, reference: str, within_seconds: float) -> bool:
        row = self._select_one(
            "SELECT 1 AS hit FROM lookup_scans WHERE reference_key = ? AND scanned_at >= ?",
            (_reference_key(reference), self._clock() - within_seconds),
        )
        return row is not None

    # --- ledger rows (bot/ledger.py gives them meaning; nothing else should call these) -------------------

    def ledger_insert(self, row: Mapping[str, Any]) -> bool:
        """``INSERT OR IGNORE`` a claim and commit: True iff this call inserted it (rowcount 1)."""
        return (
            self._write(
                """
                INSERT OR IGNORE INTO ledger (key, operation, order_id, params, fingerprint, state, retryable,
                    user_id, team_id, channel_id, message_ts, reference, created_at, updated_at,
                    lease_expires_at, attempts, response, error)
                VALUES (:key, :operation, :order_id, :params, :fingerprint, :state, :retryable, :user_id,
                    :team_id, :channel_id, :message_ts, :reference, :created_at, :updated_at, :lease_expires_at,
                    :attempts, :response, :error)
                """,
                dict(row),
            )
            == 1
        )

    def ledger_get(self, key: str) -> Row | None:
        return self._select_one("SELECT * FROM ledger WHERE key = ?", (key,))

    def ledger_take_over(self, key: str, *, now: float, lease_expires_at: float) -> Row | None:
        """Atomically re-open an abandoned (lease expired) or retryable row; the row iff this caller won."""
        return self._returning(
            """
            UPDATE ledger
            SET state = 'pending', retryable = 0, error = NULL, attempts = attempts + 1,
                lease_expires_at = ?, updated_at = ?, next_attempt_at = NULL, gave_up = 0
            WHERE key = ? AND ((state = 'pending' AND lease_expires_at < ?) OR (state = 'failed' AND retryable = 1))
            RETURNING *
            """,
            (lease_expires_at, now, key, now),
        )

    def ledger_mark_succeeded(self, key: str, *, response: str, now: float) -> Row | None:
        """Pending or failed → succeeded (Meta's word wins); None when already succeeded or unknown."""
        return self._returning(
            """
            UPDATE ledger SET state = 'succeeded', response = ?, error = NULL, retryable = 0, updated_at = ?
            WHERE key = ? AND state <> 'succeeded'
            RETURNING *
            """,
            (response, now, key),
        )

    def ledger_mark_failed(
        self, key: str, *, error: str, retryable: bool, now: float, next_attempt_at: float | None, gave_up: bool
    ) -> Row | None:
        """Pending → failed; None when the row is not pending (a late failure never undoes a success)."""
        return self._returning(
            """
            UPDATE ledger SET state = 'failed', error = ?, retryable = ?, updated_at = ?, next_attempt_at = ?,
                gave_up = ?
            WHERE key = ? AND state = 'pending'
            RETURNING *
            """,
            (error, int(retryable), now, next_attempt_at, int(gave_up), key),
        )

    def ledger_for_order(self, order_id: str, operation: str) -> list[Row]:
        return self._select(
            "SELECT * FROM ledger WHERE order_id = ? AND operation = ? ORDER BY created_at DESC, rowid DESC",
            (order_id, operation),
        )

    def ledger_holding(self, order_id: str) -> Row | None:
        """The entry whose claim holds the order's lock: pending, retrying or succeeded."""
        return self._select_one(
            "SELECT ledger.* FROM ack_order_locks JOIN ledger USING (key) WHERE ack_order_locks.order_id = ?",
            (order_id,),
        )

    def ledger_due(self, *, now: float) -> list[Row]:
        """The sweeper's work: pending rows whose owner's lease ran out, and transient failures due a retry."""
        return self._select(
            """
            SELECT * FROM ledger
            WHERE (state = 'pending' AND lease_expires_at < ?)
               OR (state = 'failed' AND retryable = 1 AND gave_up = 0 AND COALESCE(next_attempt_at, 0) <= ?)
            ORDER BY updated_at
            """,
            (now, now),
        )

    # --- notifications ------------------------------------------------------------------------------------

    def claim_notification(self, order_id: str, channel: str) -> bool:
        """Claim announcing an order in a channel: True for the one caller that should post it."""
        return (
            self._write(
                "INSERT OR IGNORE INTO notifications (order_id, channel, claimed_at) VALUES (?, ?, ?)",
                (order_id, channel, self._clock()),
            )
            == 1
        )

    def complete_notification(self, order_id: str, channel: str, ts: str) -> None:
        """Record the posted message's ts: the notification is done and its card can be updated later."""
        self._write(
            "UPDATE notifications SET ts = ?, posted_at = ? WHERE order_id = ? AND channel = ?",
            (ts, self._clock(), order_id, channel),
        )

    def set_notified_state(self, order_id: str, channel: str, state_summary: str) -> None:
        """What the card in this channel now shows, so the next poll can tell whether the order changed."""
        self._write(
            "UPDATE notifications SET state_summary = ? WHERE order_id = ? AND channel = ?",
            (state_summary, order_id, channel),
        )

    def get_notification(self, order_id: str, channel: str) -> NotificationRow | None:
        row = self._select_one(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE order_id = ? AND channel = ?
            """,
            (order_id, channel),
        )
        return NotificationRow(**row) if row else None

    def unfinished_notifications(self) -> list[NotificationRow]:
        """Claimed but never completed (a crash between claim and post): look in the channel before reposting."""
        rows = self._select(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE ts IS NULL ORDER BY claimed_at
            """
        )
        return [NotificationRow(**row) for row in rows]

    def notifications_for_order(self, order_id: str) -> list[NotificationRow]:
        rows = self._select(
            """
            SELECT order_id, channel, claimed_at, ts, posted_at, state_summary FROM notifications
            WHERE order_id = ? ORDER BY claimed_at
            """,
            (order_id,),
        )
        return [NotificationRow(**row) for row in rows]

    # --- cards --------------------------------------------------------------------------------------------

    def remember_card(
        self, order_id: str, *, channel: str | None, ts: str | None, response_url: str | None, kind: str
    ) -> None:
        """Remember a message showing the order, so that an acknowledgement can update every open card.

        A channel message is addressed by ``channel`` + ``ts``; an ephemeral one only by its ``response_url``.
        Remembering the same message twice is harmless.
        """
        if not (channel and ts) and not response_url:
            raise ValueError("a card needs channel and ts, or a response_url")
        self._write(
            """
            INSERT OR IGNORE INTO cards (order_id, kind, channel, ts, response_url, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (order_id, kind, channel, ts, response_url, self._clock()),
        )

    def cards_for_order(self, order_id: str) -> list[Card]:
        rows = self._select(
            """
            SELECT id, order_id, kind, channel, ts, response_url, created_at FROM cards
            WHERE order_id = ? ORDER BY created_at, id
            """,
            (order_id,),
        )
        return [Card(**row) for row in rows]

    # --- audit --------------------------------------------------------------------------------------------

    def add_audit(
        self,
        *,
        action: str,
        order_id: str | None,
        user_id: str,
        team_id: str | None = None,
        key: str | None = None,
        outcome: str,
        detail: str | None = None,
        at: float | None = None,
    ) -> None:
        """Append to the audit trail. Callers pass Slack ids, keys and outcomes only, never buyer data."""
        self._write(
            """
            INSERT INTO audit (at, action, order_id, user_id, team_id, key, outcome, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (self._clock() if at is None else at, action, order_id, user_id, team_id, key, outcome, detail),
        )

    def audit_for_order(self, order_id: str, *, limit: int = 100) -> list[AuditRow]:
        """The order's audit trail, newest first."""
        rows = self._select(
            """
            SELECT id, at, action, order_id, user_id, team_id, key, outcome, detail FROM audit
            WHERE order_id = ? ORDER BY at DESC, id DESC LIMIT ?
            """,
            (order_id, limit),
        )
        return [AuditRow(**row) for row in rows]

    # --- key/value state (poller watermark, last poll, last error) ----------------------------------------

    def get_state(self, name: str) -> str | None:
        row = self._select_one("SELECT value FROM state WHERE name = ?", (name,))
        return row["value"] if row else None

    def set_state(self, name: str, value: str) -> None:
        self._write(
            """
            INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """,
            (name, value, self._clock()),
        )

    # --- order locks: each held by one live ledger claim (bot/ledger.py writes them with the claims) ---------

    def lock_order(self, order_id: str, key: str, reference: str | None) -> bool:
        """``INSERT OR IGNORE`` the order's lock for ``key``, reserving ``reference`` with it; True iff ``key`` holds
        the order now. False when another key holds the order or another order's lock holds the reference."""
        with self._statement():
            self._db().execute(
                """
                INSERT OR IGNORE INTO ack_order_locks (order_id, key, locked_at, reference_key) VALUES (?, ?, ?, ?)
                """,
                (order_id, key, self._clock(), _reference_key(reference) if reference else None),
            )
            return self.lock_holder(order_id) == key

    def lock_holder(self, order_id: str) -> str | None:
        """The key whose claim holds the order, if any."""
        row = self._select_one("SELECT key FROM ack_order_locks WHERE order_id = ?", (order_id,))
        return str(row["key"]) if row else None

    def reference_holder(self, reference: str) -> tuple[str, str] | None:
        """``(order id, key)`` of the lock reserving a merchant reference (any case), if any."""
        row = self._select_one(
            "SELECT order_id, key FROM ack_order_locks WHERE reference_key = ?", (_reference_key(reference),)
        )
        return (str(row["order_id"]), str(row["key"])) if row else None

    def unlock(self, key: str, order_ids: Iterable[str] | None = None) -> None:
        """Free the orders ``key`` holds (all of them, or those named); locks held by other keys stay."""
        if order_ids is None:
            self._write("DELETE FROM ack_order_locks WHERE key = ?", (key,))
            return
        with self._statement():
            for order_id in order_ids:
                self._write("DELETE FROM ack_order_locks WHERE key = ? AND order_id = ?", (key, order_id))

    # --- who waits for a claim's outcome ------------------------------------------------------------------

    def add_waiter(
        self, key: str, *, order_id: str, user_id: str, channel: str | None, response_url: str | None
    ) -> None:
        """Someone clicked while ``key``'s claim was in flight: tell them its outcome when it is recorded."""
        self._write(
            """
            INSERT INTO ack_waiters (key, order_id, user_id, channel, response_url, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (key, order_id, user_id, channel, response_url, self._clock()),
        )

    def take_waiters(self, key: str) -> list[Row]:
        """Remove and return the waiters of ``key``: each is told by exactly one caller."""
        with self._statement():
            return self._select(
                "DELETE FROM ack_waiters WHERE key = ? RETURNING order_id, user_id, channel, response_url", (key,)
            )

    # --- notifier digests (bot/notifier.py gives them meaning) ---------------------------------------------

    def claim_digest(self, digest_id: str, channel: str, order_ids: Iterable[str]) -> list[str]:
        """Claim the orders' notifications for one digest, in one transaction; the orders this call claimed."""
        with self.transaction():
            claimed = [order_id for order_id in order_ids if self.claim_notification(order_id, channel)]
            if claimed:
                self._write(
                    "INSERT INTO notifier_digests (id, channel, order_ids, created_at) VALUES (?, ?, ?, ?)",
                    (digest_id, channel, json.dumps(claimed), self._clock()),
                )
        return claimed

    def complete_digest(self, digest_id: str, ts: str, states: Mapping[str, str]) -> None:
        """The digest was posted at ``ts``: it and each order's notification (with its ``state_summary``) are done."""
        with self.transaction():
            row = self._select_one("SELECT channel FROM notifier_digests WHERE id = ?", (digest_id,))
            if row is None:
                raise KeyError(digest_id)
            self._write("UPDATE notifier_digests SET ts = ? WHERE id = ?", (ts, digest_id))
            for order_id, summary in states.items():
                self.complete_notification(order_id, row["channel"], ts)
                self.set_notified_state(order_id, row["channel"], summary)

    def get_digest(self, digest_id: str) -> DigestRow | None:
        row = self._select_one("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE id = ?", (digest_id,))
        return _digest_row(row) if row else None

    def digest_at(self, channel: str, ts: str) -> DigestRow | None:
        """The digest posted as message ``ts`` in ``channel``, if that message is one."""
        row = self._select_one(
            "SELECT id, channel, order_ids, ts FROM notifier_digests WHERE channel = ? AND ts = ?", (channel, ts)
        )
        return _digest_row(row) if row else None

    def unfinished_digests(self) -> list[DigestRow]:
        rows = self._select("SELECT id, channel, order_ids, ts FROM notifier_digests WHERE ts IS NULL ORDER BY rowid")
        return [_digest_row(row) for row in rows]
