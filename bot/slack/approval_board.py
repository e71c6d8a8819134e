"""The approval service's :class:`bot.actions.approvals.ApprovalBoard` in Slack: posts and redraws approval
requests, tells people (on their modal while it is open, else privately), and says whether a channel is shared with
another organisation. Drawn with the pure builders of :mod:`bot.slack.views.approval`; a Slack failure is logged
and never raised into the service (a request that cannot be posted is reported by the service itself)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.actions.approvals import Approval, ApprovalNews, Person
from bot.actions.status import AckStatus
from bot.slack.views.action_modal import outcome_modal
from bot.slack.views.approval import news_text, request_blocks, request_text
from bot.slack.views.kit import section

log = logging.getLogger(__name__)

_SLACK_FAILURES = (SlackApiError, SlackClientError, OSError)


class SlackApprovalBoard:
    """Approval requests and answers through the bot's Web API client."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post_request(self, channel: str, approval: Approval) -> str | None:
        try:
            posted = self._client.chat_postMessage(
                channel=channel, blocks=request_blocks(approval), text=request_text(approval)
            )
        except _SLACK_FAILURES:
            log.exception("could not post approval request %s in %s", approval.id, channel)
            return None
        ts = posted.get("ts")
        return str(ts) if ts else None

    def show_request(self, approval: Approval, status: AckStatus | None = None) -> None:
        if not (approval.channel and approval.ts):
            return
        try:
            self._client.chat_update(
                channel=approval.channel,
                ts=approval.ts,
                blocks=request_blocks(approval, status),
                text=request_text(approval),
            )
        except _SLACK_FAILURES:
            log.exception("could not redraw approval request %s", approval.id)

    def tell(self, person: Person, news: ApprovalNews) -> None:
        text = news_text(news)
        if person.view_id:
            try:
                self._client.views_update(view_id=person.view_id, view=outcome_modal("refund", text))
                return
            except _SLACK_FAILURES:
                log.info("modal %s is gone; telling %s privately", person.view_id, person.user_id)
        try:
            if person.response_url:
                WebhookClient(person.response_url).send(
                    text=text, blocks=[section(text)], response_type="ephemeral", replace_original=False
                )
            elif person.channel:
                self._client.chat_postEphemeral(
                    channel=person.channel, user=person.user_id, text=text, blocks=[section(text)]
                )
            else:
                opened = self._client.conversations_open(users=person.user_id)
                self._client.chat_postMessage(channel=str(opened["channel"]["id"]), text=text, blocks=[section(text)])
        except _SLACK_FAILURES:
            log.exception("could not tell %s about an approval request", person.user_id)

    def shared_channel(self, channel: str) -> bool:
        try:
            info = self._client.conversations_info(channel=channel)["channel"]
        except _SLACK_FAILURES:
            log.warning("could not tell whether %s is a Slack Connect channel; not asking approval there", channel)
            return True
        return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
