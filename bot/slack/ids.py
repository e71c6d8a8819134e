"""Slack identifiers: commands, callback ids, action ids, block ids.

One module, used by handler registration, the Block Kit builders and the manifest test, so that a renamed id
cannot silently leave a button without a listener.
"""

from __future__ import annotations

# Slash command
ORDER_COMMAND = "/order"

# Message shortcut ("Look up order" on any message)
LOOKUP_SHORTCUT = "lookup_order"

# Buttons (action ids)
ACK = "order_ack"
ACK_WITH_REF = "order_ack_with_ref"
ACK_RETRY = "order_ack_retry"
SHOW_CONTACT = "order_show_contact"
SHARE_IN_CHANNEL = "order_share"
DIGEST_LIST = "digest_list"
DIGEST_ACK_ALL = "digest_ack_all"
ACK_PENDING_CONFIRM = "ack_pending_confirm"
OPEN_IN_COMMERCE_MANAGER = "order_open_cm"
PENDING_MORE = "pending_more"
SNOOZE_15M = "reminder_snooze_15m"
SNOOZE_1H = "reminder_snooze_1h"
SNOOZE_4H = "reminder_snooze_4h"
HOME_PREFERENCES = "home_preferences"

# Modals (view callback ids) and their inputs
ACK_REF_MODAL = "ack_ref_modal"
ACK_REF_BLOCK = "ack_ref_block"
ACK_REF_INPUT = "ack_ref_input"

# Card actions (buttons), their one modal (the action is in its metadata) and the carrier picker's options.
ORDER_SHIP = "order_ship"
ORDER_TRACKING = "order_tracking"
ORDER_CANCEL = "order_cancel"
ORDER_REFUND = "order_refund"
ACTION_MODAL = "order_action_modal"
CARRIER_SELECT = "carrier"  # an external_select: its options come from the options listener

# Four-eyes refunds: the buttons of an approval request (their value is the request's id).
APPROVAL_APPROVE = "refund_approve"
APPROVAL_DECLINE = "refund_decline"

# Message metadata event type: lets the notifier find its own cards after a crash.
ORDER_CARD_EVENT = "orderdesk_order_card"

ALL_ACTION_IDS = (
    ACK,
    ACK_WITH_REF,
    ACK_RETRY,
    SHOW_CONTACT,
    SHARE_IN_CHANNEL,
    DIGEST_LIST,
    DIGEST_ACK_ALL,
    ACK_PENDING_CONFIRM,
    OPEN_IN_COMMERCE_MANAGER,
    PENDING_MORE,
    SNOOZE_15M,
    SNOOZE_1H,
    SNOOZE_4H,
    HOME_PREFERENCES,
    ORDER_SHIP,
    ORDER_TRACKING,
    ORDER_CANCEL,
    ORDER_REFUND,
    APPROVAL_APPROVE,
    APPROVAL_DECLINE,
)
