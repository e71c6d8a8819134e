"""What is left of an order (open units, refundable amounts and shipping) and the check of a refund against it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.money import fits, from_graph, minor_units, plain_amount
from bot.domain.remaining import (
    FIELD_DEDUCTION,
    FIELD_ITEMS,
    FIELD_NOTE,
    FIELD_REASON,
    FIELD_SHIPPING,
    NOTE_MAX,
    REFUND_REASONS,
    ItemAsk,
    RefundAsk,
    RefundPreview,
    RefundProblems,
    amount_field,
    cancellable,
    check_refund,
    from_compact,
    preview_from_json,
    quantity_field,
    remaining,
    to_compact,
)


def amount(value: str | Decimal, currency: str = "USD") -> dict[str, str]:
    return {"amount": str(value), "currency": currency}


def order(
    items: list[tuple[int, str]],
    *,
    currency: str = "USD",
    shipping: str = "5.00",
    shipped: list[list[int]] = (),  # type: ignore[assignment]
    cancelled: list[list[int]] = (),  # type: ignore[assignment]
    refunds: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A Graph order with edges: ``items`` as (quantity, unit price); ``shipped``/``cancelled`` as per-record
    quantities by item position; ``refunds`` as Graph refund records."""
    ids = [f"I{n}" for n in range(len(items))]

    def lines(records: list[list[int]]) -> dict[str, Any]:
        return {
            "data": [
                {"id": f"R{n}", "items": {"data": [{"id": ids[i], "quantity": q} for i, q in enumerate(r) if q]}}
                for n, r in enumerate(records)
            ]
        }

    return {
        "id": "700",
        "order_status": {"state": "IN_PROGRESS"},
        "estimated_payment_details": {
            "subtotal": {"shipping": amount(shipping, currency)},
            "total_amount": amount("1", currency),
        },
        "items": {
            "data": [
                {
                    "id": ids[n],
                    "retailer_id": f"SKU-{n}",
                    "product_name": f"Thing {n}",
                    "quantity": q,
                    "price_per_unit": amount(price, currency),
                }
                for n, (q, price) in enumerate(items)
            ]
        },
        "shipments": lines(list(shipped)),
        "cancellations": lines(list(cancelled)),
        "refunds": {"data": list(refunds)},
    }


def refund_record(refund_id: str, lines: list[tuple[str, int | None, str]], shipping: str = "0") -> dict[str, Any]:
    return {
        "id": refund_id,
        "items": {
            "data": [
                {"id": item, "refund_subtotal": amount(subtotal), **({"quantity": q} if q is not None else {})}
                for item, q, subtotal in lines
            ]
        },
        "refund_amount": {**amount("0"), "shipping": amount(f"-{shipping}")},
    }


def test_open_units_are_neither_shipped_nor_cancelled() -> None:
    placed = order([(3, "10"), (2, "4"), (1, "1")], shipped=[[1, 0, 0], [1, 0, 0]], cancelled=[[0, 2, 0]])
    assert cancellable(placed) == {"I0": 1, "I1": 0, "I2": 1}


def test_refundable_counts_shipped_value_less_earlier_refunds_and_shipping_less_its_refunds() -> None:
    placed = order(
        [(3, "10.00"), (2, "4.00")],
        shipped=[[3, 1]],
        refunds=[refund_record("F1", [("I0", 1, "10.00"), ("I1", None, "1.50")], shipping="2.00")],
    )
    left = remaining(placed)
    first, second = left.items
    assert (first.refundable_units, first.refundable_amount) == (2, Decimal("20.00"))
    # 1 unit shipped at 4.00, 1.50 refunded by amount: 2.50 left, so no whole unit any more.
    assert (second.refundable_units, second.refundable_amount) == (0, Decimal("2.50"))
    assert left.shipping_refundable == Decimal("3.00")
    assert left.refundable_total == Decimal("25.50")
    assert left.refund_ids == ("F1",)
    assert left.refundable


def test_a_preview_adds_up_and_names_every_item_for_meta() -> None:
    left = remaining(order([(3, "10.00"), (2, "4.00")], shipped=[[2, 2]]))
    ask = RefundAsk(
        reason="DAMAGED_GOODS",
        note=" Sorry about that. ",
        items={"I0": ItemAsk(quantity="2"), "I1": ItemAsk(amount="1.5")},
        shipping="5",
        deduction="2.25",
    )
    preview = check_refund(left, ask)
    assert isinstance(preview, RefundPreview)
    assert [(line.quantity, line.amount) for line in preview.lines] == [(2, Decimal("20.00")), (None, Decimal("1.5"))]
    assert (preview.items_total, preview.total) == (Decimal("21.50"), Decimal("24.25"))
    assert preview.graph_params() == {
        "reason_code": "DAMAGED_GOODS",
        "reason_text": "Sorry about that.",
        "items": [
            {"item_id": "I0", "item_refund_quantity": 2},
            {"item_id": "I1", "item_refund_amount": {"amount": "1.50", "currency": "USD"}},
        ],
        "shipping": {"shipping_refund": {"amount": "5.00", "currency": "USD"}},
        "deductions": [
            {"deduction_type": "RETURN_SHIPPING", "deduction_amount": {"amount": "2.25", "currency": "USD"}}
        ],
    }
    assert preview_from_json(preview.to_json()) == preview
    assert check_refund(left, preview.ask()) == preview


def test_zero_decimal_and_three_decimal_currencies_are_checked_in_their_own_units() -> None:
    yen = remaining(order([(2, "1500")], currency="JPY", shipping="500", shipped=[[2]]))
    refused = check_refund(yen, RefundAsk("WRONG_ITEM", items={"I0": ItemAsk(amount="999.5")}))
    assert refused == RefundProblems(
        {amount_field("I0"): "JPY has no smaller unit: enter a whole amount, such as 1,200."}
    )
    taken = check_refund(yen, RefundAsk("WRONG_ITEM", items={"I0": ItemAsk(amount="1,000")}, shipping="500"))
    assert isinstance(taken, RefundPreview)
    assert taken.graph_params()["items"][0]["item_refund_amount"] == {"amount": "1000", "currency": "JPY"}
    assert taken.money(taken.total) == "JPY 1,500"
    dinar = remaining(order([(1, "12.125")], currency="KWD", shipping="0.5", shipped=[[1]]))
    three = check_refund(dinar, RefundAsk("QUALITY_ISSUE", items={"I0": ItemAsk(amount="12.125")}, shipping="0.5"))
    assert isinstance(three, RefundPreview)
    assert three.graph_params()["shipping"] == {"shipping_refund": {"amount": "0.500", "currency": "KWD"}}


@pytest.mark.parametrize(
    ("ask", "problems"),
    [
        (
            RefundAsk("FACEBOOK_INITIATED", items={"I0": ItemAsk(quantity="1")}),
            {FIELD_REASON: "Choose the reason for the refund."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", note="x" * (NOTE_MAX + 1), items={"I0": ItemAsk(quantity="1")}),
            {FIELD_NOTE: f"At most {NOTE_MAX} characters (this is {NOTE_MAX + 1}); the buyer reads it."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="3")}),
            {quantity_field("I0"): "At most 2 units can be refunded (2 shipped, 0 refunded)."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="1.5")}),
            {quantity_field("I0"): "Enter a whole number of units."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(amount="20.01")}),
            {amount_field("I0"): "At most USD 20.00 is left to refund on this item, before tax."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="1", amount="2")}),
            {amount_field("I0"): "Give a quantity or an amount for this item, not both."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I1": ItemAsk(quantity="1")}),
            {
                quantity_field("I1"): "Nothing of this item has shipped yet, so nothing can be refunded: cancel "
                "unshipped units instead."
            },
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="1")}, shipping="5.01"),
            {FIELD_SHIPPING: "At most USD 5.00 of shipping is left to refund."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="1")}, deduction="10"),
            {FIELD_DEDUCTION: "The deduction must be less than the refund (USD 10.00)."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="0"), "I1": ItemAsk(amount="0.00")}),
            {FIELD_ITEMS: "Choose at least one item to refund, by quantity or by amount."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I9": ItemAsk(quantity="1")}),
            {FIELD_ITEMS: "Item I9 is not on this order any more. Open the order again."},
        ),
        (
            RefundAsk("BUYERS_REMORSE", items={"I0": ItemAsk(quantity="1")}, deduction="-1"),
            {FIELD_DEDUCTION: "Enter an amount such as 12.50, without a minus sign or a currency symbol."},
        ),
    ],
)
def test_each_invalid_field_is_refused_in_words(ask: RefundAsk, problems: dict[str, str]) -> None:
    left = remaining(order([(3, "10.00"), (1, "4.00")], shipped=[[2, 0]]))
    assert check_refund(left, ask) == RefundProblems(problems)


def test_an_item_refunded_in_full_or_an_order_read_in_part_cannot_be_refunded() -> None:
    full = order([(1, "10.00")], shipped=[[1]], refunds=[refund_record("F1", [("I0", None, "10.00")])])
    assert check_refund(remaining(full), RefundAsk("WRONG_ITEM", items={"I0": ItemAsk(amount="1")})) == RefundProblems(
        {amount_field("I0"): "This item is refunded in full already."}
    )
    assert not remaining(full).refundable
    paged = order([(1, "10.00")], shipped=[[1]])
    paged["refunds"]["paging"] = {"next": "https://graph.test/next"}
    problems = check_refund(remaining(paged), RefundAsk("WRONG_ITEM", items={"I0": ItemAsk(quantity="1")}))
    assert isinstance(problems, RefundProblems)
    assert "Commerce Manager" in problems.fields[FIELD_ITEMS]


def test_every_reason_has_words_and_meta_s_own_is_not_offered() -> None:
    assert set(REFUND_REASONS) == {
        "BUYERS_REMORSE",
        "DAMAGED_GOODS",
        "NOT_AS_DESCRIBED",
        "QUALITY_ISSUE",
        "REFUND_REASON_OTHER",
        "WRONG_ITEM",
    }
    assert all(words and words[0].isupper() for words in REFUND_REASONS.values())


# Property tests of the arithmetic: random orders, histories and asks.

CURRENCIES = ("USD", "JPY", "KWD", "EUR")


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """A random order with a consistent history: shipments and cancellations within the units, refunds within
    what was shipped (by quantity or by amount), in a random currency."""
    currency = draw(st.sampled_from(CURRENCIES))
    digits = minor_units(currency)
    count = draw(st.integers(1, 4))
    items = [
        (draw(st.integers(1, 5)), plain_amount(Decimal(draw(st.integers(1, 10**6))).scaleb(-digits), currency))
        for _ in range(count)
    ]
    shipped, cancelled = [0] * count, [0] * count
    for n, (quantity, _) in enumerate(items):
        shipped[n] = draw(st.one_of(st.just(quantity), st.integers(0, quantity)))
        cancelled[n] = draw(st.integers(0, quantity - shipped[n]))
    shipping = Decimal(draw(st.integers(0, 10**5))).scaleb(-digits)
    placed = order(
        items, currency=currency, shipping=plain_amount(shipping, currency), shipped=[shipped], cancelled=[cancelled]
    )
    for refund_no in range(draw(st.integers(0, 3))):
        left = remaining(placed)
        lines: list[tuple[str, int | None, str]] = []
        for item in left.items:
            if item.refundable_units and draw(st.booleans()):
                q = draw(st.integers(1, item.refundable_units))
                lines.append((item.item_id, q, str(q * (item.unit_price or 0))))
            elif item.refundable_amount > 0 and draw(st.booleans()):
                units = int(item.refundable_amount.scaleb(digits))
                part = Decimal(draw(st.integers(1, units))).scaleb(-digits)
                lines.append((item.item_id, None, str(part)))
        ship_back = Decimal(draw(st.integers(0, int(left.shipping_refundable.scaleb(digits))))).scaleb(-digits)
        if lines:
            record = refund_record(f"F{refund_no}", lines, shipping=str(ship_back))
            for line in record["items"]["data"]:
                line["refund_subtotal"]["currency"] = currency
            placed["refunds"]["data"].append(record)
    return placed


@st.composite
def asks(draw: st.DrawFn, placed: dict[str, Any]) -> RefundAsk:
    """A random ask, often beyond what is left: quantities, amounts (sometimes with too many digits), shipping
    and deduction."""
    left = remaining(placed)
    digits = minor_units(left.currency)

    def typed(limit: Decimal, least: int = 0) -> str:
        """Mostly within ``limit``, sometimes just over it or with one digit too many."""
        top = int(limit.scaleb(digits))
        value = Decimal(draw(st.integers(least, max(least, top) + top // 8 + 1))).scaleb(-digits)
        if draw(st.integers(0, 19)) == 7:  # rare (Hypothesis favours the ends of a range)
            value += Decimal(1).scaleb(-digits - 1)
        return f"{value:f}"

    items = {}
    for item in left.items:
        kinds = ["none", "quantity", "quantity", "amount", "amount", "both"] if item.refundable_amount else ["none"] * 5
        kind = draw(st.sampled_from([*kinds, "quantity"]))
        quantity = str(draw(st.integers(1, item.refundable_units + 1)))
        items[item.item_id] = ItemAsk(
            quantity=quantity if kind in ("quantity", "both") else "",
            amount=typed(item.refundable_amount, least=1) if kind in ("amount", "both") else "",
        )
    shipping = draw(st.sampled_from(["", typed(left.shipping_refundable)]))
    reason = draw(st.sampled_from([*REFUND_REASONS, *REFUND_REASONS, "FACEBOOK_INITIATED"]))
    shipping = typed(left.shipping_refundable)
    return RefundAsk(
        reason=reason,
        note=draw(st.text(max_size=20)),
        items=items,
        shipping=shipping,
        deduction=draw(st.sampled_from(["", "", typed(left.refundable_total / 4)])),
    )


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_checked_refund_never_exceeds_what_is_left_and_adds_up(data: st.DataObject) -> None:
    placed = data.draw(histories())
    left = remaining(placed)
    for item in left.items:
        assert item.open_units == item.ordered - item.shipped - item.cancelled >= 0
        assert 0 <= item.refundable_amount <= item.shipped * (item.unit_price or 0)
        assert item.refundable_units * (item.unit_price or 0) <= item.refundable_amount
        assert item.refundable_units <= item.shipped - item.refunded_units
    ask = data.draw(asks(placed))
    checked = check_refund(left, ask)
    if isinstance(checked, RefundProblems):
        assert checked.fields
        assert all(words.endswith(".") for words in checked.fields.values())
        return
    currency = left.currency
    assert checked.lines
    assert 0 < checked.total <= left.refundable_total
    assert checked.shipping <= left.shipping_refundable
    assert checked.total == checked.items_total + checked.shipping - checked.deduction
    for line in checked.lines:
        found = left.item(line.item_id)
        assert found is not None
        assert found.unit_price is not None
        assert 0 < line.amount <= found.refundable_amount
        assert fits(line.amount, currency)
        if line.quantity is not None:
            assert 0 < line.quantity <= found.refundable_units
            assert line.amount == line.quantity * found.unit_price
    params = checked.graph_params()
    prices = {item.item_id: item.unit_price or Decimal(0) for item in left.items}
    sent = Decimal(0)
    for line in params["items"]:
        if "item_refund_amount" in line:
            money = from_graph(line["item_refund_amount"])
            assert money is not None
            assert money.currency == currency
            sent += money.amount
        else:
            sent += line["item_refund_quantity"] * prices[line["item_id"]]
    assert sent == checked.items_total
    # The refund recorded, what is left shrinks by exactly what it took.
    after = dict(placed)
    record = refund_record(
        "NEW",
        [(line.item_id, line.quantity, str(line.amount)) for line in checked.lines],
        shipping=str(checked.shipping),
    )
    after["refunds"] = {"data": [*placed["refunds"]["data"], record]}
    later = remaining(after)
    assert later.refundable_total == left.refundable_total - checked.items_total - checked.shipping
    assert later.refund_ids == (*left.refund_ids, "NEW")


def test_what_is_left_travels_compactly_and_comes_back_the_same() -> None:
    left = remaining(
        order(
            [(3, "10.00"), (2, "4.00")],
            currency="KWD",
            shipped=[[3, 1]],
            refunds=[refund_record("F1", [("I0", 1, "10.00"), ("I1", None, "1.50")], shipping="2.00")],
        )
    )
    names = {item.item_id: item.name or "" for item in left.items}
    back = from_compact(to_compact(left), left.order_id, names)
    assert back == replace(left, items=tuple(replace(item, retailer_id=None) for item in left.items))
    with pytest.raises(ValueError, match="to_compact"):
        from_compact({"c": "USD"}, "1")
