"""How one request to Graph is written: object ids as path segments, parameters as text.

Apart from the client so that the encoding rules (what a stored ledger request replays byte for byte) sit in one
short place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

_ID = re.compile(r"[A-Za-z0-9_-]+")


def segment(object_id: str) -> str:
    """A Graph id as a path segment; refusing anything else keeps user input from reaching another endpoint."""
    if not _ID.fullmatch(object_id):
        raise ValueError(f"not a Graph object id: {object_id!r}")
    return object_id


def encode(value: object, method: str) -> str:
    """One Graph parameter as text: GET lists comma-separated, nested values JSON with a stable key order."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if method == "GET" and isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
