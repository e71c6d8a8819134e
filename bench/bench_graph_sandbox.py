"""How fast the Graph sandbox seeds and serves: the floor under every Graph benchmark that runs against it.

Pages every order with a bare httpx loop, in-process and over loopback HTTP, so a client benchmark can tell its
own cost from the sandbox's.
"""

from __future__ import annotations

import time

import httpx

from bot.sandbox.graph import SANDBOX_TOKEN, GraphSandbox

STATES = "FB_PROCESSING,CREATED,IN_PROGRESS,COMPLETED"


def _page_all(client: httpx.Client, page_id: str) -> tuple[int, int]:
    """(orders, requests) following cursors while ``next`` exists."""
    params = {"state": STATES, "fields": "id,order_status,merchant_order_id,last_updated"}
    orders = requests = 0
    while True:
        body = client.get(f"/v25.0/{page_id}/commerce_orders", params=params).json()
        orders, requests = orders + len(body["data"]), requests + 1
        if "next" not in body.get("paging", {}):
            return orders, requests
        params["after"] = body["paging"]["cursors"]["after"]


def run(quick: bool) -> list[str]:
    count = 1_000 if quick else 10_000
    started = time.perf_counter()
    sandbox = GraphSandbox(orders=count, now=1_770_000_000)
    lines = [f"seed {count} orders: {time.perf_counter() - started:.2f}s"]
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    with httpx.Client(transport=sandbox.transport(), base_url="http://graph.test", headers=headers) as client:
        started = time.perf_counter()
        orders, requests = _page_all(client, sandbox.page_id)
        elapsed = time.perf_counter() - started
    lines.append(f"in-process: {orders} orders in {requests} pages, {elapsed:.2f}s ({requests / elapsed:.0f} pages/s)")
    server = sandbox.serve()
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            started = time.perf_counter()
            orders, requests = _page_all(client, sandbox.page_id)
            elapsed = time.perf_counter() - started
    finally:
        server.stop()
    lines.append(f"loopback: {orders} orders in {requests} pages, {elapsed:.2f}s ({requests / elapsed:.0f} pages/s)")
    return lines
