"""``/order help`` and the plain one-section answer every feature uses for words without a card."""

from __future__ import annotations

from bot.slack.views.kit import Block, header, section


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
            "*`/order pending`*: the orders awaiting acknowledgement or shipment, most urgent first, with their "
            "deadlines\n"
            "*`/order ref &lt;merchant reference&gt;`*: look a reference up, even one spelled like a command\n"
            "*`/order status`*: the integration's health: polls, queue, errors, Meta's rate limit, workers\n"
            "*`/order export [since:7d] [state:…]`*: a spreadsheet (CSV) of the orders orderdesk has seen, sent to "
            "your direct messages\n"
            "*`/order find &lt;email | phone | name&gt; [since:14d]`*: orders whose buyer matches, to you only; "
            "the first search of a window reads it from Meta (new orders included), later ones use orderdesk's "
            "index\n"
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
