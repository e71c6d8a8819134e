"""Sending lookup answers back to the agent: shared by ``/order`` and the "Look up order" shortcut."""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt.context.respond import Respond

from bot.config import Settings
from bot.lookup.service import Answer
from bot.slack.views.kit import context
from bot.slack.views.lookup import render


def answer_each(answers: Sequence[Answer], respond: Respond, settings: Settings, *, note: str | None = None) -> None:
    """One ephemeral message per answer, through the response URL (Slack allows five posts: lookups stop at five).

    Separate messages, because acknowledging from a card replaces the message holding it: with several cards in one
    message, the other cards would vanish. ``note`` (mrkdwn) goes under the last answer instead of costing a post.
    """
    for number, answer in enumerate(answers, start=1):
        blocks, text = render(answer, commerce_manager_url=settings.commerce_manager_url)
        if note and number == len(answers):
            blocks = [*blocks, context(note)]
        respond(blocks=blocks, text=text, response_type="ephemeral", replace_original=False)
