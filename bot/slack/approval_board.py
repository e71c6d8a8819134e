"""The approval service's :class:`bot.actions.approvals.ApprovalBoard` in Slack: posts and redraws approval
requests, tells people (on their modal while it is open, else privately), and says whether a channel is shared with
another organisation. Drawn with the pure builders of :mod:`bot.slack.views.approval`; a Slack failure is logged
and never raised into the service (a request that cannot be posted is reported by the service itself)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.actions.approvals import Approval, ApprovalNews, Person
from bot.actions.status import AckStatus
from bot.notify.ports import NotifyError
from bot.slack.lanes import Lanes, call
from bot.slack.views.action_modal import outcome_modal
from bot.slack.views.approval import news_text, request_blocks, request_text
from bot.slack.views.kit import section

log = logging.getLogger(__name__)

_SLACK_FAILURES = (SlackApiError, SlackClientError, OSError, NotifyError)


class SlackApprovalBoard:
    """Approval requests and answers through the bot's Web API client. With ``lanes`` (the publisher's), the
    request messages go through each channel's paced, 429-aware lane like every other channel message."""

    def __init__(self, client: WebClient, lanes: Lanes | None = None) -> None:
        self._client = client
        self._lanes = lanes

    def _channel_call(self, channel: str, method: str, **kwargs: Any) -> Any:
        if self._lanes is None:
            return getattr(self._client, method)(channel=channel, **kwargs)
        job = partial(call, method, channel=channel, **kwargs)
        return self._lanes.submit(channel, job, attempts=3, urgent=True).result()

    def post_request(self, channel: str, approval: Approval) -> str | None:
        try:
            posted = self._channel_call(
                channel, "chat_postMessage", blocks=request_blocks(approval), text=request_text(approval)
            )
        except _SLACK_FAILURES:
            log.exception("could not post approval request %s in %s", approval.id, channel)
            return None
        ts = posted.get("ts") if posted is not None else None
        return str(ts) if ts else None

    def show_request(self, approval: Approval, status: AckStatus | None = None) -> None:
        if not (approval.channel and approval.ts):
            return
        try:
            self._channel_call(
                approval.channel,
                "chat_update",
                ts=approval.ts,
                blocks=request_blocks(approval, status),
                text=request_text(approval),
            )
        except _SLACK_FAILURES:
            log.exception("could not redraw approval request %s", approval.id)

    def tell(self, person: Person, news: ApprovalNews) -> None:
        """On the person's modal while it is open, else through their ``response_url``, else privately in the
        channel, else (and whenever one of those fails: a response URL expires after 30 minutes) in a DM, which
        also keeps news that arrives hours later, such as a decision on a request."""
        text = news_text(news)
        blocks = [section(text)]
        if person.view_id and self._quietly(
            self._client.views_update, view_id=person.view_id, view=outcome_modal("refund", text)
        ):
            return
        if person.response_url:
            try:
                answer = WebhookClient(person.response_url).send(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
                if answer.status_code == 200:
                    return
            except _SLACK_FAILURES:
                pass
        if person.channel and self._quietly(
            self._client.chat_postEphemeral, channel=person.channel, user=person.user_id, text=text, blocks=blocks
        ):
            return
        try:
            opened = self._client.conversations_open(users=person.user_id)
            self._client.chat_postMessage(channel=str(opened["channel"]["id"]), text=text, blocks=blocks)
        except _SLACK_FAILURES:
            log.exception("could not tell %s about an approval request", person.user_id)

    @staticmethod
    def _quietly(call: Callable[..., object], **kwargs: Any) -> bool:
        """Make a Web API call; False (logged) when Slack refused it or could not be reached."""
        try:
            call(**kwargs)
        except _SLACK_FAILURES as error:
            log.info("%s failed: %s", getattr(call, "__name__", "call"), error)
            return False
        return True

    def shared_channel(self, channel: str) -> bool:
        try:
            info = self._client.conversations_info(channel=channel)["channel"]
        except _SLACK_FAILURES:
            log.warning("could not tell whether %s is a Slack Connect channel; not asking approval there", channel)
            return True
        return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
