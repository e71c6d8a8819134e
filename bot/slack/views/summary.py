"""The daily summary message: the last day's counts and what is overdue now; posted on empty days too."""

from __future__ import annotations

from datetime import date

from bot.domain.deadlines import day_words
from bot.notify.ports import Summary
from bot.slack.views.clock import clock_text
from bot.slack.views.kit import Block, context, escape, fields_section, header, line_sections, plural, slack_date

SUMMARY_EVENT = "orderdesk_summary"  # message metadata: {"day": "YYYY-MM-DD"}


def summary_text(summary: Summary) -> str:
    return (
        f"Daily summary for {day_words(date.fromisoformat(summary.day))}: {plural(summary.new, 'new order')}, "
        f"{summary.overdue_count} overdue now"
    )


def summary_blocks(summary: Summary) -> list[Block]:
    counts = [
        ("New", str(summary.new)),
        ("Acknowledged", str(summary.acknowledged)),
        ("Shipped", str(summary.shipped)),
        ("Cancelled", str(summary.cancelled)),
        ("Refunded", str(summary.refunded)),
        ("Overdue now", str(summary.overdue_count)),
    ]
    blocks: list[Block] = [
        header(f"Daily summary · {day_words(date.fromisoformat(summary.day))}"),
        fields_section(counts),
    ]
    if not any((summary.new, summary.acknowledged, summary.shipped, summary.cancelled, summary.refunded)):
        blocks.append(context("A quiet day: no order came in or changed. (This message still comes every day.)"))
    if summary.overdue:
        lines = [f"• {escape(order_id)} · {clock_text(clock, live=False)}" for order_id, clock in summary.overdue]
        more = summary.overdue_count - len(summary.overdue)
        if more > 0:
            lines.append(f"…and {more} more; see `/order pending`")
        blocks += line_sections("*Overdue now*", lines)
    blocks.append(
        context(f"From {slack_date(summary.start)} to {slack_date(summary.end)}. Ask `/order pending` for the queue.")
    )
    return blocks


def summary_metadata(summary: Summary) -> dict[str, object]:
    return {"event_type": SUMMARY_EVENT, "event_payload": {"day": summary.day}}
