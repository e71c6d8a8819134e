"""Which links unfurl (a table of URLs), and the once-per-window read the unfurler makes through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.graph.client import GraphError, NotFoundError
from bot.lookup.unfurl import MAX_LINKS, UNFURL_FIELDS, Unfurler, order_links
from bot.storage.sqlite.store import Store

CM = "https://www.facebook.com/commerce_manager/"
ORDER = "4983828896296367"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://business.facebook.com/commerce/1234/orders/{ORDER}", ORDER),
        (f"https://business.facebook.com/commerce_manager/1234/orders/{ORDER}/", ORDER),
        (f"https://Business.Facebook.com/orders/{ORDER}?nav_ref=x", ORDER),
        (f"http://business.facebook.com/commerce/orders?order_id={ORDER}", ORDER),
        (f"https://business.facebook.com/commerce/orders/?order_id={ORDER}&amp;tab=items", ORDER),
        (f"https://www.facebook.com/commerce_manager/orders/{ORDER}", ORDER),  # the card's own link
        (f"https://business.facebook.com/commerce/1234/orders/{ORDER}/shipments", ORDER),
        ("https://business.facebook.com/commerce/1234/orders/", None),
        ("https://business.facebook.com/commerce/1234/orders/123", None),  # too short for an order id
        ("https://business.facebook.com/commerce/1234/orders/SHOP-1042", None),
        (f"https://business.facebook.com/commerce/1234/catalog/{ORDER}", None),
        (f"https://business.facebook.com/orders?order_id={ORDER}&order_id=4983828896296368", None),
        (f"https://evil.example/business.facebook.com/orders/{ORDER}", None),
        (f"https://business.facebook.com.evil.example/orders/{ORDER}", None),
        (f"ftp://business.facebook.com/orders/{ORDER}", None),
        (f"https://business.facebook.com:99999/orders/{ORDER}", None),  # a port urlsplit refuses
        ("not a url", None),
        ("", None),
    ],
)
def test_order_links(url: str, expected: str | None) -> None:
    assert order_links([url], CM) == ({url: expected} if expected else {})


def test_order_links_keep_the_urls_as_given_and_stop_at_the_limit() -> None:
    urls = [f"https://business.facebook.com/orders/{7001000000 + n}" for n in range(MAX_LINKS + 3)]
    found = order_links(["https://example.com/", *urls], CM)
    assert list(found) == urls[:MAX_LINKS]
    assert found[urls[0]] == "7001000000"


class FakeGraph:
    def __init__(self, orders: dict[str, dict[str, Any]]) -> None:
        self.orders = orders
        self.reads: list[tuple[str, str]] = []

    def get_order(self, order_id: str, fields: str) -> dict[str, Any]:
        self.reads.append((order_id, fields))
        if order_id not in self.orders:
            raise NotFoundError("Unsupported get request", code=100)
        return self.orders[order_id]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "orderdesk.db") as opened:
        yield opened


def test_an_order_is_read_once_per_window_and_then_comes_from_the_index(store: Store) -> None:
    order = {
        "id": ORDER,
        "order_status": {"state": "CREATED"},
        "buyer_details": {"name": "Edsger Torvalds", "email": "e@example.com"},
        "shipping_address": {"name": "Edsger Torvalds", "street1": "1493 Pine St", "city": "Portland"},
    }
    graph = FakeGraph({ORDER: order})
    unfurler = Unfurler(graph, store)  # type: ignore[arg-type]
    links = {f"https://business.facebook.com/orders/{ORDER}": ORDER, f"{CM}orders/{ORDER}": ORDER}
    first = unfurler.orders_for(links)
    second = unfurler.orders_for(links)
    assert graph.reads == [(ORDER, UNFURL_FIELDS)]  # two links, two events: one read
    assert "buyer_details" not in UNFURL_FIELDS
    assert "street" not in UNFURL_FIELDS
    for shown in (first, second):
        assert set(shown) == set(links)
        text = repr(shown)
        assert ORDER in text
        assert "Portland" in text
        for buyer_data in ("Torvalds", "e@example.com", "Pine St"):
            assert buyer_data not in text


def test_an_unknown_order_unfurls_to_nothing_even_the_second_time(store: Store) -> None:
    graph = FakeGraph({})
    unfurler = Unfurler(graph, store)  # type: ignore[arg-type]
    links = {f"https://business.facebook.com/orders/{ORDER}": ORDER}
    assert unfurler.orders_for(links) == {}
    assert unfurler.orders_for(links) == {}
    assert len(graph.reads) == 1
    assert issubclass(NotFoundError, GraphError)
