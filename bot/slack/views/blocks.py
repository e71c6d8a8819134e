"""Every Block Kit builder under one name, for callers written before the builders moved into one module per
surface (:mod:`~bot.slack.views.order_card`, :mod:`~bot.slack.views.acknowledge`, :mod:`~bot.slack.views.digest`,
:mod:`~bot.slack.views.changes`, :mod:`~bot.slack.views.history`, :mod:`~bot.slack.views.help`,
:mod:`~bot.slack.views.words`). New code imports from those modules; this one only re-exports them.

Two rules hold for every builder: text from Meta is escaped before it is put into mrkdwn, and buyer PII stays off
shared surfaces (see :mod:`bot.slack.views.order_card`).
"""

from __future__ import annotations

# Names imported ``as`` themselves are importable from here as before without being builders in ``__all__``.
from bot.domain.acknowledgement import ACKNOWLEDGED_STATES as ACKNOWLEDGED_STATES
from bot.domain.acknowledgement import MERCHANT_REF_MAX, MERCHANT_REF_PATTERN, AckStatus
from bot.slack.views.acknowledge import (
    ack_conflict_blocks,
    ack_not_allowed_blocks,
    ack_reference_modal,
    ack_status_blocks,
    ack_value,
    batch_result_blocks,
    parse_ack_value,
)
from bot.slack.views.acknowledge import ack_pending_prompt as ack_pending_prompt
from bot.slack.views.changes import change_summary, digest_changes_text
from bot.slack.views.digest import digest_list, digest_message, digest_text
from bot.slack.views.help import help_blocks, message_blocks
from bot.slack.views.history import history_blocks
from bot.slack.views.kit import clip, escape
from bot.slack.views.order_card import card_metadata, contact_blocks, notification_card, notification_text, order_card
from bot.slack.views.reading import commerce_manager_link
from bot.slack.views.words import REASON_WORDS as REASON_WORDS
from bot.slack.views.words import STATE_WORDS, state_words

__all__ = [
    "MERCHANT_REF_MAX",
    "MERCHANT_REF_PATTERN",
    "STATE_WORDS",
    "AckStatus",
    "ack_conflict_blocks",
    "ack_not_allowed_blocks",
    "ack_reference_modal",
    "ack_status_blocks",
    "ack_value",
    "batch_result_blocks",
    "card_metadata",
    "change_summary",
    "clip",
    "commerce_manager_link",
    "contact_blocks",
    "digest_changes_text",
    "digest_list",
    "digest_message",
    "digest_text",
    "escape",
    "help_blocks",
    "history_blocks",
    "message_blocks",
    "notification_card",
    "notification_text",
    "order_card",
    "parse_ack_value",
    "state_words",
]
