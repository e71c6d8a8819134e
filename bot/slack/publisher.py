"""Every Slack write of the bot: paced per channel, waiting out 429s, rendered from domain values.

* **Lanes.** Each channel gets a lane (its own thread, never one of the listeners' work threads) that makes at most
  one call per ``pace`` seconds and waits out 429s for as long as ``Retry-After`` says. Other failures are retried
  with backoff, up to the job's attempts, then raised to the job. The poller's announcements and card updates
  and the actions engine's card updates share the lanes, so one channel never gets more than Slack allows.
* **Card updates** (:meth:`SlackPublisher.order_changed`): every card of an order redrawn with its new status, a
  channel card through its lane, an ephemeral one through its ``response_url``.
* **Tells** (:meth:`SlackPublisher.tell`): an ephemeral answer to one person that leaves every card as it is.

It implements the actions engine's :class:`bot.actions.runner.Publisher` port and draws with the pure builders
of :mod:`bot.slack.views`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.actions.answers import (
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
)
from bot.actions.status import CARD_LOOKUP, CARD_SHARED, AckStatus
from bot.config import Settings
from bot.slack.views.blocks import (
    ack_conflict_blocks,
    ack_not_allowed_blocks,
    ack_status_blocks,
    batch_result_blocks,
    history_blocks,
    message_blocks,
    notification_card,
    notification_text,
    order_card,
)
from bot.slack.views.kit import Block, escape
from bot.storage.sqlite.store import Card

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # per Slack call, 429s not counted: those are waited out
BACKOFF_CAP_SECONDS = 30.0
WAITING = "You will get the outcome here when it finishes."

Send = Callable[..., Any]
Job = Callable[[Send], object]
OnError = Callable[[str], None]


class NotifyError(Exception):
    """A Slack call that kept failing; what it was for stays unfinished and is tried again later."""


def publisher_client(settings: Settings) -> WebClient:
    """A Web API client without slack_sdk's retry handlers: the lanes wait out 429s themselves, on their thread."""
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)


def _ignore(_: str) -> None:
    pass


def _send(method: str, send: Send, **kwargs: Any) -> object:
    """A lane job of one call (``partial(_send, "chat_update", channel=..., ...)``)."""
    return send(method, **kwargs)


class Lane:
    """One channel's outbound queue: jobs run in order on this lane's thread, each Slack call paced and retried."""

    def __init__(self, client: WebClient, channel: str, pace: float, sleep: Callable[[float], None]) -> None:
        self._client = client
        self._pace = pace
        self._sleep = sleep
        self._next_call = 0.0
        self._on_error: OnError = _ignore
        self._attempts = MAX_ATTEMPTS
        self._jobs: queue.Queue[tuple[Job, Future[object], OnError, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"orderdesk-lane-{channel}", daemon=True)
        self._thread.start()

    def submit(self, job: Job, on_error: OnError = _ignore, attempts: int = MAX_ATTEMPTS) -> Future[object]:
        """Queue ``job``; each failed call is reported to ``on_error``, and a call fails after ``attempts``."""
        future: Future[object] = Future()
        self._jobs.put((job, future, on_error, attempts))
        return future

    def __len__(self) -> int:
        return self._jobs.qsize()

    def close(self) -> None:
        """Finish the queued jobs, then end the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future, self._on_error, self._attempts = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job(self.send))
                except Exception as exc:
                    future.set_exception(exc)

    def send(self, method: str, **kwargs: Any) -> Any:
        """One Web API call (``chat_postMessage``, ...), at most one per ``pace`` seconds on this lane.

        A 429 waits ``Retry-After`` and tries again, without counting as an attempt; other failures back off
        exponentially, up to the job's attempts, then raise :class:`NotifyError` to the job.
        """
        attempt = 0
        while True:
            self._sleep(max(0.0, self._next_call - time.monotonic()))
            self._next_call = time.monotonic() + self._pace
            try:
                return getattr(self._client, method)(**kwargs)
            except SlackApiError as error:
                if error.response.status_code == 429:
                    wait = _retry_after(error.response.headers)
                    log.warning("slack %s rate limited; waiting %.0fs as Retry-After says", method, wait)
                    self._next_call = time.monotonic() + wait
                    continue
                failure = f"slack {method} failed: {error.response.get('error')}"
            except (SlackClientError, OSError) as error:
                failure = f"slack {method} failed: {type(error).__name__}: {error}"
            attempt += 1
            self._on_error(failure)
            if attempt >= self._attempts:
                raise NotifyError(failure)
            wait = min(BACKOFF_CAP_SECONDS, 2.0 ** (attempt - 1))
            log.warning("%s (attempt %d); retrying in %.0fs", failure, attempt, wait)
            self._next_call = time.monotonic() + wait


def _retry_after(headers: Mapping[str, Any]) -> float:
    values = [v for k, v in headers.items() if k.lower() == "retry-after"]
    try:
        return max(0.0, float(values[0] if values else 1))
    except ValueError:
        return 1.0


class Lanes:
    """One lane per channel, created on first use; closing waits for every queued job."""

    def __init__(self, client: WebClient, pace: float, sleep: Callable[[float], None]) -> None:
        self._client, self._pace, self._sleep = client, pace, sleep
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()

    def submit(
        self, channel: str, job: Job, on_error: OnError = _ignore, attempts: int = MAX_ATTEMPTS
    ) -> Future[object]:
        with self._lock:
            lane = self._lanes.get(channel)
            if lane is None:
                lane = self._lanes[channel] = Lane(self._client, channel, self._pace, self._sleep)
        return lane.submit(job, on_error, attempts)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(lane) for lane in self._lanes.values())

    def close(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.close()


class SlackPublisher:
    """The bot's one way to write to Slack (see the module's words). Thread-safe."""

    def __init__(
        self,
        client: WebClient,
        *,
        commerce_manager_url: str = "",
        pace: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.lanes = Lanes(client, pace, sleep)
        self._commerce_manager_url = commerce_manager_url

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SlackPublisher:
        return cls(publisher_client(settings), commerce_manager_url=settings.commerce_manager_url, **kwargs)

    def close(self) -> None:
        """Finish every queued write."""
        self.lanes.close()

    def submit(
        self, channel: str, job: Job, on_error: OnError = _ignore, attempts: int = MAX_ATTEMPTS
    ) -> Future[object]:
        """Queue a job of Slack calls on the channel's lane (the poller's announcements and card updates)."""
        return self.lanes.submit(channel, job, on_error, attempts)

    def __len__(self) -> int:
        """Jobs queued on every lane."""
        return len(self.lanes)

    def __bool__(self) -> bool:
        return True  # a publisher with nothing queued is still there

    # --- the actions engine's port ------------------------------------------------------------------------

    def order_changed(
        self, order: Mapping[str, Any], cards: Sequence[Card], status: AckStatus, key: str | None
    ) -> list[Card]:
        """Redraw every given card of the order; the cards Slack took (a failure is logged, never raised)."""
        updated = []
        for card in cards:
            blocks, text = self._render(card, order, status, key)
            try:
                if card.channel and card.ts:
                    update = partial(_send, "chat_update", channel=card.channel, ts=card.ts, blocks=blocks, text=text)
                    self.lanes.submit(card.channel, update, attempts=1).result()
                elif card.response_url:
                    WebhookClient(card.response_url).send(blocks=blocks, text=text, replace_original=True)
            except (NotifyError, SlackClientError, OSError):
                log.exception("could not update card %s of order %s", card.id, card.order_id)
                continue
            updated.append(card)
        return updated

    def tell(self, requester: Requester, answer: Answer) -> None:
        """An ephemeral answer that leaves the card as it is: through the ``response_url``, else the channel."""
        blocks = answer_blocks(answer)
        text = "orderdesk: acknowledgement"
        try:
            if requester.response_url:
                WebhookClient(requester.response_url).send(
                    blocks=blocks, text=text, response_type="ephemeral", replace_original=False
                )
            elif requester.channel_id:
                self.client.chat_postEphemeral(
                    channel=requester.channel_id, user=requester.user_id, blocks=blocks, text=text
                )
        except (SlackApiError, SlackClientError, OSError):
            log.exception("could not answer %s about order %s", requester.user_id, requester.order_id)

    def _render(
        self, card: Card, order: Mapping[str, Any], status: AckStatus, key: str | None
    ) -> tuple[list[Block], str]:
        url = self._commerce_manager_url
        text = notification_text(order)
        if card.kind == CARD_LOOKUP:
            return order_card(order, commerce_manager_url=url, ack_key=key, ack_status=status), text
        if card.kind.startswith(CARD_SHARED):
            shared_by = card.kind.removeprefix(CARD_SHARED)
            return order_card(
                order, commerce_manager_url=url, ack_key=key, ack_status=status, shared_by=shared_by
            ), text
        # Notifications, and any channel card of a kind this module does not know: the PII-free card.
        return notification_card(order, ack_key=key, commerce_manager_url=url, ack_status=status), text


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
    raise TypeError(f"not an answer: {answer!r}")
