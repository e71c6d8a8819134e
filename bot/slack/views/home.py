"""App Home: the on-call queue at a glance for one user, their own recent actions and their preferences.

A Home view holds at most 100 blocks: 2 per order for ``HOME_SHOWN`` orders, and a bounded rest.
"""

from __future__ import annotations

from typing import Any

from bot.notify.home import HomeState
from bot.slack import ids
from bot.slack.views.acknowledge import ack_buttons
from bot.slack.views.action_modal import action_buttons
from bot.slack.views.kit import (
    Block,
    button,
    context,
    escape,
    fields_section,
    header,
    line_sections,
    section,
    slack_date,
)
from bot.slack.views.list_line import line_actions
from bot.slack.views.pending import pending_line
from bot.slack.views.reading import commerce_manager_link

PREF_DM_ESCALATIONS = "dm_escalations"
PREF_DAILY_SUMMARY = "daily_summary"
_PREFS = ((PREF_DM_ESCALATIONS, "DM me escalations"), (PREF_DAILY_SUMMARY, "Daily summary in my DMs"))


def _preferences(state: HomeState) -> list[Block]:
    """One section per preference, saying whether it is on, with a button that turns it the other way."""
    chosen = {PREF_DM_ESCALATIONS: state.dm_escalations, PREF_DAILY_SUMMARY: state.daily_summary}
    blocks: list[Block] = []
    for name, text in _PREFS:
        on = chosen[name]
        value = f"{name}:{'off' if on else 'on'}"
        label = "Turn off" if on else "Turn on"
        blocks.append(
            {
                **section(f"*{text}*: {'on' if on else 'off'}"),
                "block_id": f"pref_{name}",
                "accessory": button(label, ids.HOME_PREFERENCES, value=value),
            }
        )
    return blocks


def home_view(state: HomeState, *, ack_keys: dict[str, str], commerce_manager_url: str, now: float) -> dict[str, Any]:
    """The Home tab's view for ``views.publish``. ``ack_keys`` holds each order's key for its buttons, the user's
    list key (:meth:`bot.notify.announce.Announcer.list_key`), kept across re-renders like a card's."""
    counts = [
        ("Awaiting acknowledgement", str(state.awaiting_ack)),
        ("Awaiting shipment", str(state.awaiting_shipment)),
        (":red_circle: Overdue", str(state.bands.get("overdue", 0))),
        (":large_orange_circle: Due within a day", str(state.bands.get("soon", 0))),
        (":large_green_circle: More than a day left", str(state.bands.get("later", 0))),
    ]
    blocks: list[Block] = [header("orderdesk: orders waiting"), fields_section(counts)]
    if state.urgent:
        shown = len(state.urgent)
        title = f"*Most urgent* ({shown} of {state.total})" if state.total > shown else "*Most urgent*"
        blocks.append(section(title))
        for entry in state.urgent:
            blocks.append(section(pending_line(entry, commerce_manager_url)))
            key = ack_keys.get(entry.order_id)
            buttons = ack_buttons(entry.order, key, None) + action_buttons(entry.order, key)
            url = commerce_manager_link(commerce_manager_url, entry.order_id)
            if url:
                buttons.append(button("Open in Commerce Manager", ids.OPEN_IN_COMMERCE_MANAGER, url=url))
            blocks += line_actions(entry.order_id, buttons)
    else:
        blocks.append(section(":white_check_mark: Nothing is waiting."))
    lines = [
        f"• {slack_date(row.at)} · {escape(row.action.replace('_', ' '))} · order {escape(row.order_id or '-')}"
        f" · {escape(row.outcome)}"
        for row in state.recent
    ]
    blocks += line_sections("*Your recent actions*", lines or ["Nothing yet."])
    blocks += [section("*Preferences*"), *_preferences(state)]
    blocks.append(context(f"Updated {slack_date(now)}. `/order pending` lists every waiting order."))
    return {"type": "home", "blocks": blocks[:100]}
