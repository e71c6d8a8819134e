"""Settings: the one place in orderdesk that reads the environment.

Every other module receives a :class:`Settings` (or the values it needs) from its caller, so tests can build
settings by hand, the demo can run on embedded defaults, and a typo in a variable name shows up in one error
at start-up instead of as a ``KeyError`` at 3 a.m.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from dotenv import dotenv_values
from psycopg.conninfo import conninfo_to_dict

from bot.durations import duration_seconds

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v25.0"


class ConfigError(ValueError):
    """Raised with *every* problem found, one per line, so an operator fixes them in one go."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("orderdesk is not configured correctly:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Route:
    """Send matching orders to ``channel``: by sales channel (facebook/instagram) and/or a minimum total."""

    channel: str
    sales_channel: str | None = None
    min_total: float | None = None


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Secrets are kept out of ``repr`` so a logged Settings never leaks a token."""

    slack_bot_token: str = field(repr=False)
    slack_signing_secret: str = field(repr=False)
    fb_page_id: str
    fb_page_access_token: str = field(repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    fb_graph_url: str = DEFAULT_GRAPH_URL
    fb_graph_version: str = DEFAULT_GRAPH_VERSION
    db_path: str = "orderdesk.db"
    notify_channel: str | None = None
    poll_seconds: int = 60
    poll_overlap_seconds: int = 120
    digest_after: int = 10
    routes: tuple[Route, ...] = ()
    merchant_ref_template: str | None = None
    ack_allowed: tuple[str, ...] = ()
    lookup_scan_max_pages: int = 8
    lookup_scan_max_age_days: int = 90
    lookup_scan_cache_seconds: int = 300
    ack_lease_seconds: int = 60
    sweep_seconds: int = 30
    graph_timeout_seconds: float = 10.0
    graph_max_retries: int = 3
    graph_retry_budget_seconds: float = 8.0
    commerce_manager_url: str = "https://www.facebook.com/commerce_manager/"
    log_level: str = "INFO"
    http_workers: int = 16
    search_key: str | None = field(default=None, repr=False)
    # Set: the PostgreSQL backend (several replicas share it), and db_path is unused. Out of repr: it may hold a
    # password.
    database_url: str | None = field(default=None, repr=False)
    timezone: str = "UTC"
    remind_after_seconds: int = 3600
    escalate_after_seconds: int = 4 * 3600
    oncall_group: str | None = None
    summary_at: str | None = None
    ship_allowed: tuple[str, ...] = ()  # empty: whoever may acknowledge
    cancel_allowed: tuple[str, ...] = ()  # empty: nobody (money leaves the shop)
    refund_allowed: tuple[str, ...] = ()  # empty: nobody
    refund_approval_over: Decimal | None = None  # None: no refund needs a second person's approval
    approval_channel: str | None = None  # None: the channel of the card the refund was asked from
    approval_ttl_seconds: int = 24 * 3600

    @property
    def graph_base_url(self) -> str:
        """``{FB_GRAPH_URL}/{FB_GRAPH_VERSION}/``: the prefix every Graph request path is joined to."""
        return f"{self.fb_graph_url.rstrip('/')}/{self.fb_graph_version}/"

    @property
    def zone(self) -> ZoneInfo:
        """``ORDERDESK_TIMEZONE`` as a time zone: where deadlines, the daily summary and ship-by dates are read."""
        return ZoneInfo(self.timezone)

    @property
    def socket_mode_available(self) -> bool:
        return bool(self.slack_app_token)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some values changed (tests and the demo); no validation is skipped by callers."""
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment that :meth:`from_env` reads back into these settings (unset optional values left out).

        For starting a real ``orderdesk`` process from settings built in Python: the crash tests and the load
        benchmark configure their subprocesses exactly the way a deployment does, through the environment.
        """
        env: dict[str, str] = {}
        for name, (attr, _, _) in _SPECS.items():
            value = getattr(self, attr)
            if value is None or value == ():
                continue
            if attr == "routes":
                env[name] = ",".join(_route_text(route) for route in value)
            elif isinstance(value, tuple):
                env[name] = ",".join(value)
            else:
                env[name] = str(value)
        return env

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | Path | None = ".env",
    ) -> Settings:
        """Read and validate settings.

        ``environ`` defaults to ``os.environ``. Values from ``dotenv_path`` fill in only variables that are not
        already set, so a deployment's real environment always wins over a stray ``.env``.
        """
        env: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env.update(os.environ if environ is None else environ)
        return _parse(env)


# Parsing.

_SPECS: dict[str, tuple[str, bool, str]] = {
    # variable: (Settings field, required, what a valid value looks like)
    "SLACK_BOT_TOKEN": ("slack_bot_token", True, "a bot token starting with xoxb-"),
    "SLACK_SIGNING_SECRET": ("slack_signing_secret", True, "the app's signing secret (Basic Information page)"),
    "SLACK_APP_TOKEN": ("slack_app_token", False, "an app-level token starting with xapp- (Socket Mode)"),
    "SLACK_API_URL": ("slack_api_url", False, "an http(s) URL ending in /, e.g. https://slack.com/api/"),
    "FB_PAGE_ID": ("fb_page_id", True, "the numeric id of the Facebook Page, e.g. 1122334455"),
    "FB_PAGE_ACCESS_TOKEN": ("fb_page_access_token", True, "a Page access token (EDITOR role or above)"),
    "FB_GRAPH_URL": ("fb_graph_url", False, "an http(s) URL, e.g. https://graph.facebook.com"),
    "FB_GRAPH_VERSION": ("fb_graph_version", False, "a Graph API version such as v25.0"),
    "ORDERDESK_DB": ("db_path", False, "a path to the sqlite file, e.g. orderdesk.db"),
    "ORDERDESK_NOTIFY_CHANNEL": ("notify_channel", False, "a Slack channel id such as C0123456789"),
    "ORDERDESK_POLL_SECONDS": ("poll_seconds", False, "a duration of at least 5s, e.g. 60, 60s or 1m"),
    "ORDERDESK_POLL_OVERLAP_SECONDS": ("poll_overlap_seconds", False, "a duration such as 30, 30s or 2m"),
    "ORDERDESK_DIGEST_AFTER": ("digest_after", False, "a whole number >= 1, e.g. 10"),
    "ORDERDESK_ROUTES": ("routes", False, "e.g. instagram=C0INSTA,total>=500:C0BIG,facebook=C0FB"),
    "ORDERDESK_MERCHANT_REF_TEMPLATE": ("merchant_ref_template", False, "a template such as FB-{order_id}"),
    "ORDERDESK_ACK_ALLOWED": ("ack_allowed", False, "comma-separated user ids (U…/W…) and user-group ids (S…)"),
    "ORDERDESK_LOOKUP_SCAN_PAGES": ("lookup_scan_max_pages", False, "a whole number >= 0, e.g. 8"),
    "ORDERDESK_LOOKUP_SCAN_DAYS": ("lookup_scan_max_age_days", False, "a whole number of days >= 1, e.g. 90"),
    "ORDERDESK_LOOKUP_SCAN_CACHE_SECONDS": ("lookup_scan_cache_seconds", False, "a duration such as 300, 300s or 5m"),
    "ORDERDESK_ACK_LEASE_SECONDS": ("ack_lease_seconds", False, "a duration of at least 5s, e.g. 60 or 1m"),
    "ORDERDESK_SWEEP_SECONDS": ("sweep_seconds", False, "a duration of at least 1s, e.g. 15 or 15s"),
    "ORDERDESK_GRAPH_TIMEOUT": ("graph_timeout_seconds", False, "seconds, e.g. 10"),
    "ORDERDESK_GRAPH_MAX_RETRIES": ("graph_max_retries", False, "a whole number >= 0, e.g. 3"),
    "ORDERDESK_GRAPH_RETRY_BUDGET": ("graph_retry_budget_seconds", False, "seconds, e.g. 8"),
    "ORDERDESK_COMMERCE_MANAGER_URL": ("commerce_manager_url", False, "an http(s) URL"),
    "ORDERDESK_LOG_LEVEL": ("log_level", False, "one of DEBUG, INFO, WARNING, ERROR"),
    "ORDERDESK_HTTP_WORKERS": ("http_workers", False, "a whole number of server threads >= 1, e.g. 16"),
    "ORDERDESK_SEARCH_KEY": ("search_key", False, "a random secret of at least 16 characters (openssl rand -hex 32)"),
    "ORDERDESK_DATABASE_URL": (
        "database_url",
        False,
        "a PostgreSQL URL such as postgresql://orderdesk:PASSWORD@db.internal:5432/orderdesk "
        "(a local socket: postgresql:///DATABASE?host=/var/run/postgresql)",
    ),
    "ORDERDESK_TIMEZONE": ("timezone", False, "an IANA time zone name such as Europe/Berlin (default UTC)"),
    "ORDERDESK_REMIND_AFTER": ("remind_after_seconds", False, "a duration of at least 1s, e.g. 1h or 30m"),
    "ORDERDESK_ESCALATE_AFTER": ("escalate_after_seconds", False, "a duration of at least 1s, e.g. 4h"),
    "ORDERDESK_ONCALL_GROUP": ("oncall_group", False, "a Slack user-group id such as S0123456789"),
    "ORDERDESK_SUMMARY_AT": ("summary_at", False, "a local time HH:MM such as 09:00, or empty for no summary"),
    "ORDERDESK_SHIP_ALLOWED": ("ship_allowed", False, "comma-separated user ids (U…/W…) and user-group ids (S…)"),
    "ORDERDESK_CANCEL_ALLOWED": ("cancel_allowed", False, "comma-separated user ids (U…/W…) and user-group ids (S…)"),
    "ORDERDESK_REFUND_ALLOWED": ("refund_allowed", False, "comma-separated user ids (U…/W…) and user-group ids (S…)"),
    "ORDERDESK_REFUND_APPROVAL_OVER": (
        "refund_approval_over",
        False,
        "an amount such as 100 or 250.50, without a currency code: it is compared with each refund in its order's "
        "own currency (empty: no refund needs approval)",
    ),
    "ORDERDESK_APPROVAL_CHANNEL": ("approval_channel", False, "a Slack channel id such as C0123456789 (not a DM)"),
    "ORDERDESK_APPROVAL_TTL": ("approval_ttl_seconds", False, "a duration of at least 1m, e.g. 24h or 2d"),
}

# The example values of `.env.example`, which pass the format checks below: a copied `.env` that was never filled
# in must say so, not fail later as Slack's "invalid_auth" or Meta's "Invalid OAuth access token".
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    # variable: (the value .env.example shows, what to put instead)
    "SLACK_BOT_TOKEN": (
        "xoxb-your-bot-token",
        "the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
    ),
    "SLACK_SIGNING_SECRET": (
        "your-signing-secret",
        "the Signing Secret from the app's Basic Information page",
    ),
    "FB_PAGE_ACCESS_TOKEN": (
        "your-page-access-token",
        "a Page access token for FB_PAGE_ID (a system user's token: Business Settings → System users)",
    ),
}

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_ACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


def _int(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < minimum:
            raise ValueError
        return value

    return parse


def _duration(minimum: int) -> Callable[[str], int]:
    """Seconds from the one duration grammar (``bot.durations``): ``90``, ``90s``, ``15m``, ``4h``, ``1d``."""

    def parse(raw: str) -> int:
        value = duration_seconds(raw)
        if value < minimum:
            raise ValueError
        return value

    return parse


def _float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError
    return value


def _prefixed(prefix: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(prefix) or len(raw) <= len(prefix):
            raise ValueError
        return raw

    return parse


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError
    return raw


def _url(raw: str) -> str:
    if not _URL.match(raw):
        raise ValueError
    return raw


def _slack_api_url(raw: str) -> str:
    # WebClient joins with urljoin: without the trailing slash the /api/ path would be dropped.
    return _url(raw if raw.endswith("/") else raw + "/")


def _page_id(raw: str) -> str:
    if not raw.isdigit():
        raise ValueError
    return raw


def _version(raw: str) -> str:
    if not re.fullmatch(r"v\d+\.\d+", raw):
        raise ValueError
    return raw


def _channel(raw: str) -> str:
    if not _CHANNEL.match(raw):
        raise ValueError
    return raw


def _template(raw: str) -> str:
    if "{order_id}" not in raw:
        raise ValueError
    try:
        raw.format(order_id="1")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError from exc
    return raw


def _ack_allowed(raw: str) -> tuple[str, ...]:
    items = tuple(p.strip() for p in raw.replace(" ", ",").split(",") if p.strip())
    if not all(_ACK_ID.match(p) for p in items):
        raise ValueError
    return items


def _routes(raw: str) -> tuple[Route, ...]:
    routes: list[Route] = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        if part.startswith("total>="):
            amount, _, channel = part.removeprefix("total>=").partition(":")
            routes.append(Route(channel=_channel(channel), min_total=float(amount)))
            continue
        sales, sep, channel = part.partition("=")
        if not sep or sales.lower() not in {"facebook", "instagram"}:
            raise ValueError
        routes.append(Route(channel=_channel(channel), sales_channel=sales.lower()))
    return tuple(routes)


def _route_text(route: Route) -> str:
    """One route as ``ORDERDESK_ROUTES`` spells it (the inverse of :func:`_routes`)."""
    if route.min_total is not None:
        return f"total>={route.min_total!r}:{route.channel}"
    return f"{route.sales_channel}={route.channel}"


def _search_key(raw: str) -> str:
    # A short key would let anyone holding the database guess it and then test emails against the index.
    if len(raw) < 16:
        raise ValueError
    return raw


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError from exc
    return raw


def _group(raw: str) -> str:
    if not re.fullmatch(r"S[A-Z0-9]{2,}", raw):
        raise ValueError
    return raw


def _hh_mm(raw: str) -> str:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw)
    if match is None:
        raise ValueError
    return f"{int(match[1]):02d}:{match[2]}"


def _amount(raw: str) -> Decimal:
    """A plain non-negative amount (``100``, ``250.50``): compared with each refund in its order's currency."""
    if not re.fullmatch(r"\d{1,15}(\.\d{1,4})?", raw):
        raise ValueError
    return Decimal(raw)


def _shared_channel(raw: str) -> str:
    """A channel people share: a public or private channel id, never a direct message (``D…``)."""
    if raw.startswith("D"):
        raise ValueError
    return _channel(raw)


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError
    return value


def _database_url(raw: str) -> str:
    """A ``postgresql://`` URL as libpq reads it (through psycopg's own parser, so what connects is accepted: a
    Unix socket folder as ``?host=/var/run/postgresql`` or ``%2Fvar%2Frun%2Fpostgresql``, several hosts), naming a
    host and a database, its ports numbers in range."""
    if urlsplit(raw).scheme not in {"postgresql", "postgres"}:
        raise ValueError
    try:
        options = conninfo_to_dict(raw)
    except psycopg.Error as error:
        raise ValueError from error
    if not options.get("host") or not options.get("dbname"):
        raise ValueError
    for port in str(options.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError
    return raw


_PARSERS: dict[str, Callable[[str], Any]] = {
    "SLACK_BOT_TOKEN": _prefixed("xoxb-"),
    "SLACK_SIGNING_SECRET": _nonempty,
    "SLACK_APP_TOKEN": _prefixed("xapp-"),
    "SLACK_API_URL": _slack_api_url,
    "FB_PAGE_ID": _page_id,
    "FB_PAGE_ACCESS_TOKEN": _nonempty,
    "FB_GRAPH_URL": _url,
    "FB_GRAPH_VERSION": _version,
    "ORDERDESK_DB": _nonempty,
    "ORDERDESK_NOTIFY_CHANNEL": _channel,
    "ORDERDESK_POLL_SECONDS": _duration(5),
    "ORDERDESK_POLL_OVERLAP_SECONDS": _duration(0),
    "ORDERDESK_DIGEST_AFTER": _int(1),
    "ORDERDESK_ROUTES": _routes,
    "ORDERDESK_MERCHANT_REF_TEMPLATE": _template,
    "ORDERDESK_ACK_ALLOWED": _ack_allowed,
    "ORDERDESK_LOOKUP_SCAN_PAGES": _int(0),
    "ORDERDESK_LOOKUP_SCAN_DAYS": _int(1),
    "ORDERDESK_LOOKUP_SCAN_CACHE_SECONDS": _duration(0),
    "ORDERDESK_ACK_LEASE_SECONDS": _duration(5),
    "ORDERDESK_SWEEP_SECONDS": _duration(1),
    "ORDERDESK_GRAPH_TIMEOUT": _float,
    "ORDERDESK_GRAPH_MAX_RETRIES": _int(0),
    "ORDERDESK_GRAPH_RETRY_BUDGET": _float,
    "ORDERDESK_COMMERCE_MANAGER_URL": _url,
    "ORDERDESK_LOG_LEVEL": _log_level,
    "ORDERDESK_HTTP_WORKERS": _int(1),
    "ORDERDESK_SEARCH_KEY": _search_key,
    "ORDERDESK_DATABASE_URL": _database_url,
    "ORDERDESK_TIMEZONE": _timezone,
    "ORDERDESK_REMIND_AFTER": _duration(1),
    "ORDERDESK_ESCALATE_AFTER": _duration(1),
    "ORDERDESK_ONCALL_GROUP": _group,
    "ORDERDESK_SUMMARY_AT": _hh_mm,
    "ORDERDESK_SHIP_ALLOWED": _ack_allowed,
    "ORDERDESK_CANCEL_ALLOWED": _ack_allowed,
    "ORDERDESK_REFUND_ALLOWED": _ack_allowed,
    "ORDERDESK_REFUND_APPROVAL_OVER": _amount,
    "ORDERDESK_APPROVAL_CHANNEL": _shared_channel,
    "ORDERDESK_APPROVAL_TTL": _duration(60),
}


def _parse(env: Mapping[str, str]) -> Settings:
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, (attr, required, looks_like) in _SPECS.items():
        raw = env.get(name, "").strip()
        if not raw:
            if required:
                problems.append(f"{name} is missing: set it to {looks_like}")
            continue
        placeholder, instead = PLACEHOLDERS.get(name, ("", ""))
        if raw == placeholder:
            problems.append(f"{name} is still the placeholder from .env.example: set it to {instead}")
            continue
        try:
            values[attr] = _PARSERS[name](raw)
        except ValueError:
            # Never echo the value: it may be a secret pasted into the wrong variable.
            problems.append(f"{name} is malformed: it should be {looks_like}")
    if env.get("SLACK_CLIENT_ID") and env.get("SLACK_CLIENT_SECRET"):
        # Bolt reads these two from the environment by itself and silently turns into a multi-workspace OAuth app.
        problems.append(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are both set: unset them, orderdesk is a single-workspace app "
            "that uses SLACK_BOT_TOKEN (Bolt would otherwise switch itself to OAuth installation mode)"
        )
    remind = values.get("remind_after_seconds", Settings.remind_after_seconds)
    escalate = values.get("escalate_after_seconds", Settings.escalate_after_seconds)
    if remind >= escalate:
        # Both count from the announcement: a reminder due at or after the escalation would never be posted.
        problems.append(
            "ORDERDESK_REMIND_AFTER must be shorter than ORDERDESK_ESCALATE_AFTER (both count from the "
            "announcement; the reminder comes first, the escalation later): e.g. 1h and 4h"
        )
    if problems:
        raise ConfigError(problems)
    return Settings(**values)


def setting_names() -> list[str]:
    """Every variable orderdesk reads (used by the test that keeps `.env.example` complete)."""
    known = {f.name for f in fields(Settings)}
    assert all(attr in known for attr, _, _ in _SPECS.values())
    return list(_SPECS)


def setting_variable(field_name: str) -> str:
    """The environment variable that sets ``Settings.<field_name>``, for messages that name it
    (``setting_variable("db_path") == "ORDERDESK_DB"``)."""
    return next(name for name, (attr, _, _) in _SPECS.items() if attr == field_name)
