"""Graph's ``fields`` parameter: parsing ``a,b{c,d},e.limit(5){f}`` and rendering nodes with it.

Graph returns a node's default fields unless ``fields`` is given; then exactly the named fields come back, plus
``id``, which is always returned. Fields holding objects can be narrowed (``shipping_address{city}``), edges are
expanded inline as ``{data, paging}`` with their own default fields and page size (``items.limit(50){id}``), and a
field the node type does not have is an error, not silently nothing, which is what catches a client's typo.
Fields without a value (no merchant reference yet) are left out, as Graph does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class FieldError(ValueError):
    """A malformed ``fields`` value or a field the node type does not have (Graph: code 100)."""


@dataclass(frozen=True)
class Field:
    name: str
    sub: tuple[Field, ...] | None = None
    limit: int | None = None


@dataclass(frozen=True)
class NodeType:
    """What Graph knows about one kind of node: its name (for errors), default and available fields."""

    name: str
    defaults: tuple[str, ...]
    extra: tuple[str, ...] = ()
    edges: Mapping[str, NodeType] = field(default_factory=dict)  # paged, like /{order-id}/items
    lists: Mapping[str, NodeType] = field(default_factory=dict)  # nested ``{data: [...]}`` without paging

    def knows(self, name: str) -> bool:
        return name in self.defaults or name in self.extra or name in self.edges or name in self.lists


_LINE = NodeType("CommerceOrderLine", ("id", "retailer_id", "product_id", "quantity", "tax", "refund_subtotal"))
ITEM = NodeType(
    "CommerceOrderItem",
    ("id", "retailer_id", "product_id", "quantity", "price_per_unit"),
    ("product_name", "selected_shipping_option", "status", "tax_details", "customization"),
)
# ``created`` on shipments, cancellations and refunds is the sandbox's own (Meta's reference lists no time on
# them): a default field, so a client that never asks for it reads Meta and the sandbox alike.
SHIPMENT = NodeType(
    "CommerceOrderShipment",
    ("id", "items", "tracking_info", "created"),
    ("external_shipment_id",),
    lists={"items": _LINE},
)
CANCELLATION = NodeType(
    "CommerceOrderCancellation", ("id", "items", "cancel_reason", "created"), ("restock_items",), lists={"items": _LINE}
)
REFUND = NodeType(
    "CommerceOrderRefund", ("id", "items", "refund_reason", "refund_amount", "created"), lists={"items": _LINE}
)
ORDER_EDGES: Mapping[str, NodeType] = {
    "items": ITEM,
    "shipments": SHIPMENT,
    "cancellations": CANCELLATION,
    "refunds": REFUND,
}
ORDER = NodeType(
    "CommerceOrder",
    ("id", "order_status", "created", "last_updated"),
    (
        "channel",
        "ship_by_date",
        "merchant_order_id",
        "buyer_details",
        "shipping_address",
        "selected_shipping_option",
        "estimated_payment_details",
        "is_test_order",
    ),
    edges=ORDER_EDGES,
)
PAGE = NodeType("Page", ("id", "name"), ("commerce_merchant_settings", "category"))

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_MODIFIER = re.compile(r"\.\s*([A-Za-z_]+)\s*\(([^()]*)\)\s*")

EdgeRenderer = Callable[[str, str, NodeType, list[dict[str, Any]], Field], dict[str, Any]]


def parse_fields(value: str | list[Any] | None) -> tuple[Field, ...] | None:
    """``None`` when no selection was given (defaults apply); a list (JSON body) is joined with commas."""
    if value is None:
        return None
    text = ",".join(str(v) for v in value) if isinstance(value, list) else value
    fields, pos = _parse(text, 0)
    if pos != len(text):
        raise FieldError(f"(#100) Syntax error in fields at character {pos}: {text!r}")
    return fields or None


def _parse(text: str, pos: int) -> tuple[tuple[Field, ...], int]:
    fields: list[Field] = []
    while pos < len(text) and text[pos] != "}":
        if text[pos] in ", ":
            pos += 1
            continue
        name = _NAME.match(text, pos)
        if not name:
            raise FieldError(f"(#100) Syntax error in fields at character {pos}: {text!r}")
        pos, limit, sub = name.end(), None, None
        while modifier := _MODIFIER.match(text, pos):
            pos = modifier.end()
            if modifier.group(1) == "limit":
                if not modifier.group(2).strip().isdigit():
                    raise FieldError(f"(#100) limit() takes a number, got {modifier.group(2)!r}")
                limit = int(modifier.group(2))
        if pos < len(text) and text[pos] == "{":
            sub, pos = _parse(text, pos + 1)
            if pos >= len(text) or text[pos] != "}":
                raise FieldError(f"(#100) Syntax error in fields: unbalanced braces in {text!r}")
            pos += 1
        fields.append(Field(name.group(1), sub, limit))
    return tuple(fields), pos


def render(
    node: Mapping[str, Any], kind: NodeType, selection: tuple[Field, ...] | None, edge: EdgeRenderer
) -> dict[str, Any]:
    """The node as Graph returns it for ``selection``; ``edge`` renders a paged edge (it knows the request)."""
    chosen = selection if selection is not None else tuple(Field(name) for name in kind.defaults)
    out: dict[str, Any] = {"id": node["id"]} if "id" in node else {}
    for f in chosen:
        if not kind.knows(f.name):
            raise FieldError(f"(#100) Tried accessing nonexisting field ({f.name}) on node type ({kind.name})")
        value = node.get(f.name)
        if value is None or f.name in out:
            continue
        if f.name in kind.edges:
            out[f.name] = edge(str(node["id"]), f.name, kind.edges[f.name], value, f)
        elif f.name in kind.lists:
            out[f.name] = {"data": [render(v, kind.lists[f.name], f.sub, edge) for v in value]}
        else:
            out[f.name] = narrow(value, f.sub)
    return out


def narrow(value: Any, sub: tuple[Field, ...] | None) -> Any:
    """An object field narrowed to the named keys (recursively); unknown keys are simply absent."""
    if sub is None or not isinstance(value, Mapping):
        return copy.deepcopy(value)
    return {f.name: narrow(value[f.name], f.sub) for f in sub if value.get(f.name) is not None}


def everything(kind: NodeType) -> tuple[Field, ...]:
    """A selection of every field the node type has (the sandbox's full view of a stored object)."""
    names = (*kind.defaults, *kind.extra, *kind.edges, *kind.lists)
    return tuple(Field(name, everything(kind.lists[name]) if name in kind.lists else None) for name in names)


def render_all(node: Mapping[str, Any], kind: NodeType) -> dict[str, Any]:
    """Every field, edges unpaged: what tests assert on (``GraphSandbox.order``)."""

    def whole(owner: str, name: str, child: NodeType, values: list[dict[str, Any]], f: Field) -> dict[str, Any]:
        return {"data": [render_all(v, child) for v in values]}

    return render(node, kind, everything(kind), whole)


def fields_text(selection: tuple[Field, ...] | None) -> str | None:
    """A selection back in ``fields`` syntax, for the ``next`` links of nested edges."""
    if selection is None:
        return None
    parts = []
    for f in selection:
        limit = f".limit({f.limit})" if f.limit is not None else ""
        sub = "{" + (fields_text(f.sub) or "") + "}" if f.sub is not None else ""
        parts.append(f"{f.name}{limit}{sub}")
    return ",".join(parts)
