"""What ``/order export`` reads from its arguments, and the words it answers with when it cannot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.lookup.export import ExportRequest
from bot.slack.export import USAGE, ExportUsage, export_answer, parse_export

DAY = 86_400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ExportRequest(7 * DAY)),
        ("since:30d", ExportRequest(30 * DAY)),
        ("SINCE:36h", ExportRequest(36 * 3600)),
        ("since:90m", ExportRequest(90 * 60)),
        ("since:45s", ExportRequest(45)),
        ("since:90d", ExportRequest(90 * DAY)),
        ("state:CREATED", ExportRequest(7 * DAY, frozenset({"CREATED"}))),
        ("state:created,completed", ExportRequest(7 * DAY, frozenset({"CREATED", "COMPLETED"}))),
        ("state:Awaiting acknowledgement", ExportRequest(7 * DAY, frozenset({"CREATED"}))),
        ("state:awaiting-acknowledgement , Completed", ExportRequest(7 * DAY, frozenset({"CREATED", "COMPLETED"}))),
        ("state:acknowledged", ExportRequest(7 * DAY, frozenset({"IN_PROGRESS"}))),
        ("state:Acknowledged, being fulfilled", ExportRequest(7 * DAY, frozenset({"IN_PROGRESS"}))),
        ("state:in_progress since:2d", ExportRequest(2 * DAY, frozenset({"IN_PROGRESS"}))),
        ("since:2d state:fb_processing", ExportRequest(2 * DAY, frozenset({"FB_PROCESSING"}))),
        ("state:In Meta's processing hold", ExportRequest(7 * DAY, frozenset({"FB_PROCESSING"}))),
    ],
)
def test_arguments_that_read(text: str, expected: ExportRequest) -> None:
    assert parse_export(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("since:91d", "90 days at most"),
        ("since:2161h", "90 days at most"),
        ("since:0d", "more than nothing"),
        ("since:7", "is not a duration"),
        ("since:7w", "is not a duration"),
        ("since:-1d", "is not a duration"),
        ("since:", "is not a duration"),
        ("since:1d since:2d", "given twice"),
        ("state:shipped", "do not know the state `shipped`"),
        ("state:", "at least one state"),
        ("state:,", "at least one state"),
        ("everything", "do not know `everything`"),
        ("last week since:7d", "do not know `last`"),
        ("since:<!channel>", "is not a duration"),
    ],
)
def test_arguments_that_do_not_read_get_words_and_the_usage(text: str, says: str) -> None:
    with pytest.raises(ExportUsage) as raised:
        parse_export(text)
    message = str(raised.value)
    assert says in message
    assert message.endswith(USAGE)
    assert "<!channel>" not in message  # what the asker typed is shown, never let loose as a mention


def test_the_answer_says_what_it_covers() -> None:
    answer = export_answer(ExportRequest(30 * DAY, frozenset({"CREATED"})), 3)
    assert "3 orders updated in the last 30 days (Awaiting acknowledgement)" in answer
    assert "orderdesk has seen" in answer
    assert "direct messages" in answer


def test_progress_is_said_every_five_seconds_at_most_three_times_each_replacing_the_last() -> None:
    from handlers.export import Progress

    now = [0.0]
    said: list[dict[str, Any]] = []
    progress = Progress(lambda **answer: said.append(answer), lambda: now[0])  # type: ignore[arg-type]
    for rows, at in ((1_000, 1.0), (2_000, 5.5), (3_000, 7.0), (4_000, 11.0), (5_000, 30.0), (6_000, 60.0)):
        now[0] = at
        progress(rows)
    assert [answer["text"].split(". ")[-1] for answer in said] == [
        "2,000 orders written so far…",
        "4,000 orders written so far…",
        "5,000 orders written so far…",
    ]  # "Preparing", these three and the answer: the response URL's five posts
    assert all(answer["replace_original"] is True for answer in said)


class _Users:
    """``users.info`` as Slack answers it, counting the calls; ``U0GONE`` fails."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def users_info(self, *, user: str) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        self.asked.append(user)
        if user == "U0GONE":
            raise SlackApiError("user_not_found", {"ok": False, "error": "user_not_found"})
        names = {"U0BOB": ("", "Bob Agent"), "U0EVE": ("=eve", "Eve")}[user]
        return {"user": {"id": user, "profile": {"display_name": names[0], "real_name": names[1]}}}


def test_an_export_names_its_agents_asking_slack_once_each() -> None:
    from bot.slack.export import user_names

    client = _Users()
    names = user_names(client)  # type: ignore[arg-type]
    assert [names(u) for u in ("U0BOB", "U0EVE", "U0BOB", "U0GONE", "U0GONE")] == [
        "Bob Agent",  # no display name: the full name
        "=eve",
        "Bob Agent",
        "U0GONE",  # Slack could not say: the id
        "U0GONE",
    ]
    assert client.asked == ["U0BOB", "U0EVE", "U0GONE"]
