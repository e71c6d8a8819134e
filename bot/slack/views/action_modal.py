"""Block Kit shared by the card actions (Mark shipped…, Update tracking…, Cancel order…, Refund…): the card's
buttons, the one modal they open at each step (loading, form, review, sending, outcome), the inputs the forms
share, and the answers (outcomes, refusals, conflicts) in words.

Each button carries the order id and the idempotency key of its action on that card (derived from the card's key,
:func:`bot.actions.entries.derived_key`), so every press of one card's button, and every modal it opens, is one
intent at Meta. The forms of each action live in their own module (:mod:`~bot.slack.views.ship`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.actions.answers import ActionConflict, ActionOutcome, Answer, NotAllowed, NotShown, WriteBusy
from bot.actions.entries import CANCEL_ORDER, CREATE_SHIPMENT, REFUND_ORDER, UPDATE_SHIPMENT, derived_key
from bot.actions.forms import quantity_field
from bot.actions.order_actions import CANCEL, REFUND, SHIP, TRACKING, Line, Snapshot, offered_actions
from bot.domain.problems import COMMERCE_PROBLEMS
from bot.slack import ids
from bot.slack.views import reading as read
from bot.slack.views.acknowledge import ack_value
from bot.slack.views.kit import (
    ELLIPSIS,
    Block,
    button,
    clip,
    context,
    escape,
    mention,
    money,
    plain,
    section,
    slack_date,
)

# The card actions whose modals exist, in the order cards show them.
CARD_ACTIONS: tuple[str, ...] = (SHIP, TRACKING, CANCEL, REFUND)

BUTTON_LABELS = {
    SHIP: f"Mark shipped{ELLIPSIS}",
    TRACKING: f"Update tracking{ELLIPSIS}",
    CANCEL: f"Cancel order{ELLIPSIS}",
    REFUND: f"Refund{ELLIPSIS}",
}
BUTTON_IDS = {SHIP: ids.ORDER_SHIP, TRACKING: ids.ORDER_TRACKING, CANCEL: ids.ORDER_CANCEL, REFUND: ids.ORDER_REFUND}
ACTION_OF_BUTTON = {action_id: action for action, action_id in BUTTON_IDS.items()}
TITLES = {SHIP: "Mark shipped", TRACKING: "Update tracking", CANCEL: "Cancel order", REFUND: "Refund"}

ACTION_OF_OPERATION = {CREATE_SHIPMENT: SHIP, UPDATE_SHIPMENT: TRACKING, CANCEL_ORDER: CANCEL, REFUND_ORDER: REFUND}

# What each write is called in answers.
OPERATION_WORDS = {
    CREATE_SHIPMENT: "shipment",
    UPDATE_SHIPMENT: "tracking update",
    CANCEL_ORDER: "cancellation",
    REFUND_ORDER: "refund",
}

BUYER_TOLD = "Meta tells the buyer about this itself, in the app and by email, so there is no need to write to them."


def action_buttons(
    order: Mapping[str, Any], card_key: str | None, *, actions: Sequence[str] = CARD_ACTIONS, now: float | None = None
) -> list[dict[str, Any]]:
    """The card's action buttons the order's state allows, each carrying the order id and its action's key."""
    order_id = read.actionable_id(order)
    if order_id is None or card_key is None:
        return []
    return [
        button(BUTTON_LABELS[action], BUTTON_IDS[action], value=ack_value(order_id, derived_key(card_key, action)))
        for action in offered_actions(order, now=now)
        if action in actions
    ]


def modal(
    action: str, metadata: str, blocks: Sequence[Block], *, submit: str | None = None, close: str = "Cancel"
) -> dict[str, Any]:
    """The card action's modal at any step (``callback_id`` :data:`ids.ACTION_MODAL`; the step is in the metadata)."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ids.ACTION_MODAL,
        "private_metadata": metadata,
        "title": plain(TITLES.get(action, "Order"), 24),
        "close": plain(close, 24),
        "blocks": list(blocks),
    }
    if submit:
        view["submit"] = plain(submit, 24)
    return view


def loading_modal(action: str, metadata: str, order_id: str) -> dict[str, Any]:
    """What opens at once on a click, before the order is read."""
    return modal(action, metadata, [section(f"Reading order {clip(escape(order_id), 100)} from Meta{ELLIPSIS}")])


def message_modal(action: str, metadata: str, text: str) -> dict[str, Any]:
    """A modal that only says something (the order no longer allows the action, Meta could not be read, ...)."""
    return modal(action, metadata, [section(text)], close="Close")


def sending_modal(action: str, metadata: str, summary: str) -> dict[str, Any]:
    """What the final submission shows while the write goes to Meta; the outcome replaces it."""
    return modal(
        action, metadata, [section(f":hourglass_flowing_sand: {clip(escape(summary), 500)}: sending to Meta{ELLIPSIS}")]
    )


def outcome_modal(action: str, text: str) -> dict[str, Any]:
    """The modal after the write: how it ended, in words."""
    return modal(action, "", [section(text)], close="Done")


def input_block(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": {**element, "action_id": element.get("action_id", block_id)},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def text_input(
    block_id: str,
    label: str,
    *,
    optional: bool = False,
    max_length: int = 100,
    multiline: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
    initial: str | None = None,
) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[:max_length]
    return input_block(block_id, label, element, optional=optional, hint=hint)


def carrier_input(block_id: str = "carrier", label: str = "Carrier") -> Block:
    """Meta's carrier codes in a searchable picker (the options listener serves them, common carriers first)."""
    element = {
        "type": "external_select",
        "action_id": ids.CARRIER_SELECT,
        "min_query_length": 0,
        "placeholder": plain("Type to search, e.g. UPS", 150),
    }
    return input_block(block_id, label, element, hint="Not in the list? Choose Other.")


def carrier_options(carriers: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Options of the carrier picker: (code, name) → "Name (CODE)", valued with the code."""
    return [
        {"text": plain(f"{name} ({code})" if name != code else code, 75), "value": code[:150]}
        for code, name in carriers[:100]
    ]


def quantity_inputs(snap: Snapshot, *, unit_words: str) -> list[Block]:
    """One number input per item with units left, defaulting to all of them."""
    blocks: list[Block] = []
    for line in snap.lines:
        if line.open <= 0:
            continue
        element = {
            "type": "number_input",
            "is_decimal_allowed": False,
            "initial_value": str(line.open),
            "min_value": "0",
            "max_value": str(line.open),
        }
        label = clip(f"{line.name}", 150)
        hint = f"{line.open} {unit_words}" + (f" · {line.currency} {line.price} each" if line.price else "")
        blocks.append(input_block(quantity_field(line.item_id), label, element, hint=hint))
    if snap.more_lines:
        blocks.append(context(f"{snap.more_lines} more items are not listed here; use Commerce Manager for those."))
    return blocks


def _amount(line: Line, units: int) -> str | None:
    if line.price is None:
        return None
    try:
        total = Decimal(line.price) * units
    except InvalidOperation:
        return None
    return money({"amount": str(total), "currency": line.currency or ""})


def item_lines(snap: Snapshot, items: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The review's item lines: "2 × Mug · USD 25.00"; every open unit when ``items`` is None."""
    chosen = (
        [(line, line.open) for line in snap.lines if line.open]
        if items is None
        else [
            (line, int(entry.get("quantity", 0)))
            for entry in items
            if (line := snap.line(str(entry.get("item_id")))) is not None
        ]
    )
    lines = []
    for line, units in chosen:
        amount = _amount(line, units)
        lines.append(f"• {units} × {clip(escape(line.name), 100)}" + (f" · {amount}" if amount else ""))
    return lines


def total_amount(snap: Snapshot, items: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The value of the chosen units (pre-tax, at unit price), when every line has a price in one currency."""
    chosen = (
        [(line, line.open) for line in snap.lines if line.open]
        if items is None
        else [
            (line, int(entry.get("quantity", 0)))
            for entry in items
            if (line := snap.line(str(entry.get("item_id")))) is not None
        ]
    )
    currencies = {line.currency for line, _ in chosen}
    if not chosen or len(currencies) != 1 or any(line.price is None for line, _ in chosen):
        return None
    try:
        total = sum((Decimal(str(line.price)) * units for line, units in chosen), Decimal(0))
    except InvalidOperation:
        return None
    return money({"amount": str(total), "currency": currencies.pop() or ""})


def buyer_told() -> Block:
    return context(f":information_source: {BUYER_TOLD}")


def _refusal_words(outcome: ActionOutcome) -> tuple[str, bool]:
    """Meta's refusal in words (the commerce table's in bot.domain.problems, else what was recorded), and whether
    a corrected request can succeed."""
    for number in (outcome.subcode, outcome.code):
        if number is not None and number in COMMERCE_PROBLEMS:
            problem = COMMERCE_PROBLEMS[number]
            return problem.words, problem.action == "fix"
    return clip(escape(outcome.message or "Meta did not accept it."), 500), True


def outcome_text(outcome: ActionOutcome) -> str:
    """Where a card action's write stands, in words an agent can act on."""
    what = clip(escape(outcome.summary), 300)
    order = clip(escape(outcome.order_id), 100)
    if outcome.state == "succeeded":
        return f":white_check_mark: {what} (order {order}). {BUYER_TOLD}"
    if outcome.state == "pending":
        later = " You will get the outcome here when it finishes." if outcome.waiting else ""
        return f":hourglass_flowing_sand: {mention(outcome.user_id)} is sending this to Meta: {what}.{later}"
    if outcome.state == "retryable":
        at = f" at {slack_date(outcome.next_try)}" if outcome.next_try else ""
        return (
            f":repeat: Not through yet: {what} (order {order}). Meta did not answer "
            f"({clip(escape(outcome.message or 'no answer'), 300)}); orderdesk sends the same request again by "
            f"itself{at}, and Meta counts it once."
        )
    if outcome.state == "given_up":
        return (
            f":sos: This needs a person: {what} (order {order}) did not go through "
            f"({clip(escape(outcome.message or 'no answer'), 300)}) and orderdesk stopped retrying. "
            f"Check the order in Commerce Manager; `/order history {order}` shows every attempt."
        )
    words, fixable = _refusal_words(outcome)
    then = (
        "Fix it and open the action again from the order's card."
        if fixable
        else f"Look the order up again (`/order {order}`) to see where it stands."
    )
    return f":warning: Meta refused it, so nothing changed: {words} {then}"


def thread_line(outcome: ActionOutcome) -> str:
    """The line a notification card's thread gets when a card action succeeded (or needs a person)."""
    if outcome.state != "succeeded":
        return outcome_text(outcome)
    approved = f", approved by {mention(outcome.approver)}" if outcome.approver else ""
    return f"{clip(escape(outcome.summary), 300)} by {mention(outcome.user_id)}{approved}"


def not_allowed_text(answer: NotAllowed) -> str:
    """The refusal of a click or a submission by someone who may not act: who may, or who can allow it."""
    if answer.other_workspace:
        return f":no_entry: Only members of this workspace can {answer.verb} orders."
    if not answer.allowed:
        return (
            f":no_entry: Nobody may {answer.verb} orders from orderdesk yet. An orderdesk admin can allow people "
            f"by setting {answer.setting} to their Slack user or user-group ids."
        )
    ask = ", ".join(mention(o, answer.group_names) for o in answer.allowed[:20])
    return f":no_entry: You are not allowed to {answer.verb} orders; ask {ask}."


def conflict_text(answer: ActionConflict) -> str:
    order = clip(escape(answer.order_id), 100)
    return (
        f":no_entry: This card already sent a different {answer.noun} for order {order}, so nothing was sent to "
        f"Meta. Open the order again (`/order {order}`) and use the new card."
    )


def busy_text(answer: WriteBusy) -> str:
    order = clip(escape(answer.order_id), 100)
    what = OPERATION_WORDS.get(answer.operation, "change")
    if answer.state == "failed":
        return (
            f":hourglass_flowing_sand: A {what} of order {order} by {mention(answer.user_id)} did not go through "
            "yet and orderdesk is sending it again, so nothing was sent. Try again when it has finished."
        )
    return (
        f":hourglass_flowing_sand: {mention(answer.user_id)} is sending a {what} of order {order} to Meta right "
        "now, so nothing was sent. Look at the order again in a moment and try again if it is still needed."
    )


def answer_modal(action: str, answer: Answer) -> dict[str, Any]:
    """A card action's answer shown on the modal it came from."""
    if isinstance(answer, ActionOutcome):
        action = ACTION_OF_OPERATION.get(answer.operation, action)
    return outcome_modal(action, answer_text(answer))


def answer_text(answer: Answer) -> str:
    match answer:
        case NotShown(order_id):
            shown = clip(escape(order_id), 100)
            return (
                "orderdesk did not show this button for this order, so nothing was sent to Meta. "
                f"Look the order up again with `/order {shown}` and use the buttons on that card."
            )
        case ActionOutcome():
            return outcome_text(answer)
        case ActionConflict():
            return conflict_text(answer)
        case WriteBusy():
            return busy_text(answer)
        case NotAllowed():
            return not_allowed_text(answer)
    raise TypeError(f"not an action answer: {answer!r}")
