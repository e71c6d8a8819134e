"""Meta's carrier codes (the ``tracking_info.carrier`` enum) with their names.

They come from the snapshot in ``bot/data/``, which the Graph sandbox reads too.

The file lists the carriers most shops use first, then ``OTHER`` (any carrier not listed), then the rest by code.
Writes send the code in uppercase and Meta reads it back lowercase, so :func:`carrier` takes either case.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

OTHER = "OTHER"


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str


@cache
def carriers() -> tuple[Carrier, ...]:
    """Every carrier in the file's order: the common ones, then ``OTHER``, then the rest."""
    text = files("bot").joinpath("data/meta-carrier-codes.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    header, *body = rows
    assert header == ["code", "name"], header
    return tuple(Carrier(code.strip(), name.strip()) for code, name in body)


@cache
def common_carriers() -> tuple[Carrier, ...]:
    """The carriers listed before ``OTHER``, and ``OTHER`` itself: what a picker offers before anything is typed."""
    every = carriers()
    cut = next(i for i, c in enumerate(every) if c.code == OTHER)
    return every[: cut + 1]


@cache
def _by_code() -> dict[str, Carrier]:
    return {c.code: c for c in carriers()}


def carrier(code: str) -> Carrier | None:
    """The carrier with this code in either case (``fedex`` as Meta reads it back, ``FEDEX`` as it is written)."""
    return _by_code().get(code.strip().upper())


def carrier_name(code: str) -> str:
    """The carrier's name for people, or the code itself when the snapshot does not know it."""
    found = carrier(code)
    return found.name if found else code


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def search_carriers(query: str, *, limit: int = 100) -> list[Carrier]:
    """Carriers whose name or code contains ``query`` (case- and accent-insensitive), common ones first, names
    starting with the query before the rest; ``OTHER`` is always among them, since any carrier may be shipped with it.

    An empty query gives the common carriers. ``limit`` bounds the answer (Slack shows at most 100 options).
    """
    wanted = _folded(query.strip())
    if not wanted:
        return list(common_carriers())[:limit]
    common = {c.code for c in common_carriers()}

    def rank(c: Carrier) -> tuple[int, int]:
        starts = _folded(c.name).startswith(wanted) or c.code.casefold().startswith(wanted)
        return (0 if c.code in common else 1, 0 if starts else 1)

    hits = [
        c
        for c in carriers()
        if wanted in _folded(c.name) or wanted in c.code.casefold().replace("_", " ") or wanted in c.code.casefold()
    ]
    hits.sort(key=rank)
    other = _by_code()[OTHER]
    if other not in hits:
        hits = [*hits[: limit - 1], other]
    return hits[:limit]
