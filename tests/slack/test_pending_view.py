"""``/order pending``'s pages at 0, 1, 30 and 500 waiting orders: within Slack's limits (slack_sdk's models), each
order exactly once across the pages, most urgent first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.notify.queue import page, parse_cursor, waiting_orders
from bot.slack import ids
from bot.slack.views.pending import PAGE_SIZE, pending_blocks, pending_line
from bot.storage.sqlite.store import Store

NOW = 1_800_000_000.0


def order(n: int) -> dict[str, Any]:
    created = NOW - (n * 7919) % (40 * 86_400)  # spread over 40 days: every band and kind
    state = "CREATED" if n % 3 else "IN_PROGRESS"
    return {
        "id": str(7_000_000 + n),
        "order_status": {"state": state},
        "created": datetime.fromtimestamp(created, UTC).isoformat(),
        "last_updated": "2027-01-15T08:00:00+00:00",
        "channel": "instagram" if n % 2 else "facebook",
        "merchant_order_id": f"SO-{n}<&>" if state == "IN_PROGRESS" else None,
        "ship_by_date": "2027-01-20" if n % 5 == 0 else None,
        "estimated_payment_details": {"total_amount": {"amount": "1234567.50", "currency": "USD"}},
    }


def walk(store: Store) -> list[list[dict[str, Any]]]:
    waiting = waiting_orders(store, NOW, UTC)
    pages, after, before = [], None, 0
    while True:
        shown, more = page(waiting, after=after, size=PAGE_SIZE)
        blocks = pending_blocks(
            shown,
            total=len(waiting),
            shown_before=before,
            more=more,
            ack_keys={e.order_id: f"k{e.order_id}" for e in shown},
            statuses={},
            commerce_manager_url="https://cm.example/",
        )
        pages.append(blocks)
        if not more:
            return pages
        before += len(shown)
        (value,) = [
            e["value"]
            for b in blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == ids.PENDING_MORE
        ]
        after = parse_cursor(value)


@pytest.mark.parametrize("count", [0, 1, 30, 500])
def test_pages_keep_slacks_limits_and_show_each_order_once(tmp_path: Path, count: int) -> None:
    with Store(tmp_path / "orderdesk.db") as store:
        store.upsert_orders(order(n) for n in range(count))
        store.upsert_order({**order(count + 1), "order_status": {"state": "COMPLETED"}})  # not waiting
        shipped = {**order(count + 2), "order_status": {"state": "IN_PROGRESS"}, "shipments": {"data": [{"id": "1"}]}}
        store.upsert_order(shipped)
        pages = walk(store)
        expected = [w.order_id for w in waiting_orders(store, NOW, UTC)]
    assert len(pages) == max(1, -(-count // PAGE_SIZE))
    seen: list[str] = []
    for blocks in pages:
        assert len(blocks) <= 50
        assert len(json.dumps(blocks)) < 40_000
        for block in blocks:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        for block in blocks:
            for element in block.get("elements", []):
                if element.get("action_id") == ids.ACK:
                    seen.append(json.loads(element["value"])["o"])
                elif element.get("action_id") == ids.OPEN_IN_COMMERCE_MANAGER:
                    seen.append(element["url"].rsplit("/", 1)[1])
    ids_seen = list(dict.fromkeys(seen))
    assert ids_seen == expected
    assert len(expected) == count
    if count == 0:
        assert "Nothing is waiting" in json.dumps(pages[0])


def test_most_urgent_first_with_the_clock_in_words(tmp_path: Path) -> None:
    with Store(tmp_path / "orderdesk.db") as store:
        store.upsert_orders(order(n) for n in range(30))
        waiting = waiting_orders(store, NOW, UTC)
    bands = [w.clock.band for w in waiting if w.clock]
    assert bands == sorted(bands, key=["overdue", "soon", "later"].index)
    assert "overdue" in json.dumps(walk_one(waiting))
    referenced = next(w for w in waiting if w.order.get("merchant_order_id"))
    assert "ref SO-0&lt;&amp;&gt;" in pending_line(referenced, "")  # Meta's text escaped


def walk_one(waiting: list[Any]) -> list[dict[str, Any]]:
    shown, more = page(waiting, after=None, size=PAGE_SIZE)
    return pending_blocks(
        shown, total=len(waiting), shown_before=0, more=more, ack_keys={}, statuses={}, commerce_manager_url=""
    )


@pytest.mark.parametrize("value", ["", "x", "1.0:abc", "nan:7001", "1.0", "-:"])
def test_a_cursor_not_from_orderdesk_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a page cursor"):
        parse_cursor(value)


@pytest.mark.parametrize("count", [0, 1, 30, 500])
def test_each_line_carries_the_cards_action_buttons_within_slacks_limits(tmp_path: Path, count: int) -> None:
    with Store(tmp_path / "orderdesk.db") as store:
        items = {"data": [{"id": "1", "quantity": 2}]}
        store.upsert_orders({**order(n), "id": str(7_001_000_000_000 + n), "items": items} for n in range(count))
        pages = walk(store)
    lines = ships = 0
    for blocks in pages:
        assert len(blocks) <= 50
        assert len(json.dumps(blocks)) < 40_000
        for block in blocks:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        for block in blocks:
            if block["type"] != "actions" or block["elements"][0]["action_id"] == ids.PENDING_MORE:
                continue
            lines += 1
            assert len(block["elements"]) <= 25
            shown = {e["action_id"] for e in block["elements"]}
            assert ids.ORDER_CANCEL in shown  # as on the order's card
            ships += ids.ORDER_SHIP in shown  # an acknowledged order can be marked shipped
    assert lines == count
    assert ships == sum(1 for n in range(count) if n % 3 == 0)


def test_a_show_more_after_the_queue_emptied_behind_the_page_says_so() -> None:
    from bot.domain.deadlines import deadline
    from bot.notify.queue import Waiting

    orders = [{**order(n), "id": str(7_001_000_000_000 + n)} for n in range(3)]
    waiting = sorted((Waiting(o, deadline(o, NOW)) for o in orders), key=lambda w: w.key)
    shown, more = page(waiting, after=waiting[-1].key, size=PAGE_SIZE)
    blocks = pending_blocks(
        shown, total=3, shown_before=3, more=more, ack_keys={}, statuses={}, commerce_manager_url=""
    )
    text = json.dumps(blocks, ensure_ascii=False)
    assert "4–3" not in text
    assert "No more orders after the last page*: 3 orders still waiting" in text
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
