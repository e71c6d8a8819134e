"""The sqlite schema, as the migrations that build it; ``bot.storage.sqlite.db`` applies the pending ones on opening.

Applied migrations never change: a new table or column is a new migration at the end, so every database, however
old, reaches the same schema.
"""

from __future__ import annotations

import json

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.domain.order import strip_pii

MIGRATIONS = Migrations("orderdesk")

# Migrations that remove personal data: after them the file is rewritten, so no free page keeps the old text.
SCRUBBING = frozenset({"0005_no_buyer_names_in_the_cache"})


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


@MIGRATIONS(name="0002_ack_order_locks")
def _ack_order_locks(db: Database) -> None:
    """Which idempotency key owns an order's acknowledgement. Two cards of one order carry different keys, so
    the ledger's primary key alone cannot stop both calling Meta; a unique order id here can, with the same
    ``INSERT OR IGNORE`` claim."""
    db.execute("CREATE TABLE ack_order_locks (order_id TEXT PRIMARY KEY, key TEXT NOT NULL, locked_at REAL NOT NULL)")


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


@MIGRATIONS(name="0005_no_buyer_names_in_the_cache")
def _no_buyer_names_in_the_cache(db: Database) -> None:
    """The order cache keeps what PII-free cards show, and earlier versions also kept the buyer's and the
    recipient's names: every cached order is rewritten through today's :func:`strip_pii`. The file is then
    compacted by the store (``SCRUBBING``), since a rewritten row leaves its old text on free pages."""
    rows = db.execute("SELECT id, data FROM orders").fetchall()
    for order_id, data in rows:
        kept = json.dumps(strip_pii(json.loads(data)), separators=(",", ":"))
        if kept != data:
            db.execute("UPDATE orders SET data = ? WHERE id = ?", (kept, order_id))


@MIGRATIONS(name="0006_unfurl_reads")
def _unfurl_reads(db: Database) -> None:
    """When each order was last read from Meta to unfurl a link, so that Slack's several ``link_shared`` events for
    one post cost one Graph request per order per minute, across processes. Holds no buyer data."""
    db.execute("CREATE TABLE unfurl_reads (order_id TEXT PRIMARY KEY, read_at REAL NOT NULL)")


@MIGRATIONS(name="0007_buyer_hashes")
def _buyer_hashes(db: Database) -> None:
    """Keyed hashes (HMAC-SHA256 with ``ORDERDESK_SEARCH_KEY``) of each order's buyer email, phone and name tokens,
    so ``/order find`` can match a buyer without orderdesk keeping who the buyer is."""
    db.execute(
        """
        CREATE TABLE buyer_hashes (
            order_id TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (order_id, kind, hash)
        )
        """
    )
    db.execute("CREATE INDEX buyer_hashes_by_hash ON buyer_hashes (kind, hash)")


@MIGRATIONS(name="0008_buyer_coverage")
def _buyer_coverage(db: Database) -> None:
    """The spans of last-update time a scan of Meta has read with buyer fields (``[covered_from, covered_to)``,
    unix seconds, merged so none overlap or touch), so that ``/order find`` reads from Meta only the part of its
    window the buyer index does not cover yet. Holds no buyer data."""
    db.execute("CREATE TABLE buyer_coverage (covered_from REAL PRIMARY KEY, covered_to REAL NOT NULL)")


@MIGRATIONS(name="0009_approvals")
def _approvals(db: Database) -> None:
    """Four-eyes approval requests: a refund over ``ORDERDESK_REFUND_APPROVAL_OVER`` waits here for a second person.

    One row per intent (``key`` is the idempotency key the write will be sent with), moved pending → approved →
    sent, or to declined / expired, by conditional updates. ``params`` is the checked refund (its preview) as JSON;
    no buyer data. ``channel``/``ts`` name the request message, ``origin_*`` where the requester asked.
    """
    db.execute(
        """
        CREATE TABLE approvals (
            id TEXT PRIMARY KEY,
            operation TEXT NOT NULL,
            order_id TEXT NOT NULL,
            key TEXT NOT NULL UNIQUE,
            params TEXT NOT NULL,
            total TEXT NOT NULL,                -- the amount approved, a decimal string in the currency's digits
            currency TEXT NOT NULL,
            requester_id TEXT NOT NULL,
            requester_team TEXT,
            origin_channel TEXT,
            origin_ts TEXT,
            origin_response_url TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined', 'expired', 'sent')),
            channel TEXT,
            ts TEXT,
            decided_by TEXT,
            decided_at REAL,
            detail TEXT,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            updated_at REAL
        )
        """
    )
    db.execute("CREATE INDEX approvals_by_state ON approvals (state, expires_at)")
    db.execute("CREATE INDEX approvals_by_order ON approvals (order_id, created_at)")


@MIGRATIONS(name="0011_on_call")
def _on_call(db: Database) -> None:
    """The on-call helpers' state: the urgency band each posted card shows (so a card is redrawn only when its
    band changes), one claim per order and reminder stage (so each reminder is posted once across processes and
    restarts), and each order's latest snooze. Holds no buyer data."""
    db.executescript(
        """
        CREATE TABLE card_bands (
            order_id TEXT NOT NULL, channel TEXT NOT NULL, band TEXT NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (order_id, channel)
        );
        CREATE TABLE reminders (
            order_id TEXT NOT NULL,
            stage TEXT NOT NULL,                -- remind, escalate, ship_soon, ship_overdue
            channel TEXT NOT NULL,
            thread_ts TEXT NOT NULL,            -- the card (or digest) the reply goes under
            claimed_at REAL NOT NULL,
            ts TEXT,                            -- the reply, once posted
            PRIMARY KEY (order_id, stage)
        );
        CREATE TABLE snoozes (
            order_id TEXT PRIMARY KEY, until REAL NOT NULL, user_id TEXT NOT NULL, at REAL NOT NULL
        );
        """
    )


@MIGRATIONS(name="0012_summaries_and_home")
def _summaries_and_home(db: Database) -> None:
    """One claim per local day for the daily summary (posted once across processes and restarts), and who opened
    App Home when, with their preferences and when their Home was last published. Holds no buyer data."""
    db.executescript(
        """
        CREATE TABLE daily_summaries (
            day TEXT PRIMARY KEY,               -- the local date (ORDERDESK_TIMEZONE) the summary is for
            channel TEXT NOT NULL,
            claimed_at REAL NOT NULL,
            ts TEXT                             -- the message, once posted
        );
        CREATE TABLE home_users (
            user_id TEXT PRIMARY KEY,
            opened_at REAL NOT NULL,
            published_at REAL,
            dm_escalations INTEGER NOT NULL DEFAULT 0,
            daily_summary INTEGER NOT NULL DEFAULT 0
        );
        """
    )
