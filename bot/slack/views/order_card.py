"""The order card (an agent's lookup, or the channel version with ``shared_by``), the buyer's contact reveal, and
the compact notification card the poller posts and keeps current.

Buyer PII stays off shared surfaces: email, phone and street address appear only in :func:`contact_blocks`, the
ephemeral reveal for one agent; lookup cards show the buyer's name, channel versions and notifications not even
that. Every text from Meta is escaped (:mod:`bot.slack.views.reading`), and long lists are summarised so a card
keeps Slack's limits whatever the order holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.acknowledgement import AckStatus
from bot.domain.deadlines import Clock
from bot.slack import ids
from bot.slack.views import reading as read
from bot.slack.views import words
from bot.slack.views.acknowledge import ack_buttons, status_text
from bot.slack.views.action_modal import action_buttons
from bot.slack.views.clock import clock_text
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import (
    Block,
    actions,
    button,
    clip,
    context,
    escape,
    fields_section,
    header,
    line_sections,
    mention,
    money,
    plural,
    section,
    summarised,
    when,
)

# How much of a long list a card shows before summarising the rest.
CARD_ITEMS_SHOWN = 15


CARD_EDGE_SHOWN = 10  # shipments, cancellations, refunds each


NOTIFICATION_ITEMS_SHOWN = 3


def _shipping_option(order: Mapping[str, Any]) -> str | None:
    option = order.get("selected_shipping_option")
    if not isinstance(option, Mapping):
        return None
    low, high = (read.get(option, "estimated_shipping_time", k) for k in ("min_days", "max_days"))
    days = f"{read.text(low, 12)}-{read.text(high, 12)} days" if read.text(low) and read.text(high) else None
    parts = [read.text(option.get("name"), 100), money(option.get("price")), days]
    return " · ".join(p for p in parts if p) or None


def _item_line(item: Mapping[str, Any]) -> str:
    name = read.text(item.get("product_name"), 150) or read.text(item.get("retailer_id"), 100) or "(unnamed item)"
    quantity = read.text(item.get("quantity"), 12) or "?"
    sku = read.text(item.get("retailer_id"), 80)
    price = money(item.get("price_per_unit"))
    return "• " + " · ".join(p for p in (f"{quantity} × {name}", sku and f"SKU {sku}", price and f"{price} each") if p)


def _short_item(item: Mapping[str, Any]) -> str:
    name = read.text(item.get("product_name"), 80) or read.text(item.get("retailer_id"), 80) or "(unnamed item)"
    return f"{read.text(item.get('quantity'), 12) or '?'} × {name}"


def _shipment_line(shipment: Mapping[str, Any]) -> str:
    carrier = words.carrier(read.get(shipment, "tracking_info", "carrier")) or "unknown carrier"
    tracking = read.text(read.get(shipment, "tracking_info", "tracking_number"), 100) or "no tracking number"
    count = len(read.edge(shipment, "items"))
    return f"• {carrier} {tracking}" + (f" ({plural(count, 'item')})" if count else "")


def _cancellation_line(cancellation: Mapping[str, Any]) -> str:
    code = words.reason(read.get(cancellation, "cancel_reason", "reason_code")) or "No reason given"
    description = read.text(read.get(cancellation, "cancel_reason", "reason_description"), 200)
    return f"• {code}" + (f": {description}" if description else "")


def _refund_line(refund: Mapping[str, Any]) -> str:
    amount = money(refund.get("refund_amount")) or "amount not given"
    code = words.reason(read.get(refund, "refund_reason", "reason_code"))
    return f"• {amount}" + (f" · {code}" if code else "")


def _open_button(order: Mapping[str, Any], commerce_manager_url: str) -> list[dict[str, Any]]:
    url = read.commerce_manager_link(commerce_manager_url, read.order_id(order))
    return [button("Open in Commerce Manager", ids.OPEN_IN_COMMERCE_MANAGER, url=url)] if url else []


def order_card(
    order: Mapping[str, Any],
    *,
    commerce_manager_url: str,
    ack_key: str | None = None,
    ack_status: AckStatus | None = None,
    shared_by: str | None = None,
    clock: Clock | None = None,
) -> list[Block]:
    """The full card of one order: for the asking agent (ephemeral), or, with ``shared_by``, for the channel.

    ``ack_key`` is the card's key: the Acknowledge buttons carry it, and each action button (Mark shipped…, ...)
    a key derived from it.

    The channel version leaves out the buyer's name and the "Show contact" button. Neither version ever holds
    the buyer's email, phone or street address: those are revealed by :func:`contact_blocks` only. ``clock`` is
    the order's deadline (:func:`bot.domain.deadlines.deadline`), drawn to stay true in the channel version.
    """
    order_id = read.order_id(order)
    overview = [
        ("State", words.state_text(order)),
        ("Channel", words.channel(order)),
        ("Created", when(order.get("created"))),
        ("Last updated", when(order.get("last_updated"))),
        ("Facebook order ID", read.text(order_id, 100) or "unknown"),
        ("Merchant reference", read.text(order.get("merchant_order_id"), 100) or "not set"),
        ("Buyer", None if shared_by else read.text(read.get(order, "buyer_details", "name"), 200)),
        ("Ship to", read.ship_to(order)),
        ("Ship by", read.ship_by(order)),
        ("Shipping", _shipping_option(order)),
    ]
    blocks: list[Block] = [
        header(f"Order {escape(order_id) or 'with no id'}"),
        fields_section((label, value) for label, value in overview if value),
    ]

    items = read.items(order)
    if items:
        lines = summarised(items, _item_line, CARD_ITEMS_SHOWN, "item")
        more = "+" if read.get(order, "items", "paging", "next") else ""  # Graph sent one page of a longer edge
        blocks += line_sections(f"*Items* ({len(items)}{more})", lines)
    totals = [
        ("Subtotal", money(read.get(order, "estimated_payment_details", "subtotal", "items"))),
        ("Shipping", money(read.get(order, "estimated_payment_details", "subtotal", "shipping"))),
        ("Tax", money(read.get(order, "estimated_payment_details", "tax"))),
        ("Total", money(read.get(order, "estimated_payment_details", "total_amount"))),
    ]
    if any(value for _, value in totals):
        blocks.append(fields_section((label, value) for label, value in totals if value))
    for title, name, noun, line in (
        ("Shipments", "shipments", "shipment", _shipment_line),
        ("Cancellations", "cancellations", "cancellation", _cancellation_line),
        ("Refunds", "refunds", "refund", _refund_line),
    ):
        entries = read.edge(order, name)
        if entries:
            lines = summarised(entries, line, CARD_EDGE_SHOWN, noun)
            blocks += line_sections(f"*{title}* ({len(entries)})", lines)

    notes = [clock_text(clock, live=not shared_by)] if clock else []
    notes += [status_text(ack_status)] if ack_status else []
    if shared_by:
        notes.append(f"Shared by {mention(shared_by)}")
    if notes:
        blocks.append(context(*notes))

    buttons = ack_buttons(order, ack_key, ack_status) + action_buttons(order, ack_key)
    actionable = read.actionable_id(order)
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
        held = read.state(order) == "FB_PROCESSING"
        why = " (Meta shares none while an order is in its processing hold)" if held else ""
        return message_blocks(f"Meta has shared no contact details for order {escape(read.order_id(order))}{why}.")
    street = [read.text(read.get(address, name), 200) for name in ("name", "street1", "street2")]
    parts = (read.text(read.get(address, n), 100) for n in ("city", "state", "postal_code"))
    locality = " ".join(p for p in parts if p)
    address_lines = [p for p in (*street, locality, read.text(read.get(address, "country"), 60)) if p]
    remarketing = read.get(buyer, "email_remarketing_option") is True
    pairs = [
        ("Buyer", read.text(read.get(buyer, "name"), 200)),
        ("Email", read.text(read.get(buyer, "email"), 200)),
        ("Phone", read.text(read.get(buyer, "phone_number"), 60)),
        ("Shipping address", "\n".join(address_lines) or None),
    ]
    return [
        section(f"*Contact and address for order {clip(escape(read.order_id(order)), 100)}* (only you can see this)"),
        fields_section((label, value) for label, value in pairs if value),
        context(
            "Use these for this order's fulfilment only"
            + ("." if remarketing else "; the buyer has not agreed to marketing email.")
            + " The email is a relay address run by Meta."
        ),
    ]


def _channel_order(order: Mapping[str, Any]) -> str:
    channel = words.channel(order)
    return f"{channel} order" if channel else "Order"


def notification_card(
    order: Mapping[str, Any],
    *,
    ack_key: str | None,
    commerce_manager_url: str,
    ack_status: AckStatus | None = None,
    clock: Clock | None = None,
    banded: bool = True,
) -> list[Block]:
    """The compact, PII-free card posted in the on-call channel, kept current as the order moves on; ``clock``
    (the order's deadline) is drawn so that it stays true until its band changes (``banded=False``: with no band
    at all, for a copy nothing redraws)."""
    order_id = clip(escape(read.order_id(order)), 100) or "with no id"
    url = read.commerce_manager_link(commerce_manager_url, read.order_id(order))
    title = f"<{url}|{order_id}>" if url else order_id
    total = money(read.get(order, "estimated_payment_details", "total_amount"))
    items = read.items(order)
    first = summarised(items, lambda entry: f"• {_short_item(entry)}", NOTIFICATION_ITEMS_SHOWN, "item")
    ship_to, ship_by = read.ship_to(order), read.ship_by(order)
    where = " · ".join(p for p in (ship_to and f"Ship to {ship_to}", ship_by and f"ship by {ship_by}") if p)
    lines = [
        f"*{_channel_order(order)} {title}*" + (f" · {total}" if total else ""),
        "\n".join([f"{plural(len(items), 'item')}:", *first]) if items else "",
        where,
        f"State: {words.state_text(order)}",
    ]
    blocks = [section("\n".join(line for line in lines if line))]
    notes = [clock_text(clock, live=False, banded=banded)] if clock else []
    notes += [status_text(ack_status)] if ack_status else []
    if notes:
        blocks.append(context(*notes))
    buttons = ack_buttons(order, ack_key, ack_status) + action_buttons(order, ack_key)
    return blocks + actions(buttons + _open_button(order, commerce_manager_url))


def notification_text(order: Mapping[str, Any]) -> str:
    """The message's ``text``: the notification preview and the fallback where blocks are not shown. No PII."""
    items = len(read.items(order))
    total = money(read.get(order, "estimated_payment_details", "total_amount"))
    details = [plural(items, "item") if items else None, total]
    ship_to = read.ship_to(order)
    text = f"{_channel_order(order)} {escape(read.order_id(order))}: {words.state_text(order)}"
    return clip(
        text + "".join(f", {d}" for d in details if d) + (f", ship to {ship_to}" if ship_to else ""),
        300,
    )


def card_metadata(order_id: str) -> dict[str, Any]:
    """Slack message metadata that lets the notifier find its own card for an order after a crash."""
    return {"event_type": ids.ORDER_CARD_EVENT, "event_payload": {"order_id": order_id}}
