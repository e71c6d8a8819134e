"""Acknowledgements end to end over real HTTP: signed clicks → the bot → the Graph sandbox and the Slack sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from slack_sdk import WebClient

from bot.actions.ledger import new_key
from bot.graph.client import ORDER_CARD_FIELDS
from bot.sandbox.graph import GraphSandbox
from bot.slack import ids
from bot.slack.views.blocks import ack_value, notification_card, notification_text

CHANNEL = "C0ORDERS"
TEMPLATE = "FB-{order_id}"


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    """Retries off in the Graph client, so a single injected fault reaches the ledger (and the Retry button)."""
    with Stack.start(tmp_path, merchant_ref_template=TEMPLATE, graph_max_retries=0) as started:
        yield started


def created_order(stack: Stack) -> str:
    return str(stack.graph_sandbox.add_order()["id"])


def post_card(stack: Stack, order_id: str) -> tuple[str, str]:
    """Post a notification card with Acknowledge buttons as the bot would, and remember it: (key, message ts)."""
    key = new_key()
    order = stack.services.graph.get_order(order_id, ORDER_CARD_FIELDS)
    url = stack.settings.commerce_manager_url
    client = WebClient(token=stack.settings.slack_bot_token, base_url=stack.settings.slack_api_url)
    posted = client.chat_postMessage(
        channel=CHANNEL,
        blocks=notification_card(order, ack_key=key, commerce_manager_url=url),
        text=notification_text(order),
    )
    ts = str(posted["ts"])
    stack.services.store.remember_card(order_id, channel=CHANNEL, ts=ts, response_url=None, kind="notification")
    return key, ts


def ack_posts(stack: Stack) -> list[dict[str, Any]]:
    return [c for c in stack.graph_sandbox.calls() if c["method"] == "POST" and "acknowledge" in c["path"]]


def card_text(stack: Stack, ts: str) -> str:
    return json.dumps(stack.slack_sandbox.message(CHANNEL, ts)["blocks"])


def buttons(stack: Stack, ts: str) -> dict[str, str]:
    """action id → value of every button on the card."""
    blocks = stack.slack_sandbox.message(CHANNEL, ts)["blocks"]
    return {e["action_id"]: e.get("value", "") for b in blocks for e in b.get("elements", []) if "action_id" in e}


def acknowledged(stack: Stack, ts: str) -> bool:
    return "Acknowledged by" in card_text(stack, ts)


def test_fifty_concurrent_clicks_make_one_acknowledgement_and_all_are_answered(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(latency_ms=300, match={"method": "POST"})  # keep the first click in flight
    with ThreadPoolExecutor(max_workers=50) as pool:
        sent = list(
            pool.map(
                lambda n: stack.slack.block_action(
                    ids.ACK, ack_value(order_id, key), user=f"U0AGENT{n % 3 + 1}", message_ts=ts
                ),
                range(50),
            )
        )
    assert all(s.response.status_code == 200 for s in sent)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    # Every click but the winner's is answered ephemerally; the winner's answer is the updated card.
    answered = stack.slack_sandbox.wait_for(
        lambda: (n := sum(bool(stack.slack_sandbox.responses(s.response_url or "")) for s in sent)) >= 49 and n
    )
    assert answered == 49
    posts = ack_posts(stack)
    assert len(posts) == 1
    assert posts[0]["params"] == {
        "idempotency_key": key,
        "merchant_order_reference": f"FB-{order_id}",
    }
    assert stack.graph_sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"
    assert f"reference FB-{order_id}" in card_text(stack, ts)
    assert ids.ACK not in buttons(stack, ts)


def test_two_cards_of_one_order_clicked_together_make_one_acknowledgement(stack: Stack) -> None:
    order_id = created_order(stack)
    (key_a, ts_a), (key_b, ts_b) = post_card(stack, order_id), post_card(stack, order_id)
    assert key_a != key_b
    stack.graph_sandbox.set_faults(latency_ms=300, match={"method": "POST"})
    with ThreadPoolExecutor(max_workers=2) as pool:
        sent = list(
            pool.map(
                lambda card: stack.slack.block_action(ids.ACK, ack_value(order_id, card[0]), message_ts=card[1]),
                [(key_a, ts_a), (key_b, ts_b)],
            )
        )
    assert [s.response.status_code for s in sent] == [200, 200]
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts_a) and acknowledged(stack, ts_b))
    assert len(ack_posts(stack)) == 1
    # A later click on either card (or a third, fresh one) is answered "already acknowledged", without a call.
    _, ts_c = post_card(stack, order_id)
    late = stack.slack.block_action(ids.ACK, ack_value(order_id, new_key()), message_ts=ts_c)
    answer = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(late.response_url or ""))
    assert "Acknowledged by" in json.dumps(answer)
    assert len(ack_posts(stack)) == 1


def test_a_transient_failure_shows_retry_which_resends_the_identical_request(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(status=503, count=1, match={"method": "POST"})
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    retry = stack.slack_sandbox.wait_for(lambda: buttons(stack, ts).get(ids.ACK_RETRY))
    assert retry == ack_value(order_id, key)  # the same key travels on
    assert "did not go through yet" in card_text(stack, ts)

    stack.slack.block_action(ids.ACK_RETRY, retry, message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    first, second = ack_posts(stack)
    assert (first["status"], second["status"]) == (503, 200)
    assert first["params"] == second["params"]
    assert first["params"]["idempotency_key"] == key


def test_a_permanent_failure_is_said_in_words_and_offers_a_fresh_key(stack: Stack) -> None:
    order_id = str(stack.graph_sandbox.add_order(state="FB_PROCESSING")["id"])
    stack.graph_sandbox.advance(order_id, "CREATED")
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.advance(order_id, "IN_PROGRESS", merchant_order_reference="ELSEWHERE-1")
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: "failed" in card_text(stack, ts))
    assert "already acknowledged outside orderdesk (reference ELSEWHERE-1)" in card_text(stack, ts)
    assert ids.ACK_RETRY not in buttons(stack, ts)


def open_modal(stack: Stack, order_id: str, key: str, ts: str) -> dict[str, Any]:
    stack.slack.block_action(ids.ACK_WITH_REF, ack_value(order_id, key), message_ts=ts)
    view: dict[str, Any] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.views())[-1]
    return view


def submit(stack: Stack, view: dict[str, Any], reference: str) -> dict[str, Any]:
    values = {ids.ACK_REF_BLOCK: {ids.ACK_REF_INPUT: {"type": "plain_text_input", "value": reference}}}
    sent = stack.slack.view_submission(view, values)
    assert sent.response.status_code == 200
    return sent.response.json() if sent.response.content else {}


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("", "Enter your shop's order number."),
        ("   ", "Enter your shop's order number."),
        ("S" * 65, "At most 64 characters."),
        ("SHOP 1", "Use letters, digits"),
        ("-SHOP", "Use letters, digits"),
        ("shop-taken", "Already used for order"),
    ],
)
def test_the_reference_modal_refuses_bad_references_inline(stack: Stack, reference: str, error: str) -> None:
    taken = stack.graph_sandbox.order_ids("IN_PROGRESS", with_reference=True)[0]
    stack.services.store.set_reference(taken, "SHOP-TAKEN")
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    answer = submit(stack, open_modal(stack, order_id, key, ts), reference)
    assert answer["response_action"] == "errors"
    assert answer["errors"][ids.ACK_REF_BLOCK].startswith(error)
    assert ack_posts(stack) == []


def test_the_reference_modal_acknowledges_with_the_typed_reference(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    assert submit(stack, open_modal(stack, order_id, key, ts), " SHOP-1042 ") == {}
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    assert [p["params"] for p in ack_posts(stack)] == [
        {"idempotency_key": key, "merchant_order_reference": "SHOP-1042"}
    ]
    # The same card's plain Acknowledge now means a different request under the same key: refused, not sent.
    again = stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    answer = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(again.response_url or ""))
    assert "different acknowledgement" in json.dumps(answer)
    assert len(ack_posts(stack)) == 1


@pytest.mark.parametrize(
    ("user", "allowed", "words"),
    [
        ("U0AGENT2", ("S0ONCALL",), "not allowed to acknowledge orders; ask <!subteam^S0ONCALL|@oncall>"),
    ],
)
def test_unauthorised_users_are_refused_with_an_audit_row(
    tmp_path: Path, user: str, allowed: tuple[str, ...], words: str
) -> None:
    with Stack.start(tmp_path, ack_allowed=allowed) as stack:
        order_id = created_order(stack)
        key, ts = post_card(stack, order_id)
        sent = stack.slack.block_action(ids.ACK, ack_value(order_id, key), user=user, message_ts=ts)
        answer = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
        assert words in json.dumps(answer)
        assert ack_posts(stack) == []
        [row] = stack.services.store.audit_for_order(order_id)
        assert (row.user_id, row.key, row.outcome) == (user, key, "refused")


def test_a_member_of_an_allowed_user_group_may_acknowledge(tmp_path: Path) -> None:
    with Stack.start(tmp_path, ack_allowed=("S0ONCALL",)) as stack:
        order_id = created_order(stack)
        key, ts = post_card(stack, order_id)
        stack.slack.block_action(ids.ACK, ack_value(order_id, key), user="U0AGENT1", message_ts=ts)
        stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
        assert len(ack_posts(stack)) == 1


def test_history_shows_who_acknowledged_with_which_key(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), user="U0AGENT3", message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    for query in (order_id, f"fb-{order_id}"):
        url = stack.slack.slash_command(f"history {query}").response_url or ""
        answer = json.dumps(stack.slack_sandbox.wait_for(lambda url=url: stack.slack_sandbox.responses(url)))
        assert "<@U0AGENT3>" in answer
        assert key in answer
        assert "*Acknowledged*" in answer


def test_ack_pending_acknowledges_every_created_order_in_batches_of_at_most_100(tmp_path: Path) -> None:
    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0), merchant_ref_template=TEMPLATE) as stack:
        order_ids = [created_order(stack) for _ in range(130)]
        key, ts = post_card(stack, order_ids[0])
        result = run_ack_pending(stack, expect="130 orders are awaiting acknowledgement")
        assert "acknowledged 130 orders*" in result.lower()
        batches = [c for c in ack_posts(stack) if c["path"].endswith("acknowledge_orders")]
        assert sorted(len(json.loads(b["params"]["orders"])) for b in batches) == [30, 100]
        assert stack.graph_sandbox.order_ids("CREATED") == []
        assert stack.graph_sandbox.order(order_ids[7])["merchant_order_id"] == f"FB-{order_ids[7]}"
        # The remembered card is updated, and a click on it is answered "already acknowledged", not sent again.
        stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
        late = stack.slack.block_action(ids.ACK, ack_value(order_ids[0], key), message_ts=ts)
        answer = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(late.response_url or ""))
        assert "Acknowledged by" in json.dumps(answer)
        assert len(ack_posts(stack)) == 2


def run_ack_pending(stack: Stack, *, expect: str = "awaiting acknowledgement", user: str = "U0AGENT1") -> str:
    """``/order ack-pending``, then its confirmed "Acknowledge all": the text of the results that replace the
    question."""
    sent = stack.slack.slash_command("ack-pending", user=user)
    [question] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert expect in json.dumps(question)
    [button] = [e for b in question["blocks"] for e in b.get("elements", []) if e.get("action_id")]
    stack.slack.block_action(
        ids.ACK_PENDING_CONFIRM, button["value"], user=user, ephemeral_response_url=sent.response_url
    )
    url = sent.response_url or ""
    # The question, "Acknowledging…", then the results replacing them.
    results = stack.slack_sandbox.wait_for(
        lambda: (r := stack.slack_sandbox.responses(url)) and len(r) >= 3 and "blocks" in r[-1] and r[-1], timeout=20
    )
    return json.dumps(results)


def answers(stack: Stack, sent: Any, count: int = 1) -> str:
    """The text of the first ``count`` answers to a click, once they have all arrived."""
    url = sent.response_url or ""
    stack.slack_sandbox.wait_for(lambda: len(stack.slack_sandbox.responses(url)) >= count)
    return json.dumps(stack.slack_sandbox.responses(url))


@pytest.mark.parametrize("fault", [{"invalid_token": True}, {"revoke_permission": True}])
def test_an_order_refused_for_good_while_clicks_pile_up_can_be_acknowledged_once_fixed(
    stack: Stack, fault: dict[str, Any]
) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.services.store.upsert_order(stack.graph_sandbox.order(order_id))  # as the poller would have
    stack.graph_sandbox.set_faults(latency_ms=200, match={"method": "POST"})
    stack.graph_sandbox.set_faults(**fault)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda _: stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts),
                range(8),
            )
        )
    stack.slack_sandbox.wait_for(lambda: "failed" in card_text(stack, ts))
    # Clicks that arrive after the failure, on the same stale key, must not lock the order again.
    late = stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    assert "failed" in answers(stack, late)
    assert stack.services.store.lock_holder(order_id) is None

    stack.graph_sandbox.set_faults(clear=True)  # the token is fixed
    fresh = stack.slack_sandbox.wait_for(lambda: buttons(stack, ts).get(ids.ACK))
    assert fresh != ack_value(order_id, key)  # the card now carries a new key
    stack.slack.block_action(ids.ACK, fresh, message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    assert stack.graph_sandbox.order(order_id)["order_status"]["state"] == "IN_PROGRESS"


def test_a_forged_click_with_another_cards_key_leaves_the_order_free(stack: Stack) -> None:
    order_x, order_y = created_order(stack), created_order(stack)
    key_x, ts_x = post_card(stack, order_x)
    key_y, ts_y = post_card(stack, order_y)
    stack.slack.block_action(ids.ACK, ack_value(order_y, key_y), message_ts=ts_y)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts_y))

    forged = stack.slack.block_action(ids.ACK, ack_value(order_x, key_y), message_ts=ts_x)
    assert "different acknowledgement" in answers(stack, forged)
    assert stack.services.store.lock_holder(order_x) is None
    genuine = stack.slack.block_action(ids.ACK, ack_value(order_x, key_x), message_ts=ts_x)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts_x))
    assert stack.graph_sandbox.order(order_x)["order_status"]["state"] == "IN_PROGRESS"
    assert [p["params"]["idempotency_key"] for p in ack_posts(stack)] == [key_y, key_x]
    assert stack.slack_sandbox.responses(genuine.response_url or "") == []  # its answer is the updated card


def test_one_reference_submitted_for_two_orders_at_once_reaches_meta_once(stack: Stack) -> None:
    (order_a, order_b) = (created_order(stack), created_order(stack))
    key_a, ts_a = post_card(stack, order_a)
    key_b, ts_b = post_card(stack, order_b)
    view_a = open_modal(stack, order_a, key_a, ts_a)
    stack.slack.block_action(ids.ACK_WITH_REF, ack_value(order_b, key_b), message_ts=ts_b)
    view_b = stack.slack_sandbox.wait_for(
        lambda: len(stack.slack_sandbox.views()) == 2 and stack.slack_sandbox.views()[-1]
    )
    stack.graph_sandbox.set_faults(latency_ms=500, match={"method": "POST"})  # the first is in flight
    assert submit(stack, view_a, "SHOP-77") == {}
    stack.slack_sandbox.wait_for(lambda: stack.services.store.lock_holder(order_a) == key_a)
    assert submit(stack, view_b, "shop-77") == {}
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts_a))
    answer_url = json.loads(view_b["private_metadata"])["response_url"]
    told = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(answer_url)))
    assert f"is being used for order {order_a}" in told
    assert [p["params"]["merchant_order_reference"] for p in ack_posts(stack)] == ["SHOP-77"]
    assert stack.graph_sandbox.order(order_b)["order_status"]["state"] == "CREATED"


def test_a_transient_failure_is_retried_by_the_sweeper_and_fresh_cards_offer_a_retry_that_works(
    stack: Stack,
) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(status=503, count=1, match={"method": "POST"})
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: buttons(stack, ts).get(ids.ACK_RETRY))

    # A fresh card of the same order offers Retry with the claim's own key, not a dead text.
    lookup = stack.slack.slash_command(order_id)
    [card] = json.loads(answers(stack, lookup))
    elements = [e for b in card["blocks"] for e in b.get("elements", []) if "action_id" in e]
    card_buttons = {e["action_id"]: e.get("value") for e in elements}
    assert card_buttons[ids.ACK_RETRY] == ack_value(order_id, key)
    assert ids.ACK not in card_buttons

    # The sweeper sends the same request again once its delay has passed.
    stack.services.store._db().execute("UPDATE ledger SET next_attempt_at = 0")
    assert stack.services.acks.sweep() == 1
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    first, second = ack_posts(stack)
    assert (first["status"], second["status"]) == (503, 200)
    assert first["params"] == second["params"]


def test_a_claim_meta_never_answers_is_given_up_its_cards_say_so_and_retry_works(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(status=503, count=100, match={"method": "POST"})
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: buttons(stack, ts).get(ids.ACK_RETRY))
    for _ in range(stack.services.acks.retry_policy.attempts - 1):
        stack.services.store._db().execute("UPDATE ledger SET next_attempt_at = 0 WHERE gave_up = 0")
        assert stack.services.acks.sweep() == 1
    stack.slack_sandbox.wait_for(lambda: "needs a person" in card_text(stack, ts))
    assert stack.services.store.lock_holder(order_id) is None
    stack.services.store._db().execute("UPDATE ledger SET next_attempt_at = 0")
    assert stack.services.acks.sweep() == 0  # given up: no more automatic tries

    stack.graph_sandbox.set_faults(clear=True)
    retry = buttons(stack, ts)[ids.ACK_RETRY]
    assert retry == ack_value(order_id, key)
    stack.slack.block_action(ids.ACK_RETRY, retry, message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: acknowledged(stack, ts))
    assert {p["params"]["idempotency_key"] for p in ack_posts(stack)} == {key}


def test_ack_pending_through_a_long_5xx_burst_is_finished_by_the_sweeper(tmp_path: Path) -> None:
    with Stack.start(
        tmp_path, graph_sandbox=GraphSandbox(orders=0), merchant_ref_template=TEMPLATE, graph_max_retries=0
    ) as stack:
        order_ids = [created_order(stack) for _ in range(3)]
        stack.graph_sandbox.set_faults(status=503, count=100, match={"method": "POST"})
        first = run_ack_pending(stack)
        assert "orderdesk sends it again by itself" in first
        again = run_ack_pending(stack)
        assert "sending it again" in again
        assert "already acknowledged or being acknowledged" not in again

        stack.graph_sandbox.set_faults(clear=True)
        stack.services.store._db().execute("UPDATE ledger SET next_attempt_at = 0")
        assert stack.services.acks.sweep() == 1
        assert stack.graph_sandbox.order_ids("CREATED") == []
        assert all(stack.services.store.lock_holder(o) is not None for o in order_ids)


def test_a_second_clicker_gets_the_final_outcome_not_a_spinner_for_good(stack: Stack) -> None:
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    stack.graph_sandbox.set_faults(latency_ms=600, match={"method": "POST"})
    stack.slack.block_action(ids.ACK, ack_value(order_id, key), user="U0AGENT1", message_ts=ts)
    stack.slack_sandbox.wait_for(lambda: stack.services.store.lock_holder(order_id) == key)
    second = stack.slack.block_action(ids.ACK, ack_value(order_id, new_key()), user="U0AGENT2", message_ts=ts)
    both = answers(stack, second, count=2)
    first_answer, final = (json.dumps(r) for r in stack.slack_sandbox.responses(second.response_url or "")[:2])
    assert "is acknowledging" in first_answer
    assert "Acknowledged by <@U0AGENT1>" in final
    assert both


@pytest.mark.parametrize("argument", ["6138777050891812", "all now", "--force"])
def test_ack_pending_with_arguments_gets_its_usage_and_acknowledges_nothing(stack: Stack, argument: str) -> None:
    created_order(stack)
    sent = stack.slack.slash_command(f"ack-pending {argument}")
    answer = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or "")))
    assert "takes no arguments" in answer
    assert ids.ACK_PENDING_CONFIRM not in answer
    assert ack_posts(stack) == []


def test_ack_pending_asks_before_acknowledging_anything(stack: Stack) -> None:
    created_order(stack)
    sent = stack.slack.slash_command("ack-pending")
    [question] = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    [button] = [e for b in question["blocks"] for e in b.get("elements", []) if e.get("action_id")]
    assert (button["action_id"], "confirm" in button) == (ids.ACK_PENDING_CONFIRM, True)
    assert ack_posts(stack) == []


@pytest.mark.parametrize("value", ["all", "ack-pending:", "ack-pending:XYZ", ""])
def test_an_acknowledge_all_click_with_a_value_orderdesk_did_not_draw_acknowledges_nothing(
    stack: Stack, value: str
) -> None:
    created_order(stack)
    sent = stack.slack.block_action(ids.ACK_PENDING_CONFIRM, value)
    answer = json.dumps(stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or "")))
    assert "could not read that button" in answer
    assert ack_posts(stack) == []
