from __future__ import annotations

from bot.domain.order import reference_key, strip_pii

EMAIL = "n8miblde3i@marketplace.facebook.com"


def order_with_pii() -> dict[str, object]:
    return {
        "id": "7001",
        "buyer_details": {"name": "Ada L.", "email": EMAIL, "email_remarketing_option": False},
        "shipping_address": {"name": "Ada L.", "street1": "1 Infinite Loop", "city": "Cupertino", "country": "US"},
    }


def test_strip_pii_leaves_the_callers_dict_alone() -> None:
    order = order_with_pii()
    assert "email" not in strip_pii(order)["buyer_details"]
    assert order["buyer_details"] == {"name": "Ada L.", "email": EMAIL, "email_remarketing_option": False}


def test_strip_pii_keeps_only_what_cached_cards_show() -> None:
    assert strip_pii(order_with_pii()) == {
        "id": "7001",
        "buyer_details": {"email_remarketing_option": False},
        "shipping_address": {"city": "Cupertino", "country": "US"},
    }


def test_references_compare_without_case() -> None:
    assert reference_key("SO-1") == reference_key("so-1")
    assert reference_key("SO-1") != reference_key("SO-2")
