"""Paging the sandbox's orders over loopback HTTP: the Graph client against a bare httpx loop.

Both walk the same pages of ``GET /{page-id}/commerce_orders`` (every state, default fields, 25 a page) on one
keep-alive connection, so the difference is what the client adds per page: parameter encoding, envelope checks,
the retry frame and the generator. Goal: the client within 1.2x of the bare loop. Each walk runs several times,
alternating, and the best time of each counts (the sandbox's own work is most of it and varies with load).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.sandbox.graph import GraphSandbox

PAGE = "1122334455"
TOKEN = "sandbox-page-token"
STATES = ["FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED"]


def _bare_walk(http: httpx.Client) -> int:
    """The least a caller can do: GET, read ``data``, follow ``paging.cursors.after`` while ``next`` is present."""
    params = {"state": ",".join(STATES), "limit": "25"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    count = 0
    while True:
        body = http.get(f"/v25.0/{PAGE}/commerce_orders", params=params, headers=headers).raise_for_status().json()
        count += len(body["data"])
        paging = body.get("paging", {})
        if "next" not in paging:
            return count
        params["after"] = paging["cursors"]["after"]


def _client_walk(graph: GraphClient) -> int:
    return sum(1 for _ in graph.iter_orders(state=STATES, limit=25))


def _timed(walk: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    count = walk()
    elapsed = time.perf_counter() - started
    if count != expected:
        raise AssertionError(f"walked {count} orders, expected {expected}")
    return elapsed


def run(quick: bool) -> list[str]:
    orders, rounds = (500, 2) if quick else (10_000, 3)
    sandbox = GraphSandbox(page_id=PAGE, token=TOKEN, orders=orders, seed=7)
    server = sandbox.serve()
    settings = Settings(
        slack_bot_token="xoxb-bench",
        slack_signing_secret="bench",
        fb_page_id=PAGE,
        fb_page_access_token=TOKEN,
        fb_graph_url=server.url,
    )
    try:
        with GraphClient.from_settings(settings) as graph, httpx.Client(base_url=server.url, timeout=10) as http:
            pages_before = len(sandbox.calls())
            _client_walk(graph)  # warm-up: connections, caches
            pages = len(sandbox.calls()) - pages_before
            _bare_walk(http)
            client_times, bare_times = [], []
            for _ in range(rounds):
                client_times.append(_timed(lambda: _client_walk(graph), orders))
                bare_times.append(_timed(lambda: _bare_walk(http), orders))
    finally:
        server.stop()
    client, bare = min(client_times), min(bare_times)
    return [
        f"{orders} orders in {pages} pages over loopback HTTP, best of {rounds}",
        f"bare httpx loop: {bare:.3f}s ({orders / bare:,.0f} orders/s)",
        f"GraphClient:     {client:.3f}s ({orders / client:,.0f} orders/s)",
        f"ratio client/bare: {client / bare:.2f}x (goal <= 1.20x)",
    ]
