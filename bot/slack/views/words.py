"""Meta's codes in the words agents read: order states, cancellation and refund reasons, carriers, channels.

Meta's names (``CREATED``, ``OUT_OF_STOCK``...) never reach a message: an agent does not know them, and
``FB_PROCESSING`` reads like a fault. Codes Meta adds later still read as words (``NEW_REASON`` → "New reason").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.slack.views import reading as read
from bot.slack.views.kit import clip, escape

# What agents read for Meta's order states. Meta's names (``CREATED``...) never reach a message: an agent does not
# know them, and ``FB_PROCESSING`` reads like a fault.
STATE_WORDS: dict[str, str] = {
    "FB_PROCESSING": "In Meta's processing hold (nothing to do until Meta releases it)",
    "CREATED": "Awaiting acknowledgement",
    "IN_PROGRESS": "Acknowledged, being fulfilled",
    "COMPLETED": "Completed",
}


# Meta's reason codes for cancellations and refunds, in words. Codes Meta adds later are turned into words by
# :func:`code_words` (``NEW_REASON`` → "New reason").
REASON_WORDS: dict[str, str] = {
    "CUSTOMER_REQUESTED": "Customer requested",
    "OUT_OF_STOCK": "Out of stock",
    "INVALID_ADDRESS": "Invalid address",
    "SUSPICIOUS_ORDER": "Suspicious order",
    "CANCEL_REASON_OTHER": "Other reason",
    "BUYERS_REMORSE": "Buyer changed their mind",
    "DAMAGED_GOODS": "Damaged goods",
    "NOT_AS_DESCRIBED": "Not as described",
    "QUALITY_ISSUE": "Quality issue",
    "REFUND_REASON_OTHER": "Other reason",
    "WRONG_ITEM": "Wrong item",
    "FACEBOOK_INITIATED": "Refunded by Meta",
    "REFUND_COMPROMISED": "Compromised payment",
    "REFUND_FOR_RETURN": "Returned",
    "REFUND_SFI_FAKE": "Fraud review: fake order",
    "REFUND_SFI_REAL": "Fraud review: genuine order",
}


# Carrier codes as Meta and shops write them, in the spelling people know.
_CARRIER_WORDS = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL", "ontrac": "OnTrac"}


_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


_CHANNELS = {"facebook": "Facebook", "instagram": "Instagram"}


def code_words(code: str, known: Mapping[str, str]) -> str:
    """A code from Meta in words: the known ones from ``known``, other ``SHOUTED_CODES`` as "Shouted codes",
    anything else escaped as Meta sent it."""
    if code in known:
        return known[code]
    if _CODE.fullmatch(code):
        return clip(code.replace("_", " ").capitalize(), 100)
    return clip(escape(code), 100)


def state_words(state: str | None) -> str:
    """An order state as agents read it ("Awaiting acknowledgement"), never Meta's name for it (``CREATED``)."""
    if not state:
        return "Unknown"
    return code_words(state, STATE_WORDS)


def state_text(order: Mapping[str, Any]) -> str:
    """The order's state in words."""
    return state_words(read.state(order))


def reason(value: object) -> str | None:
    """A cancellation or refund reason code in words."""
    return code_words(value, REASON_WORDS) if isinstance(value, str) and value else read.text(value, 60)


def carrier(value: object) -> str | None:
    """A carrier code in the spelling people know (``fedex`` → "FedEx")."""
    if isinstance(value, str) and value.lower() in _CARRIER_WORDS:
        return _CARRIER_WORDS[value.lower()]
    return read.text(value, 60)


def channel(order: Mapping[str, Any]) -> str | None:
    """Where the buyer ordered ("Facebook", "Instagram")."""
    channel = order.get("channel")
    if isinstance(channel, str) and channel.lower() in _CHANNELS:
        return _CHANNELS[channel.lower()]
    return read.text(channel, 50)
