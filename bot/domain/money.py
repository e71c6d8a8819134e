"""Money as each currency counts it: ISO 4217 minor units, exact Decimal arithmetic, and amounts for people.

Meta sends every amount as a ``currency_amount``, ``{"amount": "12.50", "currency": "USD"}``, with the amount a
decimal *string*. A float would turn ``0.10`` into ``0.1000000000000000055…``, so amounts are parsed straight to
:class:`~decimal.Decimal` and never pass through a float. How many digits follow the point depends on the
currency (ISO 4217's "minor units"): a yen has no cents, a Kuwaiti dinar has 1000 fils. Every amount orderdesk
shows or sends is written with exactly its currency's digits: ``JPY 1,500``, ``USD 12.50``, ``KWD 1.250``.

Nothing here rounds silently. :func:`fits` says whether an amount can be written in its currency at all (an agent
typing ``12.345`` dollars is asked to fix it, not rounded), and :func:`format_money` shows an amount Meta sent with
more digits than its currency has as Meta sent it, padded but never cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 (list one, 2024 edition): the currencies whose minor unit is not the usual hundredth.
_NO_MINOR_UNIT = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
_THREE_MINOR_DIGITS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_FOUR_MINOR_DIGITS = frozenset({"CLF", "UYW"})
DEFAULT_MINOR_UNITS = 2

# Larger than any order total; a bigger "amount" is a broken value, not money.
LIMIT = Decimal(10) ** 15
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# What an agent may type: digits with an optional thousands comma grouping and one decimal point.
_TYPED = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+")


def minor_units(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (ISO 4217): 0 for JPY, 3 for KWD, 2 for most, and for any
    code ISO does not list."""
    code = currency.strip().upper()
    if code in _NO_MINOR_UNIT:
        return 0
    if code in _THREE_MINOR_DIGITS:
        return 3
    if code in _FOUR_MINOR_DIGITS:
        return 4
    return DEFAULT_MINOR_UNITS


def is_currency_code(currency: object) -> bool:
    """Three uppercase letters, as ISO 4217 codes (and Meta's ``currency`` fields) are written."""
    return isinstance(currency, str) and _CURRENCY_CODE.fullmatch(currency) is not None


def quantum(currency: str) -> Decimal:
    """The currency's smallest unit as a Decimal exponent: ``1`` for JPY, ``0.01`` for USD, ``0.001`` for KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def parse_amount(value: object) -> Decimal | None:
    """An amount as Meta sends it (a decimal string) as an exact Decimal.

    A JSON number is taken as the digits it was written with (``repr`` of the float json made of it), never as
    the float's binary value. None for anything that is not a finite number below :data:`LIMIT`: a bool, text that
    is not a number, NaN or infinity.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        if isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            amount = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= LIMIT:
        return None
    return amount


def fits(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` can be written in ``currency`` without rounding (``12.5`` USD can, ``0.5`` JPY cannot)."""
    return amount == amount.quantize(quantum(currency)) if amount.is_finite() else False


def quantize(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with exactly the currency's digits; raises ``ValueError`` when that would change its value.

    Amounts orderdesk computes are sums and products of amounts that fit, so they fit too; this only sets the
    exponent (``Decimal("12.5")`` → ``Decimal("12.50")``) and catches a bug that would otherwise round money.
    """
    if not fits(amount, currency):
        raise ValueError(f"{amount} has more digits than {currency} allows ({minor_units(currency)})")
    return amount.quantize(quantum(currency))


def plain_amount(amount: Decimal, currency: str) -> str:
    """The amount as Meta's ``amount`` fields and spreadsheets take it: no grouping, the currency's digits exactly
    (more only if the value has them), e.g. ``1500``, ``12.50``, ``1.250``."""
    return f"{_padded(amount, currency):f}"


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount for people, grouped by thousands: ``1,500`` (JPY), ``1,234.50`` (USD), ``1.250`` (KWD)."""
    return f"{_padded(amount, currency):,f}"


def format_money(amount: Decimal, currency: str) -> str:
    """``USD 1,234.50``, ``JPY 1,500``, ``KWD 1.250``: the code, then the amount in its currency's digits."""
    return f"{currency} {format_amount(amount, currency)}".strip()


def _padded(amount: Decimal, currency: str) -> Decimal:
    """Exactly the currency's digits (``1500.00`` yen is ``1500``), or, when the value has more that are not zero,
    all of them (shown, never cut)."""
    if fits(amount, currency):
        return amount.quantize(quantum(currency))
    return amount.normalize()


@dataclass(frozen=True)
class Money:
    """An exact amount in one currency (an ISO 4217 code)."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)

    def to_graph(self) -> dict[str, str]:
        """The ``currency_amount`` Meta takes: ``{"amount": "12.50", "currency": "USD"}``."""
        return {"amount": plain_amount(quantize(self.amount, self.currency), self.currency), "currency": self.currency}


def from_graph(value: object) -> Money | None:
    """A Graph ``currency_amount`` as :class:`Money`; None when it is missing or its amount is not a number.

    The currency is kept as Meta wrote it, uppercased; a missing one is the empty string, which counts in the
    default two digits.
    """
    if not isinstance(value, Mapping):
        return None
    amount = parse_amount(value.get("amount"))
    if amount is None:
        return None
    currency = value.get("currency")
    return Money(amount, currency.strip().upper() if isinstance(currency, str) else "")


def parse_typed(text: str, currency: str) -> Decimal | str:
    """What an agent typed in an amount field, as an exact Decimal, or what is wrong with it in words.

    ``12``, ``12.5``, ``1,234.50`` are taken; a minus sign, letters, or more decimals than the currency has
    (``0.5`` for JPY, ``12.345`` for USD) are refused, never rounded.
    """
    cleaned = text.strip().removeprefix(currency).strip() if currency else text.strip()
    if not _TYPED.fullmatch(cleaned):
        return "Enter an amount such as " + _example(currency) + ", without a minus sign or a currency symbol."
    amount = Decimal(cleaned.replace(",", ""))
    if amount >= LIMIT:
        return "That amount is too large."
    if not fits(amount, currency):
        units = minor_units(currency)
        if units == 0:
            return f"{currency} has no smaller unit: enter a whole amount, such as {_example(currency)}."
        return f"{currency} has {units} decimal places at most, such as {_example(currency)}."
    return amount


def _example(currency: str) -> str:
    return format_amount(Decimal("12.5"), currency) if minor_units(currency) else format_amount(Decimal(1200), "JPY")
