"""Link unfurling: a Commerce Manager order link posted where orderdesk is a member becomes a PII-free order card.

Listener only: ``ack()`` first, then ``later`` (which refuses Slack Connect guests before anything is read) asks
:mod:`bot.lookup.unfurl` for the orders and answers with one ``chat.unfurl``. The card is the channel's
notification card without acknowledge buttons: no buyer name, contact or street, so it is safe in shared channels.
Links to unknown orders get no entry; a message with none known gets no call at all. The deadline is drawn
without an urgency band (a date, "overdue" only once it is): an unfurl is remembered nowhere (one in the composer
has no channel or ts to name again), so nothing could redraw it when the band changes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.domain.deadlines import Clock, deadline
from bot.graph.client import GraphClient
from bot.lookup.unfurl import Unfurler, order_links
from bot.slack.later import Later
from bot.slack.views.order_card import notification_card
from bot.storage.ports import Storage

log = logging.getLogger(__name__)

LINK_SHARED = "link_shared"


def register(app: App) -> None:
    app.event(LINK_SHARED)(on_link_shared)


def on_link_shared(
    ack: Ack,
    event: dict[str, Any],
    client: WebClient,
    graph: GraphClient,
    store: Storage,
    settings: Settings,
    later: Later,
) -> None:
    """Slack retries an event it saw no quick answer to, so the reading and the unfurl wait for ``later``. Slack also
    sends the event for conversations orderdesk is not a member of (``is_bot_user_member`` false): those unfurl
    nothing, and cost no Graph request."""
    ack()
    if event.get("is_bot_user_member") is False:
        return
    later(unfurl_links, event, client, Unfurler(graph, store), settings)


def shared_urls(event: dict[str, Any]) -> list[str]:
    """The URLs of the event's ``links``, skipping whatever is not shaped like one (the event is Slack's, but
    a signed request is still input)."""
    links = event.get("links")
    if not isinstance(links, list):
        return []
    return [link["url"] for link in links if isinstance(link, dict) and isinstance(link.get("url"), str)]


def unfurl_target(event: dict[str, Any]) -> dict[str, str] | None:
    """How ``chat.unfurl`` names the message: by ``unfurl_id`` and ``source`` (the only way for a message still in
    the composer), else by channel and ts; None when the event gives neither."""
    unfurl_id, source = event.get("unfurl_id"), event.get("source")
    if isinstance(unfurl_id, str) and unfurl_id and isinstance(source, str) and source:
        return {"unfurl_id": unfurl_id, "source": source}
    channel, ts = event.get("channel"), event.get("message_ts")
    if isinstance(channel, str) and channel and isinstance(ts, str) and ts:
        return {"channel": channel, "ts": ts}
    return None


def unfurl_links(event: dict[str, Any], client: WebClient, unfurler: Unfurler, settings: Settings) -> None:
    links = order_links(shared_urls(event), settings.commerce_manager_url)
    target = unfurl_target(event)
    if not links or target is None:
        return
    orders = unfurler.orders_for(links)
    if not orders:
        return
    url = settings.commerce_manager_url
    now = time.time()

    def clock_of(order: dict[str, Any]) -> Clock | None:
        return deadline(order, now, settings.zone)

    unfurls = {
        link: {
            "blocks": notification_card(
                order, ack_key=None, commerce_manager_url=url, clock=clock_of(order), banded=False
            )
        }
        for link, order in orders.items()
    }
    try:
        client.chat_unfurl(
            unfurls=unfurls,
            unfurl_id=target.get("unfurl_id"),
            source=target.get("source"),
            channel=target.get("channel"),
            ts=target.get("ts"),
        )
    except SlackApiError as error:
        log.warning("Slack refused chat.unfurl: %s", error.response.get("error"))
