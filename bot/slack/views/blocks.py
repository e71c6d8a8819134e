"""Block Kit builders for orderdesk: pure functions from Graph orders (plain dicts) to Slack blocks. No I/O.

Every card is built from an order exactly as Meta returned it, and any field may be missing (Meta returns only
``id``, ``order_status``, ``created`` and ``last_updated`` unless asked, and shares no buyer details while an
order is in ``FB_PROCESSING``), so every read goes through the tolerant accessors below and nothing raises on a
missing or oddly typed field.

Two rules hold for every builder:

* **Text from Meta is escaped** (:func:`escape`) before it is put into mrkdwn, so a product called
  ``<!channel>`` cannot ping a channel. The only markup in a card is what the bot adds itself: mentions of the
  Slack users who acted, Slack dates and links to Commerce Manager.
* **Buyer PII stays off shared surfaces.** Email, phone and street address appear only in
  :func:`contact_blocks`, the ephemeral reveal for one agent; lookup cards show the buyer's name, channel
  versions and notifications not even that.

The limits of Slack's Block Kit (50 blocks, 3000 characters a section, ...) are kept by construction: long
texts are clipped, long lists summarised (see :mod:`bot.slack.views.kit`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from bot.actions.status import ACKNOWLEDGEABLE_STATES
from bot.actions.status import ACKNOWLEDGED_STATES as ACKNOWLEDGED_STATES
from bot.actions.status import MERCHANT_REF_MAX as MERCHANT_REF_MAX
from bot.actions.status import MERCHANT_REF_PATTERN as MERCHANT_REF_PATTERN
from bot.actions.status import AckStatus as AckStatus
from bot.slack import ids
from bot.slack.views.kit import (
    ELLIPSIS,
    MAX_URL,
    Block,
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    escape,
    fields_section,
    header,
    line_sections,
    mention,
    money,
    plain,
    plural,
    section,
    slack_date,
    summarised,
    when,
)

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

# What agents read for Meta's order states. Meta's names (``CREATED``...) never reach a message: an agent does not
# know them, and ``FB_PROCESSING`` reads like a fault.
STATE_WORDS: dict[str, str] = {
    "FB_PROCESSING": "In Meta's processing hold (nothing to do until Meta releases it)",
    "CREATED": "Awaiting acknowledgement",
    "IN_PROGRESS": "Acknowledged, being fulfilled",
    "COMPLETED": "Completed",
}

# Meta's reason codes for cancellations and refunds, in words. Codes Meta adds later are turned into words by
# :func:`_code_words` (``NEW_REASON`` → "New reason").
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

# How much of a long list a card shows before summarising the rest.
CARD_ITEMS_SHOWN = 15
CARD_EDGE_SHOWN = 10  # shipments, cancellations, refunds each
NOTIFICATION_ITEMS_SHOWN = 3
DIGEST_SHOWN = 5
DIGEST_LIST_SHOWN = 100
DIGEST_CHANGES_SHOWN = 20
HISTORY_SHOWN = 40
BATCH_SHOWN = 60

_ORDER_ID = re.compile(r"[0-9]{1,64}")
_ACK_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")
# The only form ack_value produces (compact JSON, these keys in this order; ids and keys need no JSON escaping).
# Parsing with a regex instead of json.loads means no nesting, duplicate keys or odd escapes ever get through.
_ACK_VALUE = re.compile(r'\{"o":"([0-9]{1,64})","k":"([A-Za-z0-9_-]{1,100})"\}')
_CHANNELS = {"facebook": "Facebook", "instagram": "Instagram"}


# --- the Acknowledge button's value ----------------------------------------------------------------------


def ack_value(order_id: str, key: str) -> str:
    """The value of an Acknowledge button (and the modal's private_metadata): ``{"o": order id, "k": key}``.

    The idempotency key travels with the button so every click of one rendered card is one intent at Meta.
    Refuses what :func:`parse_ack_value` would refuse, so the bot never renders a button it cannot read back.
    """
    if not _ORDER_ID.fullmatch(order_id) or not _ACK_KEY.fullmatch(key):
        raise ValueError(f"not an order id and idempotency key: {order_id!r}, {key!r}")
    return json.dumps({"o": order_id, "k": key}, separators=(",", ":"))


def parse_ack_value(value: str) -> tuple[str, str]:
    """(order id, key) from a button value; ValueError for anything :func:`ack_value` did not produce.

    Button values come back from Slack in a request anyone with the signing secret could have forged or a
    client could have altered, so the format is checked exactly: digits for the id, Meta's key alphabet.
    """
    match = _ACK_VALUE.fullmatch(value) if isinstance(value, str) and len(value) <= 2000 else None
    if match is None:
        raise ValueError("malformed acknowledge button value")
    return match[1], match[2]


# --- reading a Graph order tolerantly --------------------------------------------------------------------


def _get(data: object, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None as soon as a step is missing or not an object."""
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def _edge(order: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The entries of an edge (``{"data": [...]}`` as Graph sends it, or a bare list), objects only."""
    value = order.get(name)
    if isinstance(value, Mapping):
        value = value.get("data")
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def _text(value: object, limit: int = 200) -> str | None:
    """Escaped, clipped text of a scalar from Meta; None when missing or empty."""
    if value is None or value == "" or isinstance(value, Mapping | list):
        return None
    return clip(escape(value), limit)


def _order_id(order: Mapping[str, Any]) -> str:
    return str(order.get("id") or "")


def _actionable_id(order: Mapping[str, Any]) -> str | None:
    """The order id if buttons can carry it (digits, as Meta's ids are); None for anything else."""
    order_id = _order_id(order)
    return order_id if _ORDER_ID.fullmatch(order_id) else None


def _state(order: Mapping[str, Any]) -> str | None:
    state = _get(order, "order_status", "state")
    return state if isinstance(state, str) else None


def _code_words(code: str, known: Mapping[str, str]) -> str:
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
    return _code_words(state, STATE_WORDS)


def _state_text(order: Mapping[str, Any]) -> str:
    return state_words(_state(order))


def _reason(value: object) -> str | None:
    return _code_words(value, REASON_WORDS) if isinstance(value, str) and value else _text(value, 60)


def _carrier(value: object) -> str | None:
    if isinstance(value, str) and value.lower() in _CARRIER_WORDS:
        return _CARRIER_WORDS[value.lower()]
    return _text(value, 60)


def _channel(order: Mapping[str, Any]) -> str | None:
    channel = order.get("channel")
    if isinstance(channel, str) and channel.lower() in _CHANNELS:
        return _CHANNELS[channel.lower()]
    return _text(channel, 50)


def _ship_to(order: Mapping[str, Any]) -> str | None:
    """City and country only: enough to plan shipping, not enough to find the buyer's door."""
    parts = [_text(_get(order, "shipping_address", name), 100) for name in ("city", "country")]
    return ", ".join(p for p in parts if p) or None


def _ship_by(order: Mapping[str, Any]) -> str | None:
    """Meta's fulfilment deadline: a calendar date (``Y-m-d``), shown as is, not shifted into a time zone."""
    return _text(order.get("ship_by_date"), 40)


def _shipping_option(order: Mapping[str, Any]) -> str | None:
    option = order.get("selected_shipping_option")
    if not isinstance(option, Mapping):
        return None
    low, high = (_get(option, "estimated_shipping_time", k) for k in ("min_days", "max_days"))
    days = f"{_text(low, 12)}-{_text(high, 12)} days" if _text(low) and _text(high) else None
    parts = [_text(option.get("name"), 100), money(option.get("price")), days]
    return " · ".join(p for p in parts if p) or None


def _items(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _edge(order, "items")


def _item_line(item: Mapping[str, Any]) -> str:
    name = _text(item.get("product_name"), 150) or _text(item.get("retailer_id"), 100) or "(unnamed item)"
    quantity = _text(item.get("quantity"), 12) or "?"
    sku = _text(item.get("retailer_id"), 80)
    price = money(item.get("price_per_unit"))
    return "• " + " · ".join(p for p in (f"{quantity} × {name}", sku and f"SKU {sku}", price and f"{price} each") if p)


def _short_item(item: Mapping[str, Any]) -> str:
    name = _text(item.get("product_name"), 80) or _text(item.get("retailer_id"), 80) or "(unnamed item)"
    return f"{_text(item.get('quantity'), 12) or '?'} × {name}"


def _shipment_line(shipment: Mapping[str, Any]) -> str:
    carrier = _carrier(_get(shipment, "tracking_info", "carrier")) or "unknown carrier"
    tracking = _text(_get(shipment, "tracking_info", "tracking_number"), 100) or "no tracking number"
    count = len(_edge(shipment, "items"))
    return f"• {carrier} {tracking}" + (f" ({plural(count, 'item')})" if count else "")


def _cancellation_line(cancellation: Mapping[str, Any]) -> str:
    code = _reason(_get(cancellation, "cancel_reason", "reason_code")) or "No reason given"
    description = _text(_get(cancellation, "cancel_reason", "reason_description"), 200)
    return f"• {code}" + (f": {description}" if description else "")


def _refund_line(refund: Mapping[str, Any]) -> str:
    amount = money(refund.get("refund_amount")) or "amount not given"
    code = _reason(_get(refund, "refund_reason", "reason_code"))
    return f"• {amount}" + (f" · {code}" if code else "")


def commerce_manager_link(commerce_manager_url: str, order_id: str) -> str | None:
    """The order's page in Commerce Manager, or None if the id would not make a usable URL."""
    url = f"{commerce_manager_url.rstrip('/')}/orders/{quote(order_id, safe='')}"
    return url if order_id and len(url) <= MAX_URL else None


# --- acknowledgement state on cards -----------------------------------------------------------------------


def _ack_status_text(status: AckStatus) -> str:
    """One line saying where the acknowledgement stands, in words an agent can act on."""
    who = mention(status.user_id)
    if status.state == "succeeded":
        at = f" at {slack_date(status.at)}" if status.at is not None else ""
        reference = f" · reference {clip(escape(status.reference), 100)}" if status.reference else ""
        return f":white_check_mark: Acknowledged by {who}{at}{reference}"
    if status.state == "pending":
        # An absolute time: a relative one ("3 minutes ago") is frozen into the message and goes stale.
        started = f" (started {slack_date(status.at)})" if status.at is not None else ""
        return f":hourglass_flowing_sand: {who} is acknowledging this order{ELLIPSIS}{started}"
    message = clip(escape(status.message or "Meta did not accept it."), 500)
    if status.state == "retryable":
        later = f" orderdesk tries again by itself at {slack_date(status.next_try)};" if status.next_try else ""
        return (
            f":repeat: The acknowledgement did not go through yet: {message}{later} Retry sends the same request now."
        )
    if status.state == "given_up":
        return (
            f":sos: The acknowledgement needs a person: {message} orderdesk stopped retrying. "
            "Retry sends the same request again (Meta counts it once if the first one got through)."
        )
    return f":warning: The acknowledgement failed: {message}"


def _ack_buttons(order: Mapping[str, Any], ack_key: str | None, status: AckStatus | None) -> list[dict[str, Any]]:
    """Retry for a retryable attempt; Acknowledge buttons for a CREATED order nobody has acknowledged yet.

    Retry and Acknowledge carry the same value (order id + the key minted when the card was rendered): a retry
    must be the very same request at Meta.
    """
    order_id = _actionable_id(order)
    if order_id is None:
        return []
    if status is not None and status.state in ("retryable", "given_up"):
        retry_key = status.key or ack_key
        return (
            [button("Retry", ids.ACK_RETRY, value=ack_value(order_id, retry_key), style="primary")] if retry_key else []
        )
    if ack_key is None:
        return []
    value = ack_value(order_id, ack_key)
    if _state(order) in ACKNOWLEDGEABLE_STATES and (status is None or status.state == "failed"):
        return [
            button("Acknowledge", ids.ACK, value=value, style="primary"),
            button(f"Acknowledge with reference{ELLIPSIS}", ids.ACK_WITH_REF, value=value),
        ]
    return []


def _open_button(order: Mapping[str, Any], commerce_manager_url: str) -> list[dict[str, Any]]:
    url = commerce_manager_link(commerce_manager_url, _order_id(order))
    return [button("Open in Commerce Manager", ids.OPEN_IN_COMMERCE_MANAGER, url=url)] if url else []


# --- the order card ---------------------------------------------------------------------------------------


def order_card(
    order: Mapping[str, Any],
    *,
    commerce_manager_url: str,
    ack_key: str | None = None,
    ack_status: AckStatus | None = None,
    shared_by: str | None = None,
) -> list[Block]:
    """The full card of one order: for the asking agent (ephemeral), or, with ``shared_by``, for the channel.

    The channel version leaves out the buyer's name and the "Show contact" button. Neither version ever holds
    the buyer's email, phone or street address: those are revealed by :func:`contact_blocks` only.
    """
    order_id = _order_id(order)
    overview = [
        ("State", _state_text(order)),
        ("Channel", _channel(order)),
        ("Created", when(order.get("created"))),
        ("Last updated", when(order.get("last_updated"))),
        ("Facebook order ID", _text(order_id, 100) or "unknown"),
        ("Merchant reference", _text(order.get("merchant_order_id"), 100) or "not set"),
        ("Buyer", None if shared_by else _text(_get(order, "buyer_details", "name"), 200)),
        ("Ship to", _ship_to(order)),
        ("Ship by", _ship_by(order)),
        ("Shipping", _shipping_option(order)),
    ]
    blocks: list[Block] = [
        header(f"Order {escape(order_id) or 'with no id'}"),
        fields_section((label, value) for label, value in overview if value),
    ]

    items = _items(order)
    if items:
        lines = summarised(items, _item_line, CARD_ITEMS_SHOWN, "item")
        more = "+" if _get(order, "items", "paging", "next") else ""  # Graph sent one page of a longer edge
        blocks += line_sections(f"*Items* ({len(items)}{more})", lines)
    totals = [
        ("Subtotal", money(_get(order, "estimated_payment_details", "subtotal", "items"))),
        ("Shipping", money(_get(order, "estimated_payment_details", "subtotal", "shipping"))),
        ("Tax", money(_get(order, "estimated_payment_details", "tax"))),
        ("Total", money(_get(order, "estimated_payment_details", "total_amount"))),
    ]
    if any(value for _, value in totals):
        blocks.append(fields_section((label, value) for label, value in totals if value))
    for title, name, noun, line in (
        ("Shipments", "shipments", "shipment", _shipment_line),
        ("Cancellations", "cancellations", "cancellation", _cancellation_line),
        ("Refunds", "refunds", "refund", _refund_line),
    ):
        entries = _edge(order, name)
        if entries:
            lines = summarised(entries, line, CARD_EDGE_SHOWN, noun)
            blocks += line_sections(f"*{title}* ({len(entries)})", lines)

    notes = [_ack_status_text(ack_status)] if ack_status else []
    if shared_by:
        notes.append(f"Shared by {mention(shared_by)}")
    if notes:
        blocks.append(context(*notes))

    buttons = _ack_buttons(order, ack_key, ack_status)
    actionable = _actionable_id(order)
    if actionable and not shared_by:
        buttons += [
            button("Show contact and address", ids.SHOW_CONTACT, value=actionable),
            button("Share in channel", ids.SHARE_IN_CHANNEL, value=actionable),
        ]
    return blocks + actions(buttons + _open_button(order, commerce_manager_url))


def contact_blocks(order: Mapping[str, Any]) -> list[Block]:
    """The buyer's contact details and full shipping address: the ephemeral reveal for one agent, on request."""
    buyer = order.get("buyer_details")
    address = order.get("shipping_address")
    if not isinstance(buyer, Mapping) and not isinstance(address, Mapping):
        held = _state(order) == "FB_PROCESSING"
        why = " (Meta shares none while an order is in its processing hold)" if held else ""
        return message_blocks(f"Meta has shared no contact details for order {escape(_order_id(order))}{why}.")
    street = [_text(_get(address, name), 200) for name in ("name", "street1", "street2")]
    locality = " ".join(p for p in (_text(_get(address, n), 100) for n in ("city", "state", "postal_code")) if p)
    address_lines = [p for p in (*street, locality, _text(_get(address, "country"), 60)) if p]
    remarketing = _get(buyer, "email_remarketing_option") is True
    pairs = [
        ("Buyer", _text(_get(buyer, "name"), 200)),
        ("Email", _text(_get(buyer, "email"), 200)),
        ("Phone", _text(_get(buyer, "phone_number"), 60)),
        ("Shipping address", "\n".join(address_lines) or None),
    ]
    return [
        section(f"*Contact and address for order {clip(escape(_order_id(order)), 100)}* (only you can see this)"),
        fields_section((label, value) for label, value in pairs if value),
        context(
            "Use these for this order's fulfilment only"
            + ("." if remarketing else "; the buyer has not agreed to marketing email.")
            + " The email is a relay address run by Meta."
        ),
    ]


# --- notifications ----------------------------------------------------------------------------------------


def _channel_order(order: Mapping[str, Any]) -> str:
    channel = _channel(order)
    return f"{channel} order" if channel else "Order"


def notification_card(
    order: Mapping[str, Any],
    *,
    ack_key: str | None,
    commerce_manager_url: str,
    ack_status: AckStatus | None = None,
) -> list[Block]:
    """The compact, PII-free card posted in the on-call channel, kept current as the order moves on."""
    order_id = clip(escape(_order_id(order)), 100) or "with no id"
    url = commerce_manager_link(commerce_manager_url, _order_id(order))
    title = f"<{url}|{order_id}>" if url else order_id
    total = money(_get(order, "estimated_payment_details", "total_amount"))
    items = _items(order)
    first = summarised(items, lambda entry: f"• {_short_item(entry)}", NOTIFICATION_ITEMS_SHOWN, "item")
    ship_to, ship_by = _ship_to(order), _ship_by(order)
    where = " · ".join(p for p in (ship_to and f"Ship to {ship_to}", ship_by and f"ship by {ship_by}") if p)
    lines = [
        f"*{_channel_order(order)} {title}*" + (f" · {total}" if total else ""),
        "\n".join([f"{plural(len(items), 'item')}:", *first]) if items else "",
        where,
        f"State: {_state_text(order)}",
    ]
    blocks = [section("\n".join(line for line in lines if line))]
    if ack_status:
        blocks.append(context(_ack_status_text(ack_status)))
    return blocks + actions(_ack_buttons(order, ack_key, ack_status) + _open_button(order, commerce_manager_url))


def notification_text(order: Mapping[str, Any]) -> str:
    """The message's ``text``: the notification preview and the fallback where blocks are not shown. No PII."""
    items = len(_items(order))
    total = money(_get(order, "estimated_payment_details", "total_amount"))
    details = [plural(items, "item") if items else None, total]
    ship_to = _ship_to(order)
    text = f"{_channel_order(order)} {escape(_order_id(order))}: {_state_text(order)}"
    return clip(
        text + "".join(f", {d}" for d in details if d) + (f", ship to {ship_to}" if ship_to else ""),
        300,
    )


def card_metadata(order_id: str) -> dict[str, Any]:
    """Slack message metadata that lets the notifier find its own card for an order after a crash."""
    return {"event_type": ids.ORDER_CARD_EVENT, "event_payload": {"order_id": order_id}}


def _new_entries(before: Mapping[str, Any], after: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Entries of an edge that ``after`` has and ``before`` had not, by id (or by content if Meta sent none)."""

    def identity(entry: Mapping[str, Any]) -> str:
        return str(entry.get("id") or json.dumps(entry, sort_keys=True, default=str))

    seen = {identity(e) for e in _edge(before, name)}
    return [e for e in _edge(after, name) if identity(e) not in seen]


def change_summary(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, acknowledged_by: str | None = None
) -> str | None:
    """A short sentence (mrkdwn, escaped) for the threaded reply under a card: what changed that matters.

    ``acknowledged_by`` is the Slack user who acknowledged the order through orderdesk, if one did: the reply
    says who acted. None when nothing changed (or when there is no earlier version: the card itself says
    everything then).
    """
    if before is None:
        return None
    changes: list[str] = []
    was, now = _state(before), _state(after)
    if was == "FB_PROCESSING" and now == "CREATED":
        changes.append("Out of Meta's processing hold, awaiting acknowledgement")
    if was in ("FB_PROCESSING", "CREATED") and now in ACKNOWLEDGED_STATES:
        reference = _text(after.get("merchant_order_id"), 100)
        who = f" by {mention(acknowledged_by)}" if acknowledged_by else ""
        changes.append(f"Acknowledged{who}" + (f" (reference {reference})" if reference else ""))
    for shipment in _new_entries(before, after, "shipments"):
        carrier = _carrier(_get(shipment, "tracking_info", "carrier"))
        tracking = _text(_get(shipment, "tracking_info", "tracking_number"), 100)
        changes.append(" ".join(p for p in ("Shipped", carrier and f"via {carrier}", tracking) if p))
    for cancellation in _new_entries(before, after, "cancellations"):
        code = _reason(_get(cancellation, "cancel_reason", "reason_code"))
        changes.append(f"Cancelled: {code}" if code else "Cancelled")
    for refund in _new_entries(before, after, "refunds"):
        amount = money(refund.get("refund_amount"))
        changes.append(f"Refunded {amount}" if amount else "Refunded")
    if now == "COMPLETED" and was != "COMPLETED":
        changes.append("Completed")
    return clip("; ".join(changes), 1000) if changes else None


def digest_changes_text(changes: Sequence[tuple[str, str]]) -> str:
    """The threaded reply under a digest when some of its orders changed in one poll: one line per order.

    ``changes`` are (order id, :func:`change_summary` of that order); one reply instead of one per order keeps
    an "Acknowledge all" of 60 orders from posting 60 replies.
    """

    def line(change: tuple[str, str]) -> str:
        return clip(f"• Order {clip(escape(change[0]), 100)}: {change[1]}", 400)

    if len(changes) == 1:
        return line(changes[0]).removeprefix("• ")
    return "\n".join(summarised(changes, line, DIGEST_CHANGES_SHOWN, "order"))


def _acknowledged(order: Mapping[str, Any]) -> bool:
    return _state(order) in ACKNOWLEDGED_STATES


def _digest_line(order: Mapping[str, Any], link: str | None = None) -> str:
    order_id = clip(escape(_order_id(order)), 100) or "(no id)"
    items = len(_items(order))
    parts = [
        f"<{link}|{order_id}>" if link else order_id,
        _channel(order),
        money(_get(order, "estimated_payment_details", "total_amount")),
        plural(items, "item") if items else None,
        _ship_to(order),
        _ship_by(order) and f"ship by {_ship_by(order)}",
        "acknowledged" if _acknowledged(order) else None,
    ]
    return (":white_check_mark: " if _acknowledged(order) else "• ") + " · ".join(p for p in parts if p)


def digest_text(orders: Sequence[Mapping[str, Any]]) -> str:
    """A digest's ``text`` (notification preview and fallback): how many of its orders still await acknowledgement.

    "17 new orders awaiting acknowledgement" when posted, then "3 of 17 new orders still awaiting
    acknowledgement", then "All 17 new orders acknowledged": the digest is redrawn as its orders move on.
    """
    count = len(orders)
    awaiting = count - sum(map(_acknowledged, orders))
    if awaiting == count:
        return f"{plural(count, 'new order')} awaiting acknowledgement"
    if awaiting == 0:
        return "The new order was acknowledged" if count == 1 else f"All {count} new orders acknowledged"
    return f"{awaiting} of {plural(count, 'new order')} still awaiting acknowledgement"


def digest_message(orders: Sequence[Mapping[str, Any]], *, digest_id: str) -> list[Block]:
    """One message for a burst of new orders ("37 new orders") instead of a flood of cards.

    ``orders`` are the orders as last seen: the message counts those still awaiting acknowledgement, and once
    none is left its buttons go (there is nothing left to list or acknowledge).
    """
    count = len(orders)
    awaiting = count - sum(map(_acknowledged, orders))
    lines = summarised(orders, _digest_line, DIGEST_SHOWN, "order")
    if awaiting == 0:
        return line_sections(f":white_check_mark: *{digest_text(orders)}*", lines, line_limit=300)
    if awaiting == count:
        title = f":package: *{plural(count, 'new order')}* awaiting acknowledgement"
        which = f"all {plural(count, 'order')}" if count > 1 else "this order"
    else:
        title = f":package: *{awaiting} of {plural(count, 'new order')}* still awaiting acknowledgement"
        which = f"the {plural(awaiting, 'order')} still awaiting acknowledgement"
    confirm = confirm_dialog(
        "Acknowledge all?",
        f"This acknowledges {which} at Meta, each with the configured merchant reference (if any).",
        "Acknowledge all",
    )
    return [
        *line_sections(title, lines, line_limit=300),
        *actions(
            [
                button("List them", ids.DIGEST_LIST, value=digest_id),
                button("Acknowledge all", ids.DIGEST_ACK_ALL, value=digest_id, style="primary", confirm=confirm),
            ]
        ),
    ]


def digest_list(orders: Sequence[Mapping[str, Any]], *, commerce_manager_url: str) -> list[Block]:
    """The ephemeral list behind a digest's "List them" button, each order linked to Commerce Manager."""

    def linked(order: Mapping[str, Any]) -> str:
        return _digest_line(order, commerce_manager_link(commerce_manager_url, _order_id(order)))

    title = f"*Orders in this digest* ({len(orders)}); look one up with `/order &lt;id&gt;`"
    return line_sections(title, summarised(orders, linked, DIGEST_LIST_SHOWN, "order"))


# --- acknowledgement flow ---------------------------------------------------------------------------------


def ack_reference_modal(
    order_id: str, key: str, *, error: str | None = None, initial: str | None = None
) -> dict[str, Any]:
    """The "Acknowledge with reference…" modal; it carries the button's key, so a submit is the same intent."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACK_REF_INPUT,
        "max_length": MERCHANT_REF_MAX,
        "placeholder": plain("e.g. SHOP-1042", 150),
    }
    if initial:
        element["initial_value"] = initial[:MERCHANT_REF_MAX]
    blocks: list[Block] = [
        section(
            f"Acknowledge order *{escape(order_id)}* with your shop's order number. "
            "The buyer sees it on the receipt, and `/order &lt;reference&gt;` finds the order by it."
        ),
        {
            "type": "input",
            "block_id": ids.ACK_REF_BLOCK,
            "label": plain("Merchant order reference", 2000),
            "element": element,
            "hint": plain(
                f"Letters, digits and . _ / # - (starting with a letter or digit), at most {MERCHANT_REF_MAX}.",
                2000,
            ),
        },
    ]
    if error:
        blocks.append(context(f":warning: {clip(escape(error), 500)}"))
    return {
        "type": "modal",
        "callback_id": ids.ACK_REF_MODAL,
        "private_metadata": ack_value(order_id, key),
        "title": plain("Acknowledge order", 24),
        "submit": plain("Acknowledge", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def ack_status_blocks(order_id: str, status: AckStatus) -> list[Block]:
    """The ephemeral answer to a click on an order whose acknowledgement is in flight, done or failed."""
    return [section(f"Order {clip(escape(order_id), 100)}: {_ack_status_text(status)}")]


def ack_not_allowed_blocks(
    owners: Sequence[str], *, other_workspace: bool = False, group_names: Mapping[str, str] | None = None
) -> list[Block]:
    """The answer to a click by someone who may not acknowledge orders; ``owners`` are user or group ids.

    ``group_names`` (group id → handle, from ``usergroups.list``) names the groups: "ask @oncall", not an id.
    """
    if other_workspace:
        return message_blocks(":no_entry: Orders can only be acknowledged by members of this workspace.")
    ask = ", ".join(mention(o, group_names) for o in owners[:20]) or "a workspace admin"
    return message_blocks(f":no_entry: You are not allowed to acknowledge orders; ask {ask}.")


def ack_conflict_blocks(order_id: str) -> list[Block]:
    """The answer when a card's key was already used for a different request (another reference)."""
    return message_blocks(
        f":no_entry: This card already sent a different acknowledgement for order {clip(escape(order_id), 100)}, "
        "so nothing was sent to Meta. Look the order up again (`/order &lt;id&gt;`) for a fresh card."
    )


def _batch_kind(result: Mapping[str, Any]) -> Literal["failed", "already", "acknowledged"]:
    if isinstance(result.get("error"), Mapping):
        return "failed"
    return "already" if isinstance(result.get("already"), Mapping) else "acknowledged"


def _batch_line(result: Mapping[str, Any]) -> str:
    order_id = _text(result.get("id"), 100) or "(no id)"
    kind = _batch_kind(result)
    if kind == "failed":
        code = _text(_get(result, "error", "error_code"), 20)
        reason = _text(_get(result, "error", "error_message"), 200) or "refused"
        return f"• :x: {order_id} not acknowledged: " + (f"{reason} ({code})" if code else reason)
    if kind == "already":
        by = _get(result, "already", "by")
        reference = _text(_get(result, "already", "reference"), 100)
        who = f" by {mention(by)}" if isinstance(by, str) and by else ""
        return f"• :white_check_mark: {order_id} already acknowledged{who}" + (
            f" · reference {reference}" if reference else ""
        )
    reference = _text(result.get("merchant_order_reference"), 100)
    return f"• :white_check_mark: {order_id} acknowledged" + (f" · reference {reference}" if reference else "")


def batch_result_blocks(results: Sequence[Mapping[str, Any]], *, user_id: str | None = None) -> list[Block]:
    """Per-order results of ``/order ack-pending`` and a digest's "Acknowledge all", saying who acted.

    Each result is Meta's per-order batch answer, ``{"id", "state"}`` or ``{"id", "error": {"error_code",
    "error_message"}}``, optionally with the ``merchant_order_reference`` that was sent; or ``{"id", "already":
    {"by": user id or None, "reference": ...}}`` for an order that was acknowledged before, which counts as done,
    not as a failure. ``user_id`` is who asked.
    """
    if not results:
        return message_blocks("No orders are awaiting acknowledgement.")
    kinds = [_batch_kind(r) for r in results]
    now, already, failed = (kinds.count(k) for k in ("acknowledged", "already", "failed"))
    title = f"*{mention(user_id)} acknowledged" if user_id else "*Acknowledged"
    title += f" {plural(now, 'order')}*"
    if already or failed:
        title += f" · {now + already} of {len(results)} acknowledged"
        title += f" ({already} already)" if already else ""
        title += f" · {failed} failed" if failed else ""
    return line_sections(title, summarised(results, _batch_line, BATCH_SHOWN, "order"))


# What the audit's actions mean to an agent: (done, the attempt as a noun, the attempt as a verb).
_ACTION_WORDS: dict[str, tuple[str, str, str]] = {
    "acknowledge_order": ("Acknowledged", "Acknowledgement", "acknowledge"),
    "acknowledge_orders": ("Acknowledged (batch)", "Batch acknowledgement", "acknowledge in bulk"),
    "show_contact": ("Viewed contact", "Viewing contact", "view contact details"),
}
# Audit details written for support in configuration terms, in words an agent can act on.
_DETAIL_WORDS = {
    "not in ORDERDESK_ACK_ALLOWED": "not on the list of who may acknowledge orders",
    "user from another workspace": "a member of another workspace",
}


def _history_words(action: str, outcome: str) -> str:
    """An audit row's action and outcome as one phrase ("Acknowledged", "Refused: acknowledge", ...)."""
    known = _ACTION_WORDS.get(action)
    if known is None:
        name = clip(escape(action.replace("_", " ").capitalize()), 60) or "Something"
        known = (name, name, name.lower())
    done, attempt, verb = known
    if outcome in ("succeeded", "shown", "ok", ""):
        return done
    if outcome == "failed, retryable":
        return f"{attempt} did not go through yet"
    if outcome.startswith("failed"):
        return f"{attempt} failed"
    if outcome == "conflict":
        return f"{attempt} refused: the card was already used for a different request"
    if outcome.startswith("refused"):
        why = outcome.removeprefix("refused").lstrip(":, ")
        return f"Refused: {verb}" + (f" ({clip(escape(why), 100)})" if why else "")
    return f"{done}: {clip(escape(outcome.replace('_', ' ')), 60)}"


def _history_detail(detail: object) -> str | None:
    """The audit's detail in words: a recorded Graph error shows its message, config terms become words."""
    if not isinstance(detail, str) or not detail:
        return None
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        message = parsed.get("message") or parsed.get("error_message")
        return _text(message, 200) if message else None
    return _text(_DETAIL_WORDS.get(detail, detail), 200)


def _history_line(row: Any) -> str:
    """One audit row: a ``bot.storage.sqlite.store.AuditRow`` or a mapping with the same names."""

    def field(name: str) -> Any:
        return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)

    at, key, detail = field("at"), _text(field("key"), 100), _history_detail(field("detail"))
    action, outcome = field("action"), field("outcome")
    words = _history_words(action if isinstance(action, str) else "", outcome if isinstance(outcome, str) else "")
    parts = [slack_date(at) if isinstance(at, int | float) else "(no time)", mention(field("user_id")), f"*{words}*"]
    return "• " + " ".join(parts) + (f" · {detail}" if detail else "") + (f" · key `{key}`" if key else "")


def history_blocks(order_id: str, rows: Sequence[Any]) -> list[Block]:
    """The audit trail of an order (newest first): who, when, what, with which key, and how it ended, in words.

    Rows are ``bot.storage.sqlite.store.AuditRow`` objects or mappings with the same names (at, action, user_id,
    key, outcome,
    detail).
    """
    shown = clip(escape(order_id), 100)
    if not rows:
        return message_blocks(f"No history for order {shown}: nobody has acted on it through orderdesk.")
    return line_sections(f"*History of order {shown}*", summarised(rows, _history_line, HISTORY_SHOWN, "entry"))


# --- help and plain answers -------------------------------------------------------------------------------


def help_blocks() -> list[Block]:
    """Usage of ``/order``, with where agents find the numbers buyers quote."""
    return [
        header("Looking up Facebook and Instagram Shops orders"),
        section(
            "*`/order &lt;Facebook order ID&gt;`*: the order's card, e.g. `/order 7001234567890`\n"
            "*`/order &lt;merchant reference&gt;`*: the same by your shop's own order number, e.g. `/order SHOP-1042`\n"
            "*`/order &lt;id&gt; &lt;id&gt; …`*: several at once (space or comma separated, at most 5)\n"
            "*`/order history &lt;id or reference&gt;`*: who did what to an order, and when\n"
            "*`/order ack-pending`*: acknowledge every order awaiting acknowledgement (on-call)\n"
            "*`/order help`*: this message"
        ),
        section(
            "*Where to find the numbers*\n"
            "The *Facebook order ID* is the long number in the buyer's order confirmation and in Commerce Manager "
            "(Orders). The *merchant reference* is your shop's order number, set when an order is acknowledged; "
            "it is printed on the buyer's receipt. You can also use *Look up order* from the ⋮ menu of any "
            "message that mentions an order."
        ),
    ]


def message_blocks(text: str) -> list[Block]:
    """One section for an answer or an error. ``text`` is mrkdwn: :func:`escape` anything that is not yours."""
    return [section(text)]


def ack_pending_prompt(count: int) -> list[Block]:
    """``/order ack-pending`` asks before acknowledging in bulk, as the digest's button does."""
    if count == 0:
        return message_blocks("No orders are awaiting acknowledgement.")
    orders = "1 order is" if count == 1 else f"{count} orders are"
    confirm = confirm_dialog(
        "Acknowledge all?",
        "Every order awaiting acknowledgement at Meta when you confirm is acknowledged, in batches of 100. "
        "Buyers are told their order is being prepared.",
        "Acknowledge all",
    )
    return [
        section(f"{orders} awaiting acknowledgement. Acknowledge them all?"),
        *actions([button("Acknowledge all", ids.ACK_PENDING_CONFIRM, value="all", style="primary", confirm=confirm)]),
    ]
