"""Ack latency of ``/order help`` over loopback HTTP: orderdesk's app next to a bare Bolt app, same server.

Both apps run under the same waitress router (``build_server``), the same settings and the same Slack sandbox;
the bare app is Bolt as its documentation shows it (the listener runs in Bolt's pool while the request thread
polls for the ack every 10 ms) with one listener that acks and responds with the same blocks. The difference is
what orderdesk's frame costs or saves on the ack path: the services middleware, the log context, the listener run
in the request thread and the hand-off to the work pool. Signed requests are sent one after another by
:class:`SlackRequester`; the latency is until the HTTP answer (the ack), not until the ephemeral answer.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from slack_bolt import App

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.runtime.app import web_client
from bot.runtime.serve import EVENTS_PATH, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import SlackRequester, SlackSandbox
from bot.slack.views.blocks import help_blocks
from bot.storage.sqlite.store import Store

WARMUP = 10


def bare_app(settings: Settings) -> App:
    app = App(
        signing_secret=settings.slack_signing_secret, client=web_client(settings), token_verification_enabled=False
    )

    @app.command("/order")
    def order(ack: Any, respond: Any) -> None:
        ack()
        respond(blocks=help_blocks(), text="How to use /order", response_type="ephemeral")

    return app


def measure(settings: Settings, services: Services, sandbox: SlackSandbox, app: App | None, n: int) -> list[float]:
    """Ack latencies in milliseconds of ``n`` sequential signed ``/order help`` requests."""
    with (
        build_server(settings, services, app=app) as server,
        SlackRequester(sandbox, server.url + EVENTS_PATH, settings.slack_signing_secret) as slack,
    ):
        for _ in range(WARMUP):
            slack.slash_command("help")
        latencies = []
        for _ in range(n):
            sent = slack.slash_command("help")
            assert sent.response.status_code == 200, sent.response.text
            latencies.append(sent.elapsed * 1000)
        sandbox.wait_for(lambda: len(sandbox.calls("response_url")) >= n + WARMUP, timeout=60)
    sandbox.reset()
    return latencies


def _summary(name: str, latencies: list[float]) -> tuple[str, float]:
    median = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    return f"{name:<10} median {median:6.2f} ms   p99 {p99:6.2f} ms   ({len(latencies)} requests)", median


def run(quick: bool) -> list[str]:
    n = 50 if quick else 500
    sandbox = SlackSandbox()
    slack_server = sandbox.serve()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                slack_bot_token=sandbox.bot_token,
                slack_signing_secret="bench-signing-secret",
                slack_api_url=sandbox.api_url,
                fb_page_id="1122334455",
                fb_page_access_token="sandbox-page-token",
                db_path=str(Path(tmp) / "bench.db"),
            )
            graph = GraphClient.from_settings(settings, transport=GraphSandbox(orders=1).transport())
            with Services(settings=settings, graph=graph, store=Store(settings.db_path)) as services:
                bare = measure(settings, services, sandbox, bare_app(settings), n)
                ours = measure(settings, services, sandbox, None, n)
    finally:
        slack_server.stop()
    bare_line, bare_median = _summary("bare Bolt", bare)
    ours_line, ours_median = _summary("orderdesk", ours)
    # Bolt's listener runner polls for the ack every 10 ms (slack_bolt/listener/thread_runner.py): both medians
    # sit just above that floor.
    return [bare_line, ours_line, f"ratio (orderdesk / bare, median) {ours_median / bare_median:.2f}"]
