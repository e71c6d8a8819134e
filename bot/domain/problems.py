"""A failed Graph call in words, written once for everyone who tells someone about it.

Three audiences read Graph failures: an agent whose lookup failed (:func:`for_agent`), the card and the ledger of
a failed write (:func:`for_ledger`, :func:`refused_words`), and the admin running ``orderdesk doctor``
(:func:`for_admin`). They need different words, but the same decision underneath: which *kind* of failure it is
(:func:`kind_of`), since that decides who can fix it: nobody (not found), an admin (token, permission), time
(rate limit, Meta down) or nobody again (Meta refused the request itself).

Words for agents are mrkdwn with foreign text escaped (:mod:`bot.domain.text`); words for the admin are plain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from bot.domain.text import clip, escape
from bot.graph.client import (
    GraphError,
    GraphPermissionError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)

Kind = Literal["not_found", "token", "permission", "rate_limited", "transient", "refused"]

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
