from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import PLACEHOLDERS, ConfigError, Route, Settings, setting_names, setting_variable

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cret",
    "FB_PAGE_ID": "1122334455",
    "FB_PAGE_ACCESS_TOKEN": "EAAB-page-token",
}


def test_defaults_apply() -> None:
    s = Settings.from_env(GOOD, dotenv_path=None)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.graph_base_url == "https://graph.facebook.com/v25.0/"
    assert s.db_path == "orderdesk.db"
    assert s.poll_seconds == 60
    assert s.notify_channel is None
    assert not s.socket_mode_available


def test_all_problems_reported_at_once_without_values() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxp-user-token-pasted", "ORDERDESK_POLL_SECONDS": "soon", "FB_GRAPH_URL": "ftp://x"}
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env, dotenv_path=None)
    text = str(err.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "FB_PAGE_ID", "FB_PAGE_ACCESS_TOKEN"):
        assert name in text
    assert "ORDERDESK_POLL_SECONDS is malformed" in text
    assert "FB_GRAPH_URL is malformed" in text
    assert "xoxp-user-token-pasted" not in text
    assert len(err.value.problems) == 6


def test_dotenv_does_not_override_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("FB_PAGE_ID=999\nORDERDESK_DB=from-dotenv.db\n")
    s = Settings.from_env(GOOD, dotenv_path=dotenv)
    assert s.fb_page_id == "1122334455"
    assert s.db_path == "from-dotenv.db"


def test_slack_api_url_gets_trailing_slash() -> None:
    s = Settings.from_env({**GOOD, "SLACK_API_URL": "http://127.0.0.1:9000/api"}, dotenv_path=None)
    assert s.slack_api_url == "http://127.0.0.1:9000/api/"


def test_secrets_not_in_repr() -> None:
    s = Settings.from_env({**GOOD, "SLACK_APP_TOKEN": "xapp-1-secret"}, dotenv_path=None)
    text = repr(s)
    assert "xoxb-1-2-abc" not in text
    assert "s3cret" not in text
    assert "EAAB-page-token" not in text
    assert "xapp-1-secret" not in text


def test_routes_and_ack_allowed_parse() -> None:
    s = Settings.from_env(
        {**GOOD, "ORDERDESK_ROUTES": "instagram=C0INSTA, total>=500:C0BIG", "ORDERDESK_ACK_ALLOWED": "U123,S0ONCALL"},
        dotenv_path=None,
    )
    assert s.routes == (Route("C0INSTA", sales_channel="instagram"), Route("C0BIG", min_total=500.0))
    assert s.ack_allowed == ("U123", "S0ONCALL")


def test_to_env_reads_back_into_the_same_settings() -> None:
    """Every field set away from its default survives ``to_env`` → ``from_env`` (subprocesses are configured so)."""
    changed = Settings(
        slack_bot_token="xoxb-9-9-zz",
        slack_signing_secret="another",
        fb_page_id="998877",
        fb_page_access_token="EAAB-other",
        slack_app_token="xapp-1-abc",
        slack_api_url="http://127.0.0.1:9/api/",
        fb_graph_url="http://127.0.0.1:8",
        fb_graph_version="v24.0",
        db_path="/tmp/x.db",
        notify_channel="C0ORDERS",
        poll_seconds=7,
        poll_overlap_seconds=0,
        digest_after=3,
        routes=(Route("C0INSTA", sales_channel="instagram"), Route("C0BIG", min_total=499.95)),
        merchant_ref_template="FB-{order_id}",
        ack_allowed=("U123", "S0ONCALL"),
        lookup_scan_max_pages=0,
        lookup_scan_max_age_days=2,
        lookup_scan_cache_seconds=0,
        ack_lease_seconds=5,
        sweep_seconds=1,
        graph_timeout_seconds=2.5,
        graph_max_retries=0,
        graph_retry_budget_seconds=0.5,
        commerce_manager_url="https://cm.example/",
        log_level="DEBUG",
        http_workers=3,
        search_key="s" * 32,
        database_url="postgresql://bot:pw@db:5433/orderdesk",
        timezone="Europe/Berlin",
        remind_after_seconds=60,
        escalate_after_seconds=120,
        oncall_group="S0ONCALL",
        summary_at="09:00",
        ship_allowed=("U0SHIP",),
        cancel_allowed=("S0LEADS", "U0LEAD"),
        refund_allowed=("U0LEAD",),
        refund_approval_over=Decimal("99.5"),
        approval_channel="C0APPROVE",
        approval_ttl_seconds=3600,
    )
    defaults = Settings.from_env(GOOD, dotenv_path=None)
    assert all(getattr(changed, f) != getattr(defaults, f) for f in vars(defaults)), "a field kept its default"
    assert Settings.from_env(changed.to_env(), dotenv_path=None) == changed
    assert Settings.from_env(defaults.to_env(), dotenv_path=None) == defaults
    assert set(defaults.to_env()) <= set(setting_names())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDERDESK_MERCHANT_REF_TEMPLATE", "FB-{nope}"),
        ("ORDERDESK_ROUTES", "tiktok=C0X"),
        ("ORDERDESK_ACK_ALLOWED", "bob"),
        ("FB_GRAPH_VERSION", "25"),
        ("FB_PAGE_ID", "my-page"),
        ("ORDERDESK_NOTIFY_CHANNEL", "#orders"),
    ],
)
def test_malformed_values_rejected(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**GOOD, name: value}, dotenv_path=None)


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", text, flags=re.M))
    assert listed == set(setting_names())


def test_nothing_else_reads_os_environ() -> None:
    offenders = []
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        if path.name == "config.py":
            continue
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_oauth_client_credentials_refused() -> None:
    env = {**GOOD, "SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "abc"}
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        Settings.from_env(env, dotenv_path=None)


def _env_example() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", text, flags=re.M))


def test_placeholders_are_the_values_env_example_shows() -> None:
    example = _env_example()
    assert {name: example[name] for name in PLACEHOLDERS} == {name: value for name, (value, _) in PLACEHOLDERS.items()}


def test_a_copied_but_unfilled_env_example_is_refused_in_words() -> None:
    """``cp .env.example .env`` and nothing more: every placeholder is named, with what to put instead."""
    example = {name: value for name, value in _env_example().items() if value}
    with pytest.raises(ConfigError) as err:
        Settings.from_env(example, dotenv_path=None)
    assert [problem.split(" is ")[0] for problem in err.value.problems] == list(PLACEHOLDERS)
    for problem in err.value.problems:
        assert "is still the placeholder from .env.example: set it to " in problem


def test_setting_variable_names_the_variable_of_a_field() -> None:
    assert setting_variable("db_path") == "ORDERDESK_DB"
    assert setting_variable("slack_app_token") == "SLACK_APP_TOKEN"


def test_the_search_key_is_optional_long_and_never_shown() -> None:
    assert Settings.from_env(GOOD, dotenv_path=None).search_key is None
    key = "a-long-secret-search-key-0123456789"
    settings = Settings.from_env({**GOOD, "ORDERDESK_SEARCH_KEY": key}, dotenv_path=None)
    assert settings.search_key == key
    assert key not in repr(settings)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**GOOD, "ORDERDESK_SEARCH_KEY": "short"}, dotenv_path=None)
    assert "ORDERDESK_SEARCH_KEY is malformed" in str(raised.value)
    assert "short" not in str(raised.value)


def test_a_database_url_selects_postgresql_and_is_checked_without_echoing_it() -> None:
    url = "postgresql://orderdesk:s3cret@db.internal:5432/orderdesk?sslmode=require"
    settings = Settings.from_env({**GOOD, "ORDERDESK_DATABASE_URL": url}, dotenv_path=None)
    assert settings.database_url == url
    assert "s3cret" not in repr(settings)
    assert Settings.from_env(GOOD, dotenv_path=None).database_url is None
    for bad in (
        "mysql://db/orderdesk",
        "postgresql://db.internal",
        "postgresql:///orderdesk",
        "postgresql://h:99999/x",
    ):
        with pytest.raises(ConfigError, match="ORDERDESK_DATABASE_URL is malformed") as refused:
            Settings.from_env({**GOOD, "ORDERDESK_DATABASE_URL": bad}, dotenv_path=None)
        assert bad not in str(refused.value)


def test_on_call_settings_have_defaults_and_are_validated_in_words() -> None:
    s = Settings.from_env(GOOD, dotenv_path=None)
    assert (s.timezone, s.remind_after_seconds, s.escalate_after_seconds) == ("UTC", 3600, 4 * 3600)
    assert (s.oncall_group, s.summary_at, str(s.zone)) == (None, None, "UTC")
    s = Settings.from_env(
        {
            **GOOD,
            "ORDERDESK_TIMEZONE": "Europe/Berlin",
            "ORDERDESK_REMIND_AFTER": "30m",
            "ORDERDESK_ESCALATE_AFTER": "7200",
            "ORDERDESK_ONCALL_GROUP": "S0ONCALL",
            "ORDERDESK_SUMMARY_AT": "9:05",
        },
        dotenv_path=None,
    )
    assert (str(s.zone), s.remind_after_seconds, s.escalate_after_seconds) == ("Europe/Berlin", 1800, 7200)
    assert (s.oncall_group, s.summary_at) == ("S0ONCALL", "09:05")
    assert Settings.from_env(s.to_env(), dotenv_path=None) == s
    bad = {"ORDERDESK_TIMEZONE": "Mars/Olympus", "ORDERDESK_REMIND_AFTER": "soon", "ORDERDESK_SUMMARY_AT": "25:00"}
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**GOOD, **bad, "ORDERDESK_ONCALL_GROUP": "U123"}, dotenv_path=None)
    assert len(raised.value.problems) == 4
    assert "ORDERDESK_TIMEZONE is malformed: it should be an IANA time zone name" in str(raised.value)


def test_four_eyes_settings_parse_and_refuse_what_they_cannot_use() -> None:
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "FB_PAGE_ID": "1", "FB_PAGE_ACCESS_TOKEN": "t"}
    default = Settings.from_env(base, dotenv_path=None)
    assert (default.refund_approval_over, default.approval_channel, default.approval_ttl_seconds) == (
        None,
        None,
        86_400,
    )
    taken = Settings.from_env(
        {
            **base,
            "ORDERDESK_REFUND_APPROVAL_OVER": "250.50",
            "ORDERDESK_APPROVAL_CHANNEL": "C0APPROVE",
            "ORDERDESK_APPROVAL_TTL": "2d",
        },
        dotenv_path=None,
    )
    assert (taken.refund_approval_over, taken.approval_channel, taken.approval_ttl_seconds) == (
        Decimal("250.50"),
        "C0APPROVE",
        172_800,
    )
    assert Settings.from_env(taken.to_env(), dotenv_path=None) == taken
    bad = {
        "ORDERDESK_REFUND_APPROVAL_OVER": "-5",
        "ORDERDESK_APPROVAL_CHANNEL": "D0DIRECT",
        "ORDERDESK_APPROVAL_TTL": "5s",
    }
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**base, **bad}, dotenv_path=None)
    assert len(error.value.problems) == 3
    assert all(name in str(error.value) for name in bad)


def test_the_approval_threshold_has_no_currency_of_its_own() -> None:
    """The threshold is compared with each refund in its order's own currency, so a currency code is refused in
    words rather than silently meaning something else."""
    base = {**GOOD, "ORDERDESK_REFUND_ALLOWED": "U0AGENT1,U0AGENT2"}
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**base, "ORDERDESK_REFUND_APPROVAL_OVER": "100 USD"}, dotenv_path=None)
    assert "ORDERDESK_REFUND_APPROVAL_OVER is malformed" in str(error.value)
    assert "without a currency code" in str(error.value)
    assert "each refund in its order's own currency" in str(error.value)


def test_a_reminder_due_at_or_after_the_escalation_is_refused_in_words() -> None:
    for remind, escalate in (("5h", "1h"), ("4h", "4h")):
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(
                {**GOOD, "ORDERDESK_REMIND_AFTER": remind, "ORDERDESK_ESCALATE_AFTER": escalate}, dotenv_path=None
            )
        assert "ORDERDESK_REMIND_AFTER must be shorter than ORDERDESK_ESCALATE_AFTER" in str(raised.value)
    with pytest.raises(ConfigError):  # the default escalation (4h) counts too
        Settings.from_env({**GOOD, "ORDERDESK_REMIND_AFTER": "5h"}, dotenv_path=None)
    assert Settings.from_env({**GOOD, "ORDERDESK_REMIND_AFTER": "30m"}, dotenv_path=None).remind_after_seconds == 1800
