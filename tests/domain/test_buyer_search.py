"""Normalisation and keyed hashes of buyer search values: what an agent types must hash like what Meta sent."""

from __future__ import annotations

import pytest

from bot.domain.buyer_search import (
    Kind,
    key_check,
    keyed_hash,
    name_tokens,
    normal_email,
    normal_phone,
    order_hashes,
    query_hashes,
    query_kind,
)

KEY = "k" * 32


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Ana.Diaz@Example.COM ", "ana.diaz@example.com"),
        ("x7f3k2@marketplace.facebook.com", "x7f3k2@marketplace.facebook.com"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normal: str) -> None:
    assert normal_email(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("+1 (555) 010-42", "155501042"), ("1555 01042", "155501042"), ("", "")],
)
def test_phones_keep_their_digits(raw: str, normal: str) -> None:
    assert normal_phone(raw) == normal


@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("José Núñez", ["jose", "nunez"]),
        ("  ANA   maría-lópez ", ["ana", "maria", "lopez"]),
        ("Straße Ångström", ["strasse", "angstrom"]),
        ("ana ANA", ["ana"]),
        ("—", []),
    ],
)
def test_names_are_whole_tokens_without_case_or_accents(raw: str, tokens: list[str]) -> None:
    assert name_tokens(raw) == tokens


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("ana@example.com", "email"),
        ("+1 555 0142", "phone"),
        ("555-01", None),
        ("Ana Díaz", "name"),
        ("  ", None),
        ("R2D2", "name"),
    ],
)
def test_the_query_kind_follows_what_was_typed(raw: str, kind: str | None) -> None:
    assert query_kind(raw) == kind


def test_hashes_depend_on_the_key_and_the_kind() -> None:
    assert keyed_hash(KEY, "name", "ana") == keyed_hash(KEY, "name", "ana")
    assert keyed_hash(KEY, "name", "ana") != keyed_hash("other" * 8, "name", "ana")
    assert keyed_hash(KEY, "name", "ana") != keyed_hash(KEY, "email", "ana")
    assert "ana" not in keyed_hash(KEY, "name", "ana")


def test_what_an_agent_types_hashes_like_what_meta_sent() -> None:
    order = {
        "id": "1",
        "buyer_details": {"name": "José Núñez", "email": "Jose@Example.com", "phone_number": "+1 555 0142"},
        "shipping_address": {"name": "Marta Núñez", "street1": "1 Main St", "city": "Austin"},
    }
    hashes = order_hashes(KEY, order)
    typed: list[tuple[Kind, str]] = [
        ("email", " jose@example.COM"),
        ("phone", "1-555-0142"),
        ("name", "jose NUNEZ"),
        ("name", "marta"),
    ]
    for kind, text in typed:
        assert query_kind(text) == kind
        assert {(kind, h) for h in query_hashes(KEY, kind, text)} <= hashes
    assert len(hashes) == 5  # email, phone, jose, nunez, marta (nunez once)


def test_a_read_without_buyer_fields_has_no_hashes() -> None:
    assert order_hashes(KEY, {"id": "1", "merchant_order_id": "SO-1"}) == set()


def test_the_key_check_tells_keys_apart_and_reveals_neither() -> None:
    first, second = key_check("a-search-key-of-some-length"), key_check("another-search-key-of-length")
    assert first != second
    assert first == key_check("a-search-key-of-some-length")
    assert len(first) == 16
    assert "search" not in first
