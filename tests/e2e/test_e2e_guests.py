"""Slack Connect guests see and do nothing, over real HTTP: every order surface refuses them in words.

The sandbox's ``U0FOREIGN`` (dana) belongs to workspace ``T0OTHER``; the bot is installed in the sandbox's own.
Slash commands do not say which workspace the user is from, so the bot asks ``users.info``; interactive payloads
carry ``user.team_id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401

from bot.actions.ledger import new_key
from bot.sandbox.slack import Sent
from bot.slack import ids
from bot.slack.access import GUEST_REFUSAL
from bot.slack.views.blocks import ack_value

GUEST = "U0FOREIGN"


def some_order(stack: Stack) -> str:
    return str(stack.graph_sandbox.add_order()["id"])


def surfaces() -> dict[str, Callable[[Stack, str], Sent]]:
    return {
        "lookup": lambda stack, order_id: stack.slack.slash_command(order_id, user=GUEST),
        "history": lambda stack, order_id: stack.slack.slash_command(f"history {order_id}", user=GUEST),
        "ack-pending": lambda stack, order_id: stack.slack.slash_command("ack-pending", user=GUEST),
        "help": lambda stack, order_id: stack.slack.slash_command("help", user=GUEST),
        "show contact": lambda stack, order_id: stack.slack.block_action(ids.SHOW_CONTACT, order_id, user=GUEST),
        "share": lambda stack, order_id: stack.slack.block_action(ids.SHARE_IN_CHANNEL, order_id, user=GUEST),
        "acknowledge": lambda stack, order_id: stack.slack.block_action(
            ids.ACK, ack_value(order_id, new_key()), user=GUEST
        ),
        "ack-pending confirmed": lambda stack, order_id: stack.slack.block_action(
            ids.ACK_PENDING_CONFIRM, "ack-pending:" + new_key(), user=GUEST
        ),
        "shortcut": lambda stack, order_id: stack.slack.message_shortcut(
            {"type": "message", "text": f"where is order {order_id}?", "ts": "1700000000.000100"}, user=GUEST
        ),
    }


@pytest.mark.parametrize("surface", list(surfaces()))
def test_a_slack_connect_guest_is_refused_in_words_on_every_order_surface(stack: Stack, surface: str) -> None:
    order_id = some_order(stack)
    stack.graph_sandbox.clear_calls()
    sent = surfaces()[surface](stack, order_id)
    assert sent.response.status_code == 200
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    text = json.dumps(answers)
    assert "only to members of this workspace" in text
    for leak in ("Buyer", order_id, "<@U0AGENT", "idempotency"):
        assert leak not in text
    assert stack.graph_sandbox.calls() == []  # nothing was read from Meta, let alone written
    assert [row.outcome for row in stack.services.store.audit_for_order(order_id)] == []
    refusals = stack.services.store._select("SELECT user_id, team_id, outcome FROM audit WHERE user_id = ?", (GUEST,))
    assert refusals == [{"user_id": GUEST, "team_id": "T0OTHER", "outcome": "refused"}]


def test_members_still_get_their_answers(stack: Stack) -> None:
    order_id = some_order(stack)
    sent = stack.slack.slash_command(order_id, user="U0AGENT1")
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert order_id in json.dumps(answers)
    assert GUEST_REFUSAL not in json.dumps(answers)


def test_when_slack_cannot_say_who_someone_is_nothing_is_shown(stack: Stack) -> None:
    order_id = some_order(stack)
    stack.slack_sandbox.fail_next("users.info", status=500, error="internal_error")
    sent = stack.slack.slash_command(order_id, user="U0AGENT2")
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert "could not confirm which workspace" in json.dumps(answers)
    assert [c for c in stack.graph_sandbox.calls() if order_id in c["path"]] == []
