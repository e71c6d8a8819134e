"""The storage contract for the buyer search index: indexing an order indexes its buyer's hashes, never values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from storage_samples import SEARCH_KEY, Clock

from bot.domain.buyer_search import query_hashes
from bot.storage.ports import Storage
from bot.storage.sqlite.store import Store


def _at(day: str) -> float:
    return datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()


def _order(order_id: str, name: str, email: str, *, updated: str = "2026-11-20T10:00:00+00:00") -> dict[str, Any]:
    return {
        "id": order_id,
        "last_updated": updated,
        "buyer_details": {"name": name, "email": email, "phone_number": "+1 555 0100 " + order_id[-2:]},
        "shipping_address": {"name": name, "street1": "12 Elm Street", "city": "Austin", "country": "US"},
    }


def _name(store: Storage, text: str, since: float = 0.0) -> list[str]:
    return store.buyers_matching("name", query_hashes(SEARCH_KEY, "name", text), since=since)


def test_an_indexed_order_is_found_by_email_phone_and_all_name_tokens(store: Storage) -> None:
    store.upsert_order(_order("7001", "José Núñez", "Jose@Example.com"))
    store.upsert_orders([_order("7002", "Ana Núñez", "ana@example.com")])
    email = query_hashes(SEARCH_KEY, "email", " jose@example.COM ")
    assert store.buyers_matching("email", email, since=0) == ["7001"]
    assert store.buyers_matching("phone", query_hashes(SEARCH_KEY, "phone", "15550100 02"), since=0) == ["7002"]
    assert _name(store, "jose nunez") == ["7001"]
    assert sorted(_name(store, "NUNEZ")) == ["7001", "7002"]
    assert _name(store, "jose ana") == []  # every token must match one order
    assert _name(store, "jos") == []  # whole tokens only
    assert store.buyers_matching("name", email, since=0) == []  # kinds do not mix


def test_the_window_is_by_last_update_newest_first(store: Storage) -> None:
    store.upsert_order(_order("7001", "Ana Ruiz", "a@x.com", updated="2026-11-01T10:00:00+00:00"))
    store.upsert_order(_order("7002", "Ana Ruiz", "a@x.com", updated="2026-11-20T10:00:00+00:00"))
    assert _name(store, "ana ruiz", _at("2026-10-25")) == ["7002", "7001"]
    assert _name(store, "ana ruiz", _at("2026-11-10")) == ["7002"]


def test_a_newer_read_replaces_the_hashes_and_a_partial_or_older_one_keeps_them(store: Storage) -> None:
    store.upsert_order(_order("7001", "Ana Ruiz", "a@x.com", updated="2026-11-20T10:00:00+00:00"))
    store.upsert_order({"id": "7001", "merchant_order_id": "SO-1"})  # the lookup scan's read
    assert _name(store, "ana") == ["7001"]
    store.upsert_order(_order("7001", "Old Name", "old@x.com", updated="2026-11-19T10:00:00+00:00"))
    assert _name(store, "old") == []
    store.upsert_order(_order("7001", "Eva Ruiz", "e@x.com", updated="2026-11-21T10:00:00+00:00"))
    assert _name(store, "ana") == []
    assert _name(store, "eva ruiz") == ["7001"]


def test_the_database_holds_no_searched_value_in_clear(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "plain.db"
    with Store(path, clock=clock, search_key=SEARCH_KEY) as store:
        store.upsert_order(_order("7001", "Zebulon Quimby", "zeb.quimby@example.org"))
        assert _name(store, "zebulon") == ["7001"]
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for value in (b"Zebulon", b"zebulon", b"Quimby", b"quimby", b"zeb.quimby", b"Elm Street", b"555 0100"):
        assert value not in data


def test_without_a_search_key_nothing_is_hashed(tmp_path: Path, clock: Clock) -> None:
    with Store(tmp_path / "nokey.db", clock=clock) as store:
        store.upsert_order(_order("7001", "Ana Ruiz", "a@x.com"))
        assert _name(store, "ana") == []


def test_what_one_store_indexes_another_finds(open_store: Callable[[], Storage]) -> None:
    first, second = open_store(), open_store()
    first.upsert_order(_order("7001", "Ana Ruiz", "a@x.com"))
    assert _name(second, "ruiz") == ["7001"]
