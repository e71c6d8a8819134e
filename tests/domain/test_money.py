"""Money in each currency's own minor units (ISO 4217): parsing Meta's amounts exactly, writing them for people and
for Meta, and what an agent may type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import (
    LIMIT,
    Money,
    fits,
    format_money,
    from_graph,
    minor_units,
    parse_amount,
    parse_typed,
    plain_amount,
    quantize,
)

CURRENCIES = ("USD", "EUR", "JPY", "KRW", "VND", "KWD", "BHD", "JOD", "OMR", "TND", "CLF", "GBP")


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        *[("JPY", 0), ("KRW", 0), ("VND", 0), ("CLP", 0), ("KWD", 3), ("BHD", 3), ("JOD", 3), ("OMR", 3)],
        *[("TND", 3), ("USD", 2), ("EUR", 2), ("GBP", 2), ("CLF", 4), ("XYZ", 2), ("", 2), ("jpy", 0)],
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "shown", "sent"),
    [
        ("1500", "JPY", "JPY 1,500", "1500"),
        ("1500.00", "JPY", "JPY 1,500", "1500"),
        ("1234.5", "USD", "USD 1,234.50", "1234.50"),
        ("0.1", "USD", "USD 0.10", "0.10"),
        ("1.25", "KWD", "KWD 1.250", "1.250"),
        ("7", "EUR", "EUR 7.00", "7.00"),
        ("-3", "USD", "USD -3.00", "-3.00"),
    ],
)
def test_amounts_are_written_with_their_currencys_digits(amount: str, currency: str, shown: str, sent: str) -> None:
    value = from_graph({"amount": amount, "currency": currency})
    assert value == Money(Decimal(amount), currency)
    assert str(value) == format_money(Decimal(amount), currency) == shown
    assert plain_amount(Decimal(amount), currency) == sent


def test_an_amount_with_more_digits_than_its_currency_is_shown_whole_never_rounded() -> None:
    assert format_money(Decimal("12.345"), "USD") == "USD 12.345"
    assert format_money(Decimal("0.5"), "JPY") == "JPY 0.5"


@pytest.mark.parametrize("value", [None, "", "twelve", "NaN", "Infinity", "1e999999", True, [], {"a": 1}])
def test_what_is_not_a_sane_number_is_not_money(value: object) -> None:
    assert parse_amount(value) is None
    assert from_graph({"amount": value, "currency": "USD"}) is None


def test_parsing_is_exact_and_never_goes_through_binary_floats() -> None:
    assert parse_amount("0.10") == Decimal("0.10")
    assert parse_amount(0.1) == Decimal("0.1")  # a JSON number, as written
    assert parse_amount(" 12.50 ") == Decimal("12.50")
    assert from_graph({"amount": "3", "currency": "usd"}) == Money(Decimal(3), "USD")
    assert from_graph("12.50") is None


def test_quantize_refuses_to_round_money() -> None:
    assert str(quantize(Decimal("12.5"), "USD")) == "12.50"
    assert str(quantize(Decimal("1500.0"), "JPY")) == "1500"
    with pytest.raises(ValueError, match="JPY"):
        quantize(Decimal("0.5"), "JPY")
    assert Money(Decimal("12.5"), "USD").to_graph() == {"amount": "12.50", "currency": "USD"}
    with pytest.raises(ValueError, match="USD"):
        Money(Decimal("12.345"), "USD").to_graph()


@pytest.mark.parametrize(
    ("typed", "currency", "expected"),
    [
        ("12", "USD", Decimal(12)),
        ("12.5", "USD", Decimal("12.5")),
        ("1,234.50", "USD", Decimal("1234.50")),
        (" 3 ", "JPY", Decimal(3)),
        ("USD 4.10", "USD", Decimal("4.10")),
        (".5", "EUR", Decimal("0.5")),
        ("1.125", "KWD", Decimal("1.125")),
    ],
)
def test_typed_amounts_are_taken_exactly(typed: str, currency: str, expected: Decimal) -> None:
    assert parse_typed(typed, currency) == expected


@pytest.mark.parametrize(
    ("typed", "currency", "words"),
    [
        ("0.5", "JPY", "JPY has no smaller unit: enter a whole amount, such as 1,200."),
        ("12.345", "USD", "USD has 2 decimal places at most, such as 12.50."),
        ("1.1234", "KWD", "KWD has 3 decimal places at most, such as 12.500."),
        ("-1", "USD", "Enter an amount such as 12.50, without a minus sign or a currency symbol."),
        ("$5", "USD", "Enter an amount such as 12.50, without a minus sign or a currency symbol."),
        ("1e3", "USD", "Enter an amount such as 12.50, without a minus sign or a currency symbol."),
        ("", "USD", "Enter an amount such as 12.50, without a minus sign or a currency symbol."),
        ("1" * 20, "USD", "That amount is too large."),
    ],
)
def test_typed_amounts_that_cannot_be_money_get_words(typed: str, currency: str, words: str) -> None:
    assert parse_typed(typed, currency) == words


minor_amounts = st.integers(min_value=-(10**12), max_value=10**12)


@given(minor_amounts, st.sampled_from(CURRENCIES))
def test_every_amount_in_minor_units_round_trips_through_meta_and_people(units: int, currency: str) -> None:
    amount = Decimal(units).scaleb(-minor_units(currency))
    assert fits(amount, currency)
    sent = Money(amount, currency).to_graph()
    assert from_graph(sent) == Money(amount, currency)
    written = plain_amount(amount, currency)
    assert len(written.partition(".")[2]) == minor_units(currency)
    shown = format_money(amount, currency)
    assert Decimal(shown.removeprefix(currency + " ").replace(",", "")) == amount
    if amount >= 0:
        assert parse_typed(shown.removeprefix(currency + " "), currency) == amount


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-LIMIT + 1, max_value=LIMIT - 1))
def test_showing_never_changes_an_amount(amount: Decimal) -> None:
    for currency in ("USD", "JPY", "KWD"):
        shown = format_money(amount, currency).removeprefix(currency + " ").replace(",", "")
        assert Decimal(shown) == amount
        assert fits(amount, currency) == (amount == round(amount, minor_units(currency)))
