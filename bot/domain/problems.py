"""A failed Graph call in words, written once for everyone who tells someone about it.

Three audiences read Graph failures: an agent whose lookup failed (:func:`for_agent`), the card and the ledger of
a failed write (:func:`for_ledger`, :func:`refused_words`), and the admin running ``orderdesk doctor``
(:func:`for_admin`). They need different words, but the same decision underneath: which *kind* of failure it is
(:func:`kind_of`), since that decides who can fix it: nobody (not found), an admin (token, permission), time
(rate limit, Meta down) or nobody again (Meta refused the request itself).

Words for agents are mrkdwn with foreign text escaped (:mod:`bot.domain.text`); words for the admin are plain.

Meta's commerce order-management numbers (2361009, the 1818xxx and 238xxxx families, ...) each get words and a
class in one table, :data:`COMMERCE_PROBLEMS`: **retry** (the same request, with the same key, later), **fix**
(Meta refused the request as it stands: correct the input, which makes a new request with a new key) or **stop**
(the order is past this action: nothing to send). :func:`action_of` gives the class of any Graph failure,
:func:`commerce_problem` the table's entry for one that carries such a number (in ``error_subcode`` or ``code``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain.text import clip, escape
from bot.graph.client import (
    GraphError,
    GraphPermissionError,
    IdempotencyConflictError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)

Kind = Literal["not_found", "token", "permission", "rate_limited", "transient", "refused"]
Action = Literal["retry", "fix", "stop"]


@dataclass(frozen=True)
class CommerceProblem:
    """One of Meta's commerce numbers: what it means in words an agent reads, and what to do about it."""

    code: int
    words: str
    action: Action


def _table(*rows: tuple[tuple[int, ...], Action, str]) -> dict[int, CommerceProblem]:
    return {code: CommerceProblem(code, words, action) for codes, action, words in rows for code in codes}


# Every number of Meta's Error Codes page (and the two the acknowledgement and onboarding pages add), with the
# action Meta's page gives it. Words are plain sentences for agents, with no text from Meta in them.
COMMERCE_PROBLEMS: Mapping[int, CommerceProblem] = _table(
    ((2361009,), "stop", "The order cannot be acknowledged: it is no longer waiting (cancelled, shipped or refunded)."),
    ((2361003,), "stop", "Meta does not know this order id."),
    ((2361081,), "retry", "Another request is updating this order right now; it is tried again shortly."),
    ((2361050,), "retry", "Someone else changed this order at the same moment; it is tried again shortly."),
    ((1818111,), "stop", "The order is cancelled, so it cannot be shipped."),
    ((1818015,), "stop", "The order was already shipped or charged, so it can no longer be cancelled or shipped."),
    ((1818050,), "stop", "Those items already shipped, so they cannot be cancelled: refund them instead."),
    ((1818048, 1818049), "stop", "The order is already cancelled."),
    ((1818214,), "stop", "Every item of the order was already shipped, cancelled or refunded."),
    ((1818215,), "stop", "Some of the chosen items were already shipped, cancelled or refunded: open the order again."),
    ((1818105,), "stop", "The order was cancelled, so there is nothing to refund."),
    ((1818107,), "stop", "The buyer has not been charged yet (nothing shipped), so there is nothing to refund."),
    ((2361076,), "retry", "Meta has not captured the payment yet; the refund can be sent in a few minutes."),
    ((2382021, 2382324), "fix", "An item of the refund is not on this order (unknown retailer id)."),
    ((2361091,), "fix", "The refund's tax is more than the tax still refundable: lower the amounts."),
    ((2382030, 2382325), "fix", "The refund adds up to nothing: give a quantity or an amount above zero."),
    ((2382023,), "fix", "The refund is more than is left to refund on an item: lower the quantity or amount."),
    ((2382022, 2382326), "fix", "The shipping refund is more than the shipping charged: lower it."),
    ((2382319, 2382323), "stop", "That item was already refunded in full."),
    ((2361084,), "fix", "The shipment's origin postal code is missing or invalid."),
    ((2361086,), "fix", "The tax given is more than the tax Meta authorized: lower it."),
    ((2382045,), "fix", "That tracking number is already on this order: each shipment needs its own number."),
    ((2361357, 2382322), "fix", "A shipment needs at least one item: choose what ships."),
    ((2361126,), "stop", "The shop already has another order-management app: an admin must ask Meta to switch it."),
    ((2382052,), "stop", "The shop's commerce account is disabled: an admin must contact Meta."),
    ((2361163,), "stop", "This Instagram account is already onboarded to another shop: an admin must contact Meta."),
)

# Why Meta refuses an acknowledgement, by the state the order turned out to be in (read after the refusal).
REFUSED_IN_STATE = {
    "FB_PROCESSING": "The order is still in Meta's processing hold; it cannot be acknowledged yet.",
    "COMPLETED": "The order is already completed.",
}

# What an admin does about a failure only an admin can fix, by kind.
_ADMIN_FIXES: dict[Kind, str] = {
    "token": (
        "the Page token is invalid or expired: issue a new system-user token (Business Settings → System users → "
        "Generate new token, with the Page assigned) and set FB_PAGE_ACCESS_TOKEN to it"
    ),
    "permission": (
        "the app lacks commerce_account_read_orders/manage_orders or the token's Page role is below EDITOR: add the "
        "permissions in the app's dashboard, give the system user EDITOR (or higher) on the Page, issue a new token"
    ),
    "not_found": (
        "FB_PAGE_ID does not name a Page this token can see: check FB_PAGE_ID, or issue the token for that Page"
    ),
}


def kind_of(error: GraphError) -> Kind:
    """Which kind of failure ``error`` is: who or what can fix it."""
    if isinstance(error, NotFoundError):
        return "not_found"
    if isinstance(error, InvalidTokenError):
        return "token"
    if isinstance(error, GraphPermissionError):
        return "permission"
    if isinstance(error, RateLimitedError):
        return "rate_limited"
    if isinstance(error, TransientError):
        return "transient"
    return "refused"


def commerce_problem(error: GraphError) -> CommerceProblem | None:
    """The table's entry for the commerce number ``error`` carries, if it carries one Meta documents."""
    code = error.commerce_code
    return COMMERCE_PROBLEMS.get(code) if code is not None else None


def action_of(error: GraphError) -> Action:
    """What to do about any failed write: retry it as it is, fix the input (a new request), or stop.

    Meta's commerce numbers decide first; then the kind: time fixes rate limits and outages (retry), a plain
    invalid parameter (code 100 without a known number) is the input's fault (fix), and everything else, a
    reused key included, is for a person to look at (stop).
    """
    if (problem := commerce_problem(error)) is not None:
        return problem.action
    if isinstance(error, IdempotencyConflictError):
        return "stop"
    kind = kind_of(error)
    if kind in ("rate_limited", "transient"):
        return "retry"
    if kind == "refused" and error.code == 100 and error.subcode is None:
        return "fix"
    return "stop"


def needs_admin(error: GraphError) -> bool:
    """Whether only an orderdesk admin can fix ``error`` (the Page token or its permissions)."""
    return kind_of(error) in ("token", "permission")


def meta_words(error: GraphError) -> str:
    """What Meta said, preferring the message it wrote for people (``error_user_msg``) over the technical one."""
    return error.user_message or error.message


def for_agent(error: GraphError, shown: str, *, example: str) -> str:
    """An agent's failed read of ``shown`` (an order id or reference, already escaped) in words they can act on.

    ``example`` shows how to ask again. mrkdwn, escaped.
    """
    kind = kind_of(error)
    if kind == "not_found":
        return f"No order {shown} on this Page. Check the number, or try its merchant reference. Try {example}."
    if kind in ("token", "permission"):
        problem = (
            "its Page access token is no longer valid"
            if kind == "token"
            else "its Page access token lacks a permission or Page role it needs"
        )
        return (
            f"orderdesk cannot read orders from Meta: {problem}. Please ask an orderdesk admin to fix it "
            f"(Graph error {error.code}, trace {escape(error.fbtrace_id or 'none')})."
        )
    if isinstance(error, RateLimitedError):
        wait = error.retry_after_seconds
        return f"Meta is rate limiting us, try again in {f'about {minutes(wait)}' if wait else 'a few minutes'}."
    if kind == "transient":
        return f"Meta did not answer while I looked up {shown}, try again."
    return f"Meta could not look up {shown}: {clip(escape(meta_words(error)), 500)} (Graph error {error.code})."


def for_ledger(error: GraphError, message: str | None = None) -> dict[str, Any]:
    """What the ledger keeps of a failed write: the Graph numbers for support, and words for the card.

    ``message`` replaces Meta's words when the bot knows better (see :func:`refused_words`).
    """
    words = message or meta_words(error)
    return {"type": type(error).__name__, "code": error.code, "subcode": error.subcode, "message": words}


def refused_words(order: Mapping[str, Any]) -> str | None:
    """Why Meta refused to acknowledge ``order``, read back after the refusal; None when its state says nothing."""
    state = (order.get("order_status") or {}).get("state")
    if state == "IN_PROGRESS":
        reference = order.get("merchant_order_id") or "none"
        return f"It was already acknowledged outside orderdesk (reference {reference})."
    return REFUSED_IN_STATE.get(str(state))


def for_admin(error: GraphError, *, graph_url: str, graph_version: str) -> str:
    """How an admin fixes a failed check against Meta (plain text): the setting or the step to take."""
    fallback = (
        f"check FB_GRAPH_URL ({graph_url}) and FB_GRAPH_VERSION ({graph_version}) and this "
        "host's network; a transient failure passes if you run doctor again"
    )
    return _ADMIN_FIXES.get(kind_of(error), fallback)


def minutes(seconds: float) -> str:
    """A wait in whole minutes, rounded up, never less than one: "1 minute", "3 minutes"."""
    count = max(1, math.ceil(seconds / 60))
    return f"{count} minute{'s' if count != 1 else ''}"
