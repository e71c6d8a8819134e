"""``orderdesk demo --scripted``: a fixed walk-through played against the demo stack, with a transcript.

Each step plays Slack towards the bot through signed requests and checks the outcome in the sandboxes' records
(what Slack would show, what Meta received). The run passes only if every step behaved: a step whose feature is
missing fails, it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from bot.cli.demo_stack import (
    ALICE,
    ANSWER_TIMEOUT,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    CHANNEL,
    JSON,
    MERCHANT_REF_TEMPLATE,
    Demo,
    examples,
)
from bot.slack import ids
from bot.slack.views.blocks import parse_ack_value


class StepFailed(Exception):
    """A scenario step did not behave as expected; the message says what happened instead."""


class Scenario:
    """The fixed walk-through of ``--scripted``: each step plays Slack towards the bot and checks the outcome in
    the sandboxes' records (what Slack would show, what Meta received), never in the bot's internals."""

    def __init__(self, demo: Demo, out: TextIO, *, timeout: float = ANSWER_TIMEOUT) -> None:
        self.demo = demo
        self.slack = demo.slack
        self.graph = demo.graph
        self.out = out
        self.timeout = timeout
        self.cards: dict[str, JSON] = {}  # what earlier steps produced for later ones
        created = self.graph.order_ids("CREATED")
        self.awaiting, self.for_carol, self.for_modal = created[0], created[1], created[2]
        _, self.reference_id, self.reference = examples(self.graph)
        self.completed = self.graph.order_ids("COMPLETED")[0]

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("Look up an order by its Facebook order ID", self.lookup_by_id),
            ("Look up an order by the shop's merchant reference", self.lookup_by_reference),
            ("Look up order from a message (message shortcut)", self.message_shortcut),
            ("Double-click Acknowledge: Meta receives one acknowledgement", self.double_click),
            ("An agent who may not acknowledge is refused", self.refused),
            ("Acknowledge with reference: the modal rejects a blank reference", self.reference_modal),
            ("A new order is announced in #orders", self.notification),
            ("Acknowledging from the notification updates it", self.notification_update),
            ("/order pending: the waiting orders, most urgent first, with their deadlines", self.pending),
            ("A reminder in a card's thread, snoozed with its button", self.reminder_snoozed),
            ("App Home shows the queue", self.app_home),
            ("Mark shipped from the card: one shipment at Meta, the card and its thread say so", self.ship),
            ("Cancel part of the order: the review shows what the buyer reads, Meta cancels those units", self.cancel),
            ("A refund over the approval threshold waits for a second person", self.refund_asks_approval),
            ("Bob cannot approve his own refund; alice approves it: Meta receives one refund", self.refund_approved),
        ]

    def run(self) -> bool:
        steps = self.steps()
        failed: list[str] = []
        self._say(
            f"orderdesk demo --scripted: {len(steps)} steps against the sandboxes (console at {self.demo.console_url})"
        )
        for number, (title, step) in enumerate(steps, 1):
            self._say(f"\n{number}. {title}")
            try:
                self._say(f"   ✓ {step()}")
            except StepFailed as exc:
                failed.append(f"{number}. {title}")
                self._say(f"   ✗ FAILED: {exc}")
            except Exception as exc:  # a crash in one step must not hide the others' results
                failed.append(f"{number}. {title}")
                self._say(f"   ✗ FAILED with {type(exc).__name__}: {exc}")
        self._say(f"\n{len(steps) - len(failed)} of {len(steps)} steps passed.")
        for title in failed:
            self._say(f"   failed: {title}")
        return not failed

    # The steps.

    def lookup_by_id(self) -> str:
        mark = self._graph_seq()
        self.cards["awaiting"] = card = self._lookup(ALICE, self.awaiting, self.awaiting)
        requests = len(self.graph.calls(since=mark))
        return f"a card for order {self.awaiting} ({_state_of(card)}), from {requests} Graph request(s)"

    def lookup_by_reference(self) -> str:
        card = self._lookup(BOB, self.reference, self.reference_id)
        return f"{self.reference} is order {self.reference_id} ({_state_of(card)})"

    def message_shortcut(self) -> str:
        text = f"Buyer says: my order {self.completed} never arrived, can someone check?"
        message = self.slack.post_as_user(CHANNEL, text, BOB)
        self._say(f"   bob posts: {text}")
        self._say("   bob: ⋮ → Look up order")
        seen = self._ephemeral_ts(BOB)
        self._check_ack(self.demo.requester.message_shortcut(message, channel=CHANNEL, user=BOB))
        card = self._card_answer(BOB, seen, self.completed)
        return f"found order {self.completed} in the message ({_state_of(card)})"

    def double_click(self) -> str:
        card = self._needs("awaiting", "the card from step 1")
        value, block_id = self._button(card, ids.ACK)
        mark, answers_before = self._graph_seq(), self._answer_count(ALICE)
        self._say("   alice double-clicks Acknowledge (two signed block_actions, same button value)")
        with ThreadPoolExecutor(max_workers=2) as pool:
            clicks = list(pool.map(lambda _: self._click(ALICE, ids.ACK, value, card["message_ts"], block_id), [1, 2]))
        updated = self._wait(
            lambda: _acknowledged(self._ephemeral(ALICE, card["message_ts"])), "the card to show the acknowledgement"
        )
        self._wait(lambda: self._answer_count(ALICE, clicks) - answers_before >= 2, "an answer to each click")
        self._say(f"   orderdesk updates the card: {_summary(updated)}")
        acks = self._acks(self.awaiting, mark)
        order = self.graph.order(self.awaiting)
        expected = MERCHANT_REF_TEMPLATE.format(order_id=self.awaiting)
        if len(acks) != 1:
            raise StepFailed(f"Meta received {len(acks)} acknowledgements of order {self.awaiting}, not 1")
        if order["order_status"]["state"] != "IN_PROGRESS" or order.get("merchant_order_id") != expected:
            raise StepFailed(
                f"order {self.awaiting} is {order['order_status']['state']} with "
                f"reference {order.get('merchant_order_id')}, not IN_PROGRESS with {expected}"
            )
        return f"2 clicks, 1 acknowledge_order at Meta; order {self.awaiting} is IN_PROGRESS with reference {expected}"

    def refused(self) -> str:
        card = self._lookup(CAROL, self.for_carol, self.for_carol)
        value, block_id = self._button(card, ids.ACK)
        mark = self._graph_seq()
        self._say("   carol clicks Acknowledge")
        self._click(CAROL, ids.ACK, value, card["message_ts"], block_id)
        answer = self._wait(
            lambda: next((e for e in self._ephemerals(CAROL) if "not allowed" in _all_text(e)), None),
            "an answer saying carol is not allowed to acknowledge",
        )
        self._say(f"   orderdesk → carol: {_summary(answer)}")
        if self._acks(self.for_carol, mark):
            raise StepFailed(f"Meta received an acknowledgement of order {self.for_carol} from carol's click")
        return "refused, and nothing was sent to Meta"

    def reference_modal(self) -> str:
        card = self._lookup(ALICE, self.for_modal, self.for_modal)
        value, block_id = self._button(card, ids.ACK_WITH_REF)
        known = {v["id"] for v in self.slack.views(user=ALICE)}
        mark = self._graph_seq()
        self._say("   alice clicks Acknowledge with reference…")
        self._click(ALICE, ids.ACK_WITH_REF, value, card["message_ts"], block_id)
        view = self._wait(
            lambda: next((v for v in self.slack.views(user=ALICE) if v["id"] not in known and v["open"]), None),
            "a modal to open",
        )
        field = next((b for b in view.get("blocks", []) if b.get("type") == "input"), None)
        if field is None:
            raise StepFailed("the modal has no input for the reference")
        self._say("   alice submits it with a blank reference")
        blank = {field["block_id"]: {field["element"]["action_id"]: {"type": "plain_text_input", "value": "   "}}}
        self._check_ack(self.demo.requester.view_submission(view, blank, user=ALICE))
        shown = self.slack.view(view["id"])
        error = (shown.get("errors") or {}).get(field["block_id"])
        if not shown["open"] or not error:
            raise StepFailed("the modal did not show an inline error for the blank reference")
        self._say(f"   the modal shows under the input: {error}")
        if self._acks(self.for_modal, mark):
            raise StepFailed(f"Meta received an acknowledgement of order {self.for_modal} with a blank reference")
        return "inline error shown, the modal stays open, nothing was sent to Meta"

    def notification(self) -> str:
        order = self.graph.add_order(items=2)
        self._say(f"   Meta: new order {order['id']} (CREATED)")
        poll = self.demo.settings.poll_seconds
        message = self._wait(
            lambda: next((m for m in self.slack.messages(CHANNEL) if _card_of(m, order["id"])), None),
            f"a card for order {order['id']} in #orders",
            timeout=3 * poll + self.timeout,
        )
        self.cards["notification"] = message
        self._say(f"   orderdesk in #orders: {_summary(message)}")
        return f"announced with its Acknowledge buttons (poll every {poll}s)"

    def notification_update(self) -> str:
        message = self._needs("notification", "the notification from step 7")
        order_id = _card_of(message, None) or ""
        value, block_id = self._button(message, ids.ACK)
        mark = self._graph_seq()
        self._say("   bob clicks Acknowledge on the card in #orders")
        self._click(BOB, ids.ACK, value, message["ts"], block_id)
        updated = self._wait(
            lambda: _acknowledged(self.slack.message(CHANNEL, message["ts"])), "the card in #orders to be updated"
        )
        self._say(f"   orderdesk updates it in place: {_summary(updated)}")
        for reply in self.slack.messages(CHANNEL, thread_ts=message["ts"])[1:]:
            self._say(f"   in the thread: {_summary(reply)}")
        acks = self._acks(order_id, mark)
        if len(acks) != 1:
            raise StepFailed(f"Meta received {len(acks)} acknowledgements of order {order_id}, not 1")
        return "the channel's card shows who acknowledged it, its Acknowledge buttons are gone"

    def ship(self) -> str:
        message = self._needs("notification", "the notification from step 7")
        order_id = _card_of(message, None) or ""
        view = self._open_action(BOB, message["ts"], ids.ORDER_SHIP)
        quantities = [b for b in view.get("blocks", []) if str(b.get("block_id", "")).startswith("qty_")]
        if not quantities:
            raise StepFailed("the Mark shipped form lists no units to ship")
        values: JSON = {
            "carrier": {ids.CARRIER_SELECT: _selected("UPS", "external_select")},
            "tracking_number": {"tracking_number": _typed("1ZDEMO0000000001")},
        }
        for number, block in enumerate(quantities):
            units = block["element"]["initial_value"] if number == 0 else "0"
            values[block["block_id"]] = {block["block_id"]: _typed(units, "number_input")}
        self._say("   bob ships the first item with UPS 1ZDEMO0000000001 (the form offers every unshipped unit)")
        mark = self._graph_seq()
        self._review_and_send(BOB, view, values)
        posts = self._posts(order_id, "shipments", mark)
        if len(posts) != 1:
            raise StepFailed(f"Meta received {len(posts)} shipments of order {order_id}, not 1")
        self._thread_line(message["ts"], "Shipped")
        return f"1 shipment at Meta for order {order_id}; the card and its thread show it"

    def cancel(self) -> str:
        message = self._needs("notification", "the notification from step 7")
        order_id = _card_of(message, None) or ""
        view = self._open_action(BOB, message["ts"], ids.ORDER_CANCEL)
        quantities = [b for b in view.get("blocks", []) if str(b.get("block_id", "")).startswith("qty_")]
        if not quantities:
            raise StepFailed("the Cancel form lists no units to cancel")
        values: JSON = {
            "reason": {"reason": _selected("OUT_OF_STOCK", "static_select")},
            "note": {"note": _typed("Sorry, this one sold out; the rest is on its way.")},
            "restock": {"restock": {"type": "checkboxes", "selected_options": []}},
        }
        for number, block in enumerate(quantities):
            values[block["block_id"]] = {block["block_id"]: _typed("1" if number == 0 else "0", "number_input")}
        self._say("   bob cancels one unit that has not shipped, out of stock, with a note to the buyer")
        mark = self._graph_seq()
        self._review_and_send(BOB, view, values)
        posts = self._posts(order_id, "cancellations", mark)
        if len(posts) != 1:
            raise StepFailed(f"Meta received {len(posts)} cancellations of order {order_id}, not 1")
        self._thread_line(message["ts"], "Cancelled")
        return f"1 cancellation at Meta for order {order_id}, of 1 unit"

    def refund_asks_approval(self) -> str:
        message = self._needs("notification", "the notification from step 7")
        order_id = _card_of(message, None) or ""
        view = self._open_action(BOB, message["ts"], ids.ORDER_REFUND)
        units = next((b for b in view.get("blocks", []) if str(b.get("block_id", "")).startswith("qty_")), None)
        if units is None:
            raise StepFailed("the Refund form lists no shipped units to refund")
        most = str(units["element"].get("max_value", "1"))
        values: JSON = {
            "reason": {"reason": _selected("DAMAGED_GOODS", "static_select")},
            "note": {"note": _typed("So sorry it arrived broken: here is your money back.")},
            units["block_id"]: {units["block_id"]: _typed(most, "number_input")},
        }
        self._say(f"   bob refunds {most} shipped unit(s), arrived damaged, with a note to the buyer")
        mark = self._graph_seq()
        self._check_ack(self.demo.requester.view_submission(view, values, user=BOB))
        review = self.slack.view(view["id"])
        if review.get("errors"):
            raise StepFailed(f"the form was refused: {review.get('errors')}")
        self._say(f"   the review: {_summary({'blocks': review.get('blocks', [])})}")
        self._check_ack(self.demo.requester.view_submission(review, {}, user=BOB))
        self._wait(
            lambda: "It now waits in" in json.dumps(self.slack.view(view["id"])["blocks"]), "the modal to say so"
        )
        request = self._wait(
            lambda: next(
                (m for m in self.slack.messages(APPROVAL_CHANNEL) if ids.APPROVAL_APPROVE in json.dumps(m["blocks"])),
                None,
            ),
            "the approval request in #support",
        )
        if self._posts(order_id, "refunds", mark):
            raise StepFailed("Meta received a refund before anyone approved it")
        self.cards["approval"] = request
        self.cards["refund_order"] = {"id": order_id, "ts": message["ts"]}
        return f"nothing sent to Meta yet; the request waits in #support: {_summary(request)}"

    def refund_approved(self) -> str:
        request = self._needs("approval", "the approval request from the step before")
        order = self._needs("refund_order", "the refunded order from the step before")
        value, block_id = self._button(request, ids.APPROVAL_APPROVE)
        mark = self._graph_seq()
        self._say("   bob clicks Approve on his own request")
        self._check_ack(
            self.demo.requester.block_action(
                ids.APPROVAL_APPROVE, value, user=BOB, channel=APPROVAL_CHANNEL, message_ts=request["ts"]
            )
        )
        self._wait(
            lambda: any(
                "someone else must approve" in json.dumps(e)
                for e in self.slack.ephemerals(user=BOB, channel=APPROVAL_CHANNEL)
            ),
            "bob to be told someone else must approve",
        )
        self._say("   alice (on call, allowed to refund) clicks Approve")
        self._check_ack(
            self.demo.requester.block_action(
                ids.APPROVAL_APPROVE,
                value,
                user=ALICE,
                channel=APPROVAL_CHANNEL,
                message_ts=request["ts"],
                block_id=block_id,
            )
        )
        self._wait(
            lambda: "went through at Meta" in json.dumps(self.slack.message(APPROVAL_CHANNEL, request["ts"])["blocks"]),
            "the request to say the refund went through",
        )
        posts = self._posts(str(order["id"]), "refunds", mark)
        if len(posts) != 1:
            raise StepFailed(f"Meta received {len(posts)} refunds of order {order['id']}, not 1")
        self._thread_line(str(order["ts"]), "approved by")
        return f"1 refund at Meta for order {order['id']}, approved by alice; the card's thread names both"

    def _open_action(self, user: str, message_ts: str, action_id: str) -> JSON:
        """Click a card action's button on the channel card and wait for its form to fill the modal."""
        current = self.slack.message(CHANNEL, message_ts)
        value, block_id = self._button(current, action_id)
        known = {v["id"] for v in self.slack.views(user=user)}
        self._say(f"   {_name(user)} clicks {_button_label(current, action_id)} on the card in #orders")
        self._click(user, action_id, value, message_ts, block_id)
        view: JSON = self._wait(
            lambda: next(
                (v for v in self.slack.views(user=user) if v["id"] not in known and v["open"] and v.get("submit")),
                None,
            ),
            "the form to open with the order read from Meta",
        )
        return view

    def _review_and_send(self, user: str, view: JSON, values: JSON) -> None:
        """Submit the form, show the review, submit that, and wait for the outcome on the modal."""
        self._check_ack(self.demo.requester.view_submission(view, values, user=user))
        review = self.slack.view(view["id"])
        if not review.get("open") or review.get("errors"):
            raise StepFailed(f"the form was refused: {review.get('errors')}")
        self._say(f"   the review: {_summary({'blocks': review.get('blocks', [])})}")
        self._check_ack(self.demo.requester.view_submission(review, {}, user=user))
        done = self._wait(
            lambda: (
                (shown := self.slack.view(view["id"])) and ":white_check_mark:" in json.dumps(shown["blocks"]) and shown
            ),
            "the modal to show the outcome",
        )
        self._say(f"   the modal: {_summary({'blocks': done.get('blocks', [])})}")

    def _thread_line(self, message_ts: str, words: str) -> None:
        line = self._wait(
            lambda: next(
                (m for m in self.slack.messages(CHANNEL, thread_ts=message_ts)[1:] if words in m["text"]), None
            ),
            f"a line saying {words} in the card's thread",
        )
        self._say(f"   in the thread: {_summary(line)}")

    def _posts(self, order_id: str, edge: str, since: int) -> list[JSON]:
        return [
            c
            for c in self.graph.calls(since=since)
            if c["method"] == "POST" and c["path"].endswith(f"/{order_id}/{edge}") and c["status"] == 200
        ]

    def pending(self) -> str:
        self._say(f"   {_name(ALICE)}: /order pending")
        sent = self.demo.requester.slash_command("pending", user=ALICE, channel=CHANNEL)
        self._check_ack(sent)
        url = sent.response_url or ""
        (answer, *_) = self._wait(lambda: self.slack.responses(url), "the pending queue")
        text = _all_text(answer)
        if "Orders waiting for you" not in text:
            raise StepFailed(f"no queue in the answer: {text[:200]}")
        clock = re.search(r"ack (?:due in|overdue) \d+ (?:min|h|days?)", text)
        self._say(f"   orderdesk (to alice only): {_plain(text)[:160]}…")
        return f"the queue, with each order's deadline ({clock[0] if clock else 'no clock found'})"

    def reminder_snoozed(self) -> str:
        remind = self.demo.settings.remind_after_seconds

        def reminder() -> tuple[JSON, JSON] | None:
            for message in self.slack.messages(CHANNEL):
                for reply in self.slack.messages(CHANNEL, thread_ts=message["ts"])[1:]:
                    if (reply.get("metadata") or {}).get("event_type") == "orderdesk_reminder":
                        return message, reply
            return None

        message, reply = self._wait(reminder, "a reminder in a card's thread", timeout=3 * remind + self.timeout)
        self._say(f"   orderdesk in the thread, {remind}s after the announcement: {_summary(reply)}")
        value, block_id = self._button(reply, ids.SNOOZE_15M)
        self._say("   alice clicks Snooze 15m")
        self._click(ALICE, ids.SNOOZE_15M, value, reply["ts"], block_id)
        note = self._wait(
            lambda: next(
                (r for r in self.slack.messages(CHANNEL, thread_ts=message["ts"]) if "snoozed" in r.get("text", "")),
                None,
            ),
            "the snooze note in the thread",
        )
        self._say(f"   in the thread: {_summary(note)}")
        return "reminded once per stage; the thread says who snoozed until when"

    def app_home(self) -> str:
        self._say("   alice opens orderdesk's Home tab")
        event = {"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"}
        self._check_ack(self.demo.requester.event(event))

        def home() -> JSON | None:
            return next((v for v in reversed(self.slack.views(user=ALICE)) if v.get("type") == "home"), None)

        view = self._wait(home, "alice's Home to be published")
        text = _all_text(view)
        if "Awaiting acknowledgement" not in text:
            raise StepFailed(f"Home shows no queue: {text[:200]}")
        return "counts by state and deadline, the most urgent orders with their buttons, her recent actions"

    # Playing Slack.

    def _lookup(self, user: str, query: str, order_id: str) -> JSON:
        self._say(f"   {_name(user)}: /order {query}")
        seen = self._ephemeral_ts(user)
        self._check_ack(self.demo.requester.slash_command(query, user=user, channel=CHANNEL))
        return self._card_answer(user, seen, order_id)

    def _card_answer(self, user: str, seen: set[str], order_id: str) -> JSON:
        """The card for ``order_id`` among ``user``'s new ephemeral messages; fails quoting what did arrive."""
        try:
            card: JSON = self._wait(
                lambda: next(
                    (e for e in self._ephemerals(user) if e["message_ts"] not in seen and _card_of(e, order_id)), None
                ),
                f"a card for order {order_id}",
            )
        except StepFailed:
            answers = [_summary(e) for e in self._ephemerals(user) if e["message_ts"] not in seen]
            said = "; ".join(answers) if answers else "nothing"
            raise StepFailed(f"no card for order {order_id}; orderdesk answered: {said}") from None
        self._say(f"   orderdesk → {_name(user)} (only visible to you): {_summary(card)}")
        return card

    def _click(self, user: str, action_id: str, value: str, message_ts: str, block_id: str | None) -> str | None:
        sent = self.demo.requester.block_action(
            action_id, value, user=user, channel=CHANNEL, message_ts=message_ts, block_id=block_id
        )
        self._check_ack(sent)
        return sent.response_url

    def _check_ack(self, sent: Any) -> None:
        if sent.response.status_code != 200:
            raise StepFailed(f"orderdesk answered HTTP {sent.response.status_code} instead of acknowledging")

    def _button(self, message: JSON, action_id: str) -> tuple[str, str | None]:
        for block in message.get("blocks", []):
            for element in block.get("elements", []):
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return str(element.get("value", "")), block.get("block_id")
        raise StepFailed(f"the card has no {action_id} button: {_summary(message)}")

    def _needs(self, name: str, what: str) -> JSON:
        card = self.cards.get(name)
        if card is None:
            raise StepFailed(f"needs {what}, which did not come")
        return card

    # Reading the sandboxes.

    def _ephemerals(self, user: str) -> list[JSON]:
        return self.slack.ephemerals(user=user, channel=CHANNEL)

    def _ephemeral_ts(self, user: str) -> set[str]:
        return {e["message_ts"] for e in self._ephemerals(user)}

    def _ephemeral(self, user: str, message_ts: str) -> JSON | None:
        return next((e for e in self._ephemerals(user) if e["message_ts"] == message_ts), None)

    def _answer_count(self, user: str, response_urls: Sequence[str | None] = ()) -> int:
        """Answers ``user`` got: posts to these response URLs plus ephemeral messages posted to them."""
        posted = sum(len(self.slack.responses(url)) for url in response_urls if url)
        direct = [c for c in self.slack.calls("chat.postEphemeral") if c["args"].get("user") == user]
        return posted + len(direct)

    def _graph_seq(self) -> int:
        calls = self.graph.calls()
        return int(calls[-1]["seq"]) if calls else 0

    def _acks(self, order_id: str, since: int) -> list[JSON]:
        """acknowledge_order calls for the order, and acknowledge_orders batches naming it, after ``since``."""
        return [
            c
            for c in self.graph.calls(since=since)
            if c["method"] == "POST"
            and (
                c["path"].endswith(f"/{order_id}/acknowledge_order")
                or (c["path"].endswith("/acknowledge_orders") and order_id in str(c["params"]))
            )
        ]

    def _wait(self, predicate: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
        try:
            return self.slack.wait_for(predicate, timeout=self.timeout if timeout is None else timeout)
        except AssertionError:
            raise StepFailed(f"waited {self.timeout if timeout is None else timeout:g}s for {what}") from None

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def _texts(value: Any) -> Iterator[str]:
    """Every ``text`` string in a message or its blocks, in reading order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            elif key not in ("value", "url", "action_id", "block_id", "metadata"):
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _all_text(message: JSON | None) -> str:
    return " ".join(_plain(t) for t in _texts(message or {}))


def _plain(mrkdwn: str) -> str:
    """mrkdwn as a person reads it: dates as their fallback, mentions as @name, links as their label."""
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", mrkdwn)
    text = re.sub(r"<@(\w+)>", lambda m: "@" + _name(m[1]), text)
    text = re.sub(r"<!subteam\^(\w+)(?:\|([^>]*))?>", lambda m: m[2] or "@" + m[1], text)
    text = re.sub(r"<[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"[*`]|(?<!\w)[_~]|[_~](?!\w)", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _summary(message: JSON | None) -> str:
    """One line: the header or first text, context lines, and the buttons as [labels]."""
    if not message:
        return "(nothing)"
    blocks = message.get("blocks") or []
    parts: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "context") or (kind == "section" and not parts):
            parts.append(_all_text({"blocks": [block]}))
        elif kind == "actions":
            parts.append(" ".join(f"[{_all_text(e.get('text'))}]" for e in block.get("elements", [])))
    line = " · ".join(p for p in parts if p) or _plain(str(message.get("text", "")))
    line = " ".join(line.replace("\n", " · ").split())
    return line if len(line) <= 240 else line[:239] + "…"


def _state_of(card: JSON) -> str:
    match = re.search(r"\*State\*\n([A-Z_]+)", json.dumps(card.get("blocks", [])).replace("\\n", "\n"))
    return match[1] if match else "state not shown"


def _card_of(message: JSON | None, order_id: str | None) -> str | None:
    """The order a message is a card for (its header or its Acknowledge button), if it is ``order_id``'s."""
    if not message:
        return None
    for block in message.get("blocks") or []:
        if block.get("type") == "header":
            found = re.fullmatch(r"Order (\d+)", str(block.get("text", {}).get("text", "")))
            if found and order_id in (None, found[1]):
                return found[1]
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == ids.ACK:
                with contextlib.suppress(ValueError):
                    found_id = parse_ack_value(str(element.get("value")))[0]
                    if order_id in (None, found_id):
                        return found_id
    return None


def _acknowledged(message: JSON | None) -> JSON | None:
    """The message if it says the order was acknowledged and offers no Acknowledge button any more."""
    if not message or "acknowledged by" not in _all_text(message).lower():
        return None
    buttons = [e for b in message.get("blocks", []) for e in b.get("elements", []) if isinstance(e, dict)]
    return None if any(e.get("action_id") == ids.ACK for e in buttons) else message


def _name(user_id: str) -> str:
    return {ALICE: "alice", BOB: "bob", CAROL: "carol"}.get(user_id, user_id)


def _typed(value: str, kind: str = "plain_text_input") -> JSON:
    return {"type": kind, "value": value}


def _selected(value: str, kind: str) -> JSON:
    return {"type": kind, "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}


def _button_label(message: JSON, action_id: str) -> str:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return _all_text(element.get("text"))
    return action_id
