"""Meta's carrier codes, as the ship modal's picker and the sandbox know them."""

from __future__ import annotations

from bot.domain.carriers import OTHER, carrier, carrier_name, carriers, common_carriers, search_carriers


def test_the_snapshot_has_every_code_once_in_uppercase() -> None:
    codes = [c.code for c in carriers()]
    assert len(codes) == 507
    assert len(set(codes)) == len(codes)
    assert all(code == code.upper() and " " not in code for code in codes)


def test_the_common_carriers_come_first_and_end_with_other() -> None:
    common = [c.code for c in common_carriers()]
    assert common[0] == "AUSTRALIA_POST"
    assert {"FEDEX", "UPS", "USPS", "DHL"} <= set(common)
    assert common[-1] == OTHER


def test_a_code_is_found_in_either_case_and_named() -> None:
    assert carrier("fedex") == carrier("FEDEX")
    assert carrier_name("dhl_ecommerce_us") == "DHL eCommerce US"
    assert carrier_name("NOT_A_CARRIER") == "NOT_A_CARRIER"


def test_search_puts_common_carriers_first_and_always_offers_other() -> None:
    found = [c.code for c in search_carriers("fedex")]
    assert found[0] == "FEDEX"
    assert OTHER in found
    assert [c.code for c in search_carriers("no such carrier at all")] == [OTHER]
    assert len(search_carriers("a")) <= 100
    assert search_carriers("") == list(common_carriers())


def test_search_ignores_case_and_accents() -> None:
    assert next(c.code for c in search_carriers("ROYAL")) == "ROYAL_MAIL"
    assert search_carriers("royál")[0].code == "ROYAL_MAIL"
