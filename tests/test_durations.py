"""The one duration grammar, for settings and for commands."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.durations import NotADuration, duration_seconds, duration_words


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("4h", 14_400), ("2d", 172_800), (" 1H ", 3600), ("0", 0)],
)
def test_an_integer_with_a_unit_or_bare_seconds(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1.5h", "-1h", "1w", "1 h", "1hm", "10x", "ten"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(NotADuration):
        duration_seconds(text)


def test_commands_may_ask_for_the_unit_and_narrow_the_units() -> None:
    with pytest.raises(NotADuration):
        duration_seconds("7", bare_is_seconds=False)
    with pytest.raises(NotADuration):
        duration_seconds("30s", units="mhd")
    assert duration_seconds("7d", bare_is_seconds=False) == 7 * 86_400


@pytest.mark.parametrize(
    ("seconds", "words"), [(0, "0s"), (45, "45s"), (900, "15m"), (3600, "1h"), (86_400, "1d"), (5400, "90m")]
)
def test_durations_are_spelled_back_exactly(seconds: int, words: str) -> None:
    assert duration_words(seconds) == words
    assert duration_seconds(words) == seconds


def _env(**extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "FB_PAGE_ID": "1122334455",
        "FB_PAGE_ACCESS_TOKEN": "t",
        **extra,
    }


def test_the_seconds_settings_take_units_and_still_take_bare_seconds() -> None:
    settings = Settings.from_env(_env(ORDERDESK_POLL_SECONDS="2m", ORDERDESK_SWEEP_SECONDS="15"), dotenv_path=None)
    assert settings.poll_seconds == 120
    assert settings.sweep_seconds == 15


def test_a_setting_below_its_minimum_or_in_another_grammar_is_refused_in_words() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(_env(ORDERDESK_POLL_SECONDS="4s", ORDERDESK_ACK_LEASE_SECONDS="1 hour"), dotenv_path=None)
    text = str(refused.value)
    assert "ORDERDESK_POLL_SECONDS is malformed" in text
    assert "ORDERDESK_ACK_LEASE_SECONDS is malformed" in text
    assert "1 hour" not in text
