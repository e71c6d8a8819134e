"""Block Kit for acknowledging orders: the button's value, status lines on cards, the reference modal, the
answers to clicks, the results of a bulk acknowledgement and the ``/order ack-pending`` prompt.

The idempotency key belongs to the card, not the click: it is minted when a card is drawn and travels in the
Acknowledge button's value (:func:`ack_value`), so every click of one card, and the modal it opens, is one intent
at Meta.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bot.domain.acknowledgement import ACKNOWLEDGEABLE_STATES, MERCHANT_REF_MAX, AckStatus
from bot.slack import ids
from bot.slack.views import reading as read
from bot.slack.views.help import message_blocks
from bot.slack.views.kit import (
    ELLIPSIS,
    Block,
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    escape,
    line_sections,
    mention,
    plain,
    plural,
    section,
    slack_date,
    summarised,
)

BATCH_SHOWN = 60


_ACK_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")


# The only form ack_value produces (compact JSON, these keys in this order; ids and keys need no JSON escaping).
# Parsing with a regex instead of json.loads means no nesting, duplicate keys or odd escapes ever get through.
_ACK_VALUE = re.compile(r'\{"o":"([0-9]{1,64})","k":"([A-Za-z0-9_-]{1,100})"\}')


def ack_value(order_id: str, key: str) -> str:
    """The value of an Acknowledge button (and the modal's private_metadata): ``{"o": order id, "k": key}``.

    The idempotency key travels with the button so every click of one rendered card is one intent at Meta.
    Refuses what :func:`parse_ack_value` would refuse, so the bot never renders a button it cannot read back.
    """
    if not read.ORDER_ID.fullmatch(order_id) or not _ACK_KEY.fullmatch(key):
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


def status_text(status: AckStatus) -> str:
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


def ack_buttons(order: Mapping[str, Any], ack_key: str | None, status: AckStatus | None) -> list[dict[str, Any]]:
    """Retry for a retryable attempt; Acknowledge buttons for a CREATED order nobody has acknowledged yet.

    Retry and Acknowledge carry the same value (order id + the key minted when the card was rendered): a retry
    must be the very same request at Meta.
    """
    order_id = read.actionable_id(order)
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
    if read.state(order) in ACKNOWLEDGEABLE_STATES and (status is None or status.state == "failed"):
        return [
            button("Acknowledge", ids.ACK, value=value, style="primary"),
            button(f"Acknowledge with reference{ELLIPSIS}", ids.ACK_WITH_REF, value=value),
        ]
    return []


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
    return [section(f"Order {clip(escape(order_id), 100)}: {status_text(status)}")]


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
    order_id = read.text(result.get("id"), 100) or "(no id)"
    kind = _batch_kind(result)
    if kind == "failed":
        code = read.text(read.get(result, "error", "error_code"), 20)
        reason = read.text(read.get(result, "error", "error_message"), 200) or "refused"
        return f"• :x: {order_id} not acknowledged: " + (f"{reason} ({code})" if code else reason)
    if kind == "already":
        by = read.get(result, "already", "by")
        reference = read.text(read.get(result, "already", "reference"), 100)
        who = f" by {mention(by)}" if isinstance(by, str) and by else ""
        return f"• :white_check_mark: {order_id} already acknowledged{who}" + (
            f" · reference {reference}" if reference else ""
        )
    reference = read.text(result.get("merchant_order_reference"), 100)
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


def ack_pending_value(token: str) -> str:
    """The value of the prompt's "Acknowledge all" button: a token minted with the prompt, so a click carrying any
    other value (not one orderdesk rendered) is refused rather than acknowledging everything."""
    return f"ack-pending:{token}"


def ack_pending_prompt(count: int, token: str) -> list[Block]:
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
        *actions(
            [
                button(
                    "Acknowledge all",
                    ids.ACK_PENDING_CONFIRM,
                    value=ack_pending_value(token),
                    style="primary",
                    confirm=confirm,
                )
            ]
        ),
    ]
