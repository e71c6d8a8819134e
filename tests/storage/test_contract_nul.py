"""Text with a NUL character (U+0000) in it: Meta's JSON may carry one (``\\u0000``) in a product name, an agent may
paste one. sqlite keeps it, PostgreSQL refuses it in ``text`` and ``jsonb``; every backend must store such text and
hand it back readable (PostgreSQL without the NUL), so one odd order never stops the poller or a write."""

from __future__ import annotations

import json

from storage_samples import Clock, full_order

from bot.storage.ports import Storage

NUL = "\x00"


def same_text(read: object, written: str) -> bool:
    """The text as written, or the same without its NUL characters."""
    return isinstance(read, str) and read.replace(NUL, "") == written.replace(NUL, "")


def test_an_order_whose_text_holds_nul_is_stored_and_read_back(store: Storage) -> None:
    order = full_order(
        "7001",
        merchant_order_id="SO\x00-1",
        items={"data": [{"id": "1", "product_name": "Mug\x00 blue", "quantity": 1, "note\x00": "x"}]},
    )
    store.upsert_order(order)
    store.upsert_orders([full_order("7002", items={"data": [{"id": "2", "product_name": "\x00"}]})])
    cached = store.get_order("7001")
    assert cached is not None
    item = cached.data["items"]["data"][0]
    assert same_text(item["product_name"], "Mug blue")
    assert same_text(cached.merchant_ref, "SO-1")
    assert [same_text(key, "note") for key in item if key.startswith("note")] == [True]
    other = store.get_order("7002")
    assert other is not None
    assert same_text(other.data["items"]["data"][0]["product_name"], "")


def test_audit_state_cards_and_the_ledger_take_text_with_nul(store: Storage, clock: Clock) -> None:
    store.add_audit(action="note", order_id="7001", user_id="U1", outcome="noted", detail="a\x00b")
    [row] = store.audit_for_order("7001")
    assert same_text(row.detail, "ab")

    store.set_state("notifier.last_error", "bad\x00 byte")
    assert same_text(store.get_state("notifier.last_error"), "bad byte")

    store.remember_card("7001", channel="C1", ts="1.5", response_url=None, kind="notification")
    assert [card.ts for card in store.cards_for_order("7001")] == ["1.5"]

    params = json.dumps({"note": "x\x00y"}, ensure_ascii=False)
    row_in = {
        "key": "k1", "operation": "acknowledge_order", "order_id": "7001", "params": params, "fingerprint": "f",
        "state": "pending", "retryable": 0, "user_id": "U1", "team_id": "T1", "channel_id": "C1",
        "message_ts": "1.1", "reference": "SO\x00-1", "created_at": clock.now, "updated_at": clock.now,
        "lease_expires_at": clock.now + 60, "attempts": 1, "response": None, "error": "Graph said \x00",
    }  # fmt: skip
    assert store.ledger_insert(row_in)
    stored = store.ledger_get("k1")
    assert stored is not None
    assert json.loads(stored["params"])["note"].replace(NUL, "") == "xy"
    assert same_text(stored["reference"], "SO-1")
    assert same_text(stored["error"], "Graph said ")
