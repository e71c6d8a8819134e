"""``/order status``: the integration's health in words, for whoever is on call (to the asker only)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.views.kit import Block, context, escape, fields_section, header


def status_blocks(lines: Sequence[tuple[str, str]]) -> list[Block]:
    """A header and the ``(label, words)`` pairs of :func:`bot.notify.health.status_lines`, ten fields a section."""
    pairs = [(label, escape(words)) for label, words in lines]
    blocks: list[Block] = [header("orderdesk status")]
    for start in range(0, len(pairs), 10):
        blocks.append(fields_section(pairs[start : start + 10]))
    blocks.append(context("The same is printed by `orderdesk status` on the server."))
    return blocks
