"""Every Slack write of the bot: paced per channel, waiting out 429s, rendered from domain values.

* **Lanes.** Each channel gets a lane (its own thread, never one of the listeners' work threads) that makes at most
  one call per ``pace`` seconds and waits out 429s for as long as ``Retry-After`` says. Other failures are retried
  with backoff, up to the job's attempts, then raised to the job. The poller's announcements and card updates
  and the actions engine's card updates share the lanes, so one channel never gets more than Slack allows; a
  card someone just acted on is redrawn first, without waiting for the pace.
* **Card updates** (:meth:`SlackPublisher.order_changed`): every card of an order redrawn with its new status, a
  channel card through its lane, an ephemeral one through its ``response_url``.
* **Tells** (:meth:`SlackPublisher.tell`): an ephemeral answer to one person that leaves every card as it is.

It implements the actions engine's :class:`bot.actions.runner.Publisher` port and draws with the pure builders
of :mod:`bot.slack.views`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, tzinfo
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.actions.answers import (
    ActionConflict,
    ActionOutcome,
    Answer,
    BatchResults,
    History,
    HistoryUsage,
    KeyConflict,
    NotAllowed,
    NothingToRetry,
    NotShown,
    Outcome,
    ReferenceTaken,
    Requester,
    UnknownOrder,
    WriteBusy,
)
from bot.actions.ledger import card_key
from bot.actions.status import CARD_LOOKUP, CARD_NOTIFICATION, CARD_SHARED, AckStatus, card_place
from bot.config import Settings
from bot.domain.deadlines import Clock, deadline
from bot.notify.ports import Change, NotifyError, OnError, Reminder, Summary
from bot.notify.ports import Job as ChannelJob
from bot.slack import ids
from bot.slack.lanes import Lanes, Send, call, ignore
from bot.slack.views.action_modal import answer_modal, answer_text, thread_line
from bot.slack.views.blocks import (
    ack_conflict_blocks,
    ack_not_allowed_blocks,
    ack_status_blocks,
    batch_result_blocks,
    card_metadata,
    change_summary,
    digest_changes_text,
    digest_message,
    digest_text,
    history_blocks,
    message_blocks,
    notification_card,
    notification_text,
    order_card,
)
from bot.slack.views.kit import Block, escape
from bot.slack.views.kit import context as context_block
from bot.slack.views.reminders import REMINDER_EVENT, reminder_blocks, reminder_metadata, reminder_text
from bot.slack.views.summary import SUMMARY_EVENT, summary_blocks, summary_metadata, summary_text
from bot.storage.rows import Card

log = logging.getLogger(__name__)

WAITING = "You will get the outcome here when it finishes."
DIGEST_EVENT = "orderdesk_digest"  # message metadata of a digest (cards use ids.ORDER_CARD_EVENT)
HISTORY_MARGIN_SECONDS = 300.0  # Slack's clock against ours when looking for a message posted after a claim
HISTORY_MAX_PAGES = 20


def publisher_client(settings: Settings) -> WebClient:
    """A Web API client without slack_sdk's retry handlers: the lanes wait out 429s themselves, on their thread."""
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)


class SlackPublisher:
    """The bot's one way to write to Slack (see the module's words). Thread-safe."""

    def __init__(
        self,
        client: WebClient,
        *,
        commerce_manager_url: str = "",
        pace: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        zone: tzinfo = UTC,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.lanes = Lanes(client, pace, sleep)
        self._commerce_manager_url = commerce_manager_url
        self.zone = zone  # where cards read ship-by dates (ORDERDESK_TIMEZONE)
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SlackPublisher:
        kwargs.setdefault("zone", settings.zone)
        return cls(publisher_client(settings), commerce_manager_url=settings.commerce_manager_url, **kwargs)

    def close(self) -> None:
        """Finish every queued write."""
        self.lanes.close()

    def submit(self, channel: str, job: ChannelJob, on_error: OnError = ignore) -> Future[object]:
        """Queue a job on the channel's lane (the poller's announcements, refreshes and recoveries); it gets the
        channel's writer, whose calls are paced and retried."""
        return self.lanes.submit(channel, partial(self._on_channel, job), on_error)

    def _on_channel(self, job: ChannelJob, send: Send) -> object:
        return job(SlackChannel(send, self._commerce_manager_url, self.zone, self.clock))

    def __len__(self) -> int:
        """Jobs queued on every lane."""
        return len(self.lanes)

    def __bool__(self) -> bool:
        return True  # a publisher with nothing queued is still there

    def order_changed(
        self,
        order: Mapping[str, Any],
        cards: Sequence[Card],
        status: AckStatus | None,
        key: str | None,
        *,
        change: ActionOutcome | None = None,
    ) -> list[Card]:
        """Redraw every given card of the order; the cards Slack took (a failure is logged, never raised).

        ``key`` is the order's card token: each card's key is derived from it and the card's place, so a card
        redrawn before its order's next finished write keeps the keys its buttons had.

        ``change`` (a card action's outcome) also goes, as one line, into the thread of each notification card.
        """
        updated = []
        for card in cards:
            blocks, text = self._render(card, order, status, None if key is None else card_key(key, card_place(card)))
            try:
                if card.channel and card.ts:
                    update = partial(call, "chat_update", channel=card.channel, ts=card.ts, blocks=blocks, text=text)
                    self.lanes.submit(card.channel, update, attempts=1, urgent=True).result()
                    if change is not None and card.kind == CARD_NOTIFICATION:
                        line = partial(
                            call, "chat_postMessage", channel=card.channel, thread_ts=card.ts, text=thread_line(change)
                        )
                        self.lanes.submit(card.channel, line, attempts=3)
                elif card.response_url:
                    WebhookClient(card.response_url).send(blocks=blocks, text=text, replace_original=True)
            except (NotifyError, SlackClientError, OSError):
                log.exception("could not update card %s of order %s", card.id, card.order_id)
                continue
            updated.append(card)
        return updated

    def tell(self, requester: Requester, answer: Answer) -> None:
        """An ephemeral answer that leaves the card as it is: on the modal the request came from while it is open,
        else through the ``response_url``, else in the channel."""
        if requester.view_id and isinstance(answer, ActionOutcome | ActionConflict | WriteBusy | NotAllowed):
            try:
                self.client.views_update(view_id=requester.view_id, view=answer_modal("", answer))
                return
            except (SlackApiError, SlackClientError, OSError):
                log.info("modal %s is gone; answering %s privately", requester.view_id, requester.user_id)
        blocks = answer_blocks(answer)
        text = "orderdesk: acknowledgement" if isinstance(answer, Outcome) else "orderdesk"
        try:
            if requester.response_url:
                WebhookClient(requester.response_url).send(
                    blocks=blocks, text=text, response_type="ephemeral", replace_original=False
                )
            elif requester.channel_id:
                self.client.chat_postEphemeral(
                    channel=requester.channel_id, user=requester.user_id, blocks=blocks, text=text
                )
            else:  # a click on App Home: no response URL, no channel; the answer goes to the user's DM
                opened = self.client.conversations_open(users=requester.user_id)
                self.client.chat_postMessage(channel=str(opened["channel"]["id"]), blocks=blocks, text=text)
        except (SlackApiError, SlackClientError, OSError):
            log.exception("could not answer %s about order %s", requester.user_id, requester.order_id)

    def _render(
        self, card: Card, order: Mapping[str, Any], status: AckStatus | None, key: str | None
    ) -> tuple[list[Block], str]:
        return render_card(card, order, status, key, self._commerce_manager_url, self.clock(), self.zone)


def render_card(
    card: Card,
    order: Mapping[str, Any],
    status: AckStatus | None,
    key: str | None,
    url: str,
    now: float,
    zone: tzinfo,
) -> tuple[list[Block], str]:
    """A remembered card drawn again as its kind draws it: ``(blocks, notification text)``."""
    text = notification_text(order)
    clock = deadline(order, now, zone)
    if card.kind == CARD_LOOKUP:
        return order_card(order, commerce_manager_url=url, ack_key=key, ack_status=status, clock=clock), text
    if card.kind.startswith(CARD_SHARED):
        shared_by = card.kind.removeprefix(CARD_SHARED)
        return order_card(
            order, commerce_manager_url=url, ack_key=key, ack_status=status, shared_by=shared_by, clock=clock
        ), text
    # Notifications, and any channel card of a kind this module does not know: the PII-free card.
    card_blocks = notification_card(order, ack_key=key, commerce_manager_url=url, ack_status=status, clock=clock)
    return card_blocks, text


class SlackChannel:
    """A lane's :class:`bot.notify.ports.ChannelWriter`: the poller's cards, digests and threaded replies, and
    the channel's history searched for them after a crash (by the message metadata every post carries)."""

    def __init__(
        self, send: Send, commerce_manager_url: str, zone: tzinfo = UTC, clock: Callable[[], float] = time.time
    ) -> None:
        self._send = send
        self._url = commerce_manager_url
        self._zone = zone
        self._clock = clock

    def _card(self, order: Mapping[str, Any], status: AckStatus | None, key: str) -> list[Block]:
        clock = deadline(order, self._clock(), self._zone)
        return notification_card(order, ack_key=key, commerce_manager_url=self._url, ack_status=status, clock=clock)

    def _clocks(self, orders: Sequence[Mapping[str, Any]]) -> dict[str, Clock | None]:
        now = self._clock()
        return {str(order.get("id")): deadline(order, now, self._zone) for order in orders}

    def post_card(self, channel: str, order: Mapping[str, Any], status: AckStatus | None, key: str) -> str:
        posted = self._send(
            "chat_postMessage",
            channel=channel,
            blocks=self._card(order, status, key),
            text=notification_text(order),
            metadata=card_metadata(str(order["id"])),
            unfurl_links=False,
        )
        return str(posted["ts"])

    def update_card(self, channel: str, ts: str, order: Mapping[str, Any], status: AckStatus | None, key: str) -> None:
        self._send(
            "chat_update", channel=channel, ts=ts, blocks=self._card(order, status, key), text=notification_text(order)
        )

    def update_posted_card(self, card: Card, order: Mapping[str, Any], status: AckStatus | None, key: str) -> None:
        assert card.channel is not None
        assert card.ts is not None
        blocks, text = render_card(card, order, status, key, self._url, self._clock(), self._zone)
        self._send("chat_update", channel=card.channel, ts=card.ts, blocks=blocks, text=text)

    def post_digest(self, channel: str, digest_id: str, orders: Sequence[Mapping[str, Any]]) -> str:
        posted = self._send(
            "chat_postMessage",
            channel=channel,
            blocks=digest_message(orders, digest_id=digest_id, clocks=self._clocks(orders)),
            text=digest_text(orders),
            metadata={"event_type": DIGEST_EVENT, "event_payload": {"digest_id": digest_id}},
        )
        return str(posted["ts"])

    def update_digest(self, channel: str, ts: str, digest_id: str, orders: Sequence[Mapping[str, Any]]) -> None:
        blocks = digest_message(orders, digest_id=digest_id, clocks=self._clocks(orders))
        self._send("chat_update", channel=channel, ts=ts, blocks=blocks, text=digest_text(orders))

    def reply_change(self, channel: str, ts: str, change: Change) -> None:
        summary = _summary(change)
        if summary:
            self._send("chat_postMessage", channel=channel, thread_ts=ts, text=summary)

    def reply_changes(self, channel: str, ts: str, changes: Sequence[Change]) -> None:
        summaries = [(change.order_id, _summary(change)) for change in changes]
        lines = [(order_id, summary) for order_id, summary in summaries if summary]
        if lines:
            self._send("chat_postMessage", channel=channel, thread_ts=ts, text=digest_changes_text(lines))

    def post_reminder(self, channel: str, thread_ts: str, reminder: Reminder) -> str:
        names: dict[str, str] = {}
        if reminder.group:
            groups = self._send("usergroups_list").get("usergroups") or []
            names = {str(g.get("id")): str(g.get("handle")) for g in groups if isinstance(g, dict)}
        posted = self._send(
            "chat_postMessage",
            channel=channel,
            thread_ts=thread_ts,
            blocks=reminder_blocks(reminder, names),
            text=reminder_text(reminder),
            metadata=reminder_metadata(reminder),
        )
        return str(posted["ts"])

    def post_direct(self, user_id: str, reminder: Reminder, channel: str) -> str:
        opened = self._send("conversations_open", users=user_id)
        dm = str(opened["channel"]["id"])
        blocks = [
            *reminder_blocks(reminder),
            *[context_block(f"Posted in <#{channel}>; you asked for escalations here.")],
        ]
        posted = self._send("chat_postMessage", channel=dm, blocks=blocks, text=reminder_text(reminder))
        return str(posted["ts"])

    def posted_reminders(self, channel: str, thread_ts: str) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        cursor = None
        for _ in range(HISTORY_MAX_PAGES):
            page = self._send(
                "conversations_replies", channel=channel, ts=thread_ts, include_all_metadata=True, cursor=cursor
            )
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == REMINDER_EVENT:
                    for order_id in payload.get("order_ids") or []:
                        found.setdefault((str(order_id), str(payload.get("stage"))), str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    def post_summary(self, channel: str, summary: Summary) -> str:
        posted = self._send(
            "chat_postMessage",
            channel=channel,
            blocks=summary_blocks(summary),
            text=summary_text(summary),
            metadata=summary_metadata(summary),
        )
        return str(posted["ts"])

    def post_summary_direct(self, user_id: str, summary: Summary) -> str:
        dm = str(self._send("conversations_open", users=user_id)["channel"]["id"])
        posted = self._send("chat_postMessage", channel=dm, blocks=summary_blocks(summary), text=summary_text(summary))
        return str(posted["ts"])

    def posted_summaries(self, channel: str, since: float) -> dict[str, str]:
        return self._posted(channel, since, SUMMARY_EVENT, "day")

    def posted_cards(self, channel: str, since: float) -> dict[str, str]:
        return self._posted(channel, since, ids.ORDER_CARD_EVENT, "order_id")

    def posted_digests(self, channel: str, since: float) -> dict[str, str]:
        return self._posted(channel, since, DIGEST_EVENT, "digest_id")

    def _posted(self, channel: str, since: float, event_type: str, field: str) -> dict[str, str]:
        """Our messages of ``event_type`` in the channel since ``since``, by the metadata's ``field`` → ts."""
        found: dict[str, str] = {}
        cursor = None
        for _ in range(HISTORY_MAX_PAGES):
            page = self._send(
                "conversations_history",
                channel=channel,
                oldest=f"{since - HISTORY_MARGIN_SECONDS:.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                value = (metadata.get("event_payload") or {}).get(field)
                if metadata.get("event_type") == event_type and value is not None:
                    found.setdefault(str(value), str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found


def _summary(change: Change) -> str | None:
    return change_summary(change.before, change.after, acknowledged_by=change.acknowledged_by)


def answer_blocks(answer: Answer) -> list[Block]:
    """An answer of the actions engine, drawn for Slack."""
    match answer:
        case Outcome(order_id, status, waiting):
            return ack_status_blocks(order_id, status) + (message_blocks(WAITING) if waiting else [])
        case KeyConflict(order_id):
            return ack_conflict_blocks(order_id)
        case ReferenceTaken(reference, holder):
            return message_blocks(
                f":no_entry: The reference `{escape(reference)}` is being used for order {escape(holder)}, "
                "so nothing was sent to Meta. Choose another reference and try again."
            )
        case NothingToRetry():
            return message_blocks("There is nothing to retry for this card.")
        case NotShown(order_id):
            return message_blocks(
                "orderdesk did not show this button for this order, so nothing was sent to Meta. "
                f"Look the order up again with `/order {order_id}` and use the buttons on that card."
            )
        case NotAllowed(allowed, other_workspace, group_names, verb) if verb != "acknowledge":
            return message_blocks(answer_text(answer))
        case NotAllowed(allowed, other_workspace, group_names):
            return ack_not_allowed_blocks(allowed, other_workspace=other_workspace, group_names=group_names)
        case BatchResults(results, user_id):
            return batch_result_blocks(results, user_id=user_id)
        case History(order_id, rows):
            return history_blocks(order_id, rows)
        case HistoryUsage():
            return message_blocks("Usage: `/order history &lt;order id or reference&gt;`")
        case UnknownOrder(query):
            return message_blocks(f"No order known with id or reference `{escape(query)}`.")
        case ActionOutcome() | ActionConflict() | WriteBusy():
            return message_blocks(answer_text(answer))
    raise TypeError(f"not an answer: {answer!r}")
