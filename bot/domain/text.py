"""Text that people read: escaping foreign text and clipping it to a length, with no knowledge of any surface.

Words meant for agents (problems, refusals) are written in Slack's mrkdwn, where ``<!channel>`` in any text pings
a whole channel. Meta's data and what agents type can hold anything, so every service that puts foreign text into
words escapes it here first, and clips it so that a long value cannot crowd out the sentence around it.
"""

from __future__ import annotations

ELLIPSIS = "…"


def escape(text: object) -> str:
    """Escape text for mrkdwn: ``&`` first (so the entities we add are not escaped again), then ``<`` and ``>``.

    With those three escaped, nothing a buyer or seller typed can become a mention, a channel ping or a link.
    ``None`` (a field Meta left out) becomes the empty string.
    """
    if text is None:
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut already-escaped text to at most ``limit`` characters, ending in "…" when something was cut.

    The cut never leaves half an entity (``&am``) or half of our own markup (``<!date^…``): either would show as
    garbage, or worse, unescape what follows.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + ELLIPSIS
