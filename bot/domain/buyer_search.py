"""How a buyer's email, phone or name becomes something orderdesk can search for without keeping it.

The index stores keyed hashes (HMAC-SHA256 with ``ORDERDESK_SEARCH_KEY``) of normalised values, never the values:
a stolen database without the key cannot be matched against a list of emails, and one query's hash finds the
orders whose buyer gave the same value. Normalising first makes the hash of what an agent types equal the hash of
what Meta sent: emails as Meta gives them (lower-cased, trimmed: a real address or Meta's relay address), phones by
their digits, names by whole tokens without case or accents, so "José Núñez" finds "jose nunez".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any, Literal

Kind = Literal["email", "phone", "name"]

# Fewer digits than this is not a phone number anyone can search by (and would match too many orders).
_MIN_PHONE_DIGITS = 6
_TOKEN = re.compile(r"[^\W_]+")


def normal_email(raw: str) -> str:
    """The email as Meta gives it: trimmed and lower-cased."""
    return raw.strip().lower()


def normal_phone(raw: str) -> str:
    """The phone's digits only: "+1 (555) 010-42" and "1555 01042" are one number."""
    return "".join(ch for ch in raw if ch.isdigit())


def name_tokens(raw: str) -> list[str]:
    """The name's whole words, casefolded and without accents (NFKD, combining marks dropped), each once, in
    order."""
    decomposed = unicodedata.normalize("NFKD", raw.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return list(dict.fromkeys(_TOKEN.findall(plain)))


def query_kind(raw: str) -> Kind | None:
    """What an agent typed: an email (has an @), a phone (mostly digits), else a name; None when it is nothing
    searchable."""
    text = raw.strip()
    if "@" in text:
        return "email" if len(normal_email(text)) > 2 else None
    digits = normal_phone(text)
    if digits and not re.search(r"[^\d\s+().\-/]", text):
        return "phone" if len(digits) >= _MIN_PHONE_DIGITS else None
    return "name" if name_tokens(text) else None


def keyed_hash(key: str, kind: Kind, value: str) -> str:
    """HMAC-SHA256 of an already normalised value; the kind is part of the message so an email and a name token
    that happen to be the same text never match each other."""
    return hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def query_hashes(key: str, kind: Kind, raw: str) -> list[str]:
    """The hashes a search looks for: one for an email or phone, one per name token (all must match)."""
    if kind == "email":
        return [keyed_hash(key, kind, normal_email(raw))]
    if kind == "phone":
        return [keyed_hash(key, kind, normal_phone(raw))]
    return [keyed_hash(key, kind, token) for token in name_tokens(raw)]


def _buyer_values(order: Mapping[str, Any]) -> Iterator[tuple[Kind, str]]:
    buyer = order.get("buyer_details")
    address = order.get("shipping_address")
    for part in (buyer, address):
        if not isinstance(part, Mapping):
            continue
        name = part.get("name")
        if isinstance(name, str):
            for token in name_tokens(name):
                yield "name", token
    if isinstance(buyer, Mapping):
        email = buyer.get("email")
        if isinstance(email, str) and normal_email(email):
            yield "email", normal_email(email)
        phone = buyer.get("phone_number") or buyer.get("phone")
        if isinstance(phone, str) and len(normal_phone(phone)) >= _MIN_PHONE_DIGITS:
            yield "phone", normal_phone(phone)


def order_hashes(key: str, order: Mapping[str, Any]) -> set[tuple[Kind, str]]:
    """The ``(kind, hash)`` pairs that find this Graph order: its buyer's email, phone and name tokens, and the
    recipient's name tokens. Empty for a read without buyer fields (the caller then keeps what it had)."""
    return {(kind, keyed_hash(key, kind, value)) for kind, value in _buyer_values(order)}


def key_check(key: str) -> str:
    """A short fingerprint of the search key (an HMAC of a fixed text, which reveals nothing of the key), kept with
    the index so that a search notices when the hashes were made with another key."""
    return hmac.new(key.encode(), b"orderdesk buyer index key check", hashlib.sha256).hexdigest()[:16]
