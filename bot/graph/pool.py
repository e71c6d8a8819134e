"""The HTTP connections of the Graph client: one ``httpx.Client`` per thread, built from settings."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.config import Settings
from bot.per_thread import PerThread


class ThreadClients(PerThread[httpx.Client]):
    """One ``httpx.Client`` per thread, made by ``factory`` on the thread's first request; thread-safe.

    Why not one client shared by every thread: httpcore 1.0.9's pool rescans all its connections on every request
    and release, quadratically (encode/httpcore#1035, unfixed upstream), and can close a connection it has just
    handed to a waiting thread (encode/httpcore#1110). With the work pool's 128 threads sharing one pool, that
    bookkeeping took a third of the bot's CPU in the load benchmark. Each thread makes one call at a time, so its
    own pool stays at one connection.
    """

    def __init__(self, factory: Callable[[], httpx.Client], base_url: str) -> None:
        super().__init__(factory, "the Graph client")
        self.base_url = base_url


def thread_clients(settings: Settings, transport: httpx.BaseTransport | None = None) -> ThreadClients:
    """Production's connections: a keep-alive connection per thread, explicit timeouts, one TLS context shared.

    ``transport`` (tests) replaces the network for every thread's client.
    """
    tls = httpx.create_ssl_context()  # loading the CA bundle once, not once per thread

    def new_client() -> httpx.Client:
        return httpx.Client(
            base_url=settings.fb_graph_url,
            timeout=httpx.Timeout(settings.graph_timeout_seconds),
            verify=tls,
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
            headers={"User-Agent": "orderdesk"},
            transport=transport,
        )

    return ThreadClients(new_client, settings.fb_graph_url)
