"""``orderdesk serve``: run the bot over Socket Mode or HTTP, with its background workers, until SIGTERM/SIGINT.

HTTP mode serves the router of :mod:`bot.runtime.http` under waitress (a production-grade threaded server that
also runs in-process for tests and the demo). Both modes return a :class:`~bot.runtime.workers.Running` that owns
the background workers (:mod:`bot.runtime.workers`) and stops everything in order: no new requests, in-flight
requests finished, listener work finished, workers stopped.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import wasyncore

from bot import logs
from bot.actions.runner import CrashPoints
from bot.config import ConfigError, Settings
from bot.runtime.app import create_app
from bot.runtime.health import GraphProbe, health
from bot.runtime.http import EVENTS_PATH, MAX_BODY_BYTES, router
from bot.runtime.later import work_pool
from bot.runtime.services import Services
from bot.runtime.workers import Running, attach_workers
from bot.slack.failures import APP_TOKEN_FIXES, SLACK_CALL_ERRORS, slack_failure

# EVENTS_PATH, MAX_BODY_BYTES and Running are re-exported: callers that start a server use them from here.
__all__ = ["EVENTS_PATH", "MAX_BODY_BYTES", "HttpServer", "Running", "build_server", "connect_socket_mode", "main"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 20.0


class HttpServer(Running):
    """:class:`Running` in HTTP mode: waitress serving the router at :attr:`url` from a background thread."""

    def __init__(self, app: App, services: Services, host: str, port: int, work: Executor | None = None) -> None:
        super().__init__(app, services, self._close_server, work)
        self._probe = GraphProbe(services)
        self._server = waitress.create_server(
            router(SlackRequestHandler(app, path=EVENTS_PATH), self.health, services.settings.slack_signing_secret),
            host=host,
            port=port,
            threads=services.settings.http_workers,
            # waitress refuses connections past 100 by default; Slack opens one per request in flight.
            connection_limit=1000,
            backlog=1024,
            ident="orderdesk",
            clear_untrusted_proxy_headers=True,
            # waitress refuses a body of this size or more with 413, on its Content-Length before reading it or
            # once a chunked body reaches it; its default lets one request hold 1 GiB.
            max_request_body_size=MAX_BODY_BYTES + 1,
        )
        self.url = f"http://{host}:{self._server.effective_port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="orderdesk-http", daemon=True)
        self._thread.start()

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``'s status and body (:func:`bot.runtime.health.health`)."""
        return health(self.services, self._probe, self.statuses())

    def _serve(self) -> None:
        """waitress's event loop, run here rather than by ``server.run()`` so that stopping happens in this thread:
        the socket map is not thread-safe, and no other thread then needs to touch it."""
        server = self._server
        while not self._stopping.is_set():
            self._poll()
        wasyncore.dispatcher.close(server)  # stop accepting (BaseWSGIServer.close would also close the trigger)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while _busy(server) and time.monotonic() < deadline:
            self._poll()
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    def _poll(self) -> None:
        # A short timeout only bounds how soon a stop is noticed: activity wakes the loop at once.
        wasyncore.loop(timeout=0.05, map=self._server._map, use_poll=self._server.adj.asyncore_use_poll, count=1)

    def _close_server(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._probe.close()


def _busy(server: Any) -> bool:
    """True while a connection has a request being handled or a response not yet sent (waitress's channels)."""
    return any(ch.requests or ch.total_outbufs_len for ch in list(server.active_channels.values()))


def build_server(
    settings: Settings, services: Services, host: str = "127.0.0.1", port: int = 0, *, app: App | None = None
) -> HttpServer:
    """Serve the bot over HTTP on ``host:port`` (port 0: any free port; read :attr:`HttpServer.url`).

    ``app`` replaces the orderdesk app with another Bolt app in the same server setup (the ack benchmark's
    bare-Bolt baseline).
    """
    if app is not None:
        return HttpServer(app, services, host, port)
    work = work_pool(settings)
    server = HttpServer(create_app(settings, services=services, work=work), services, host, port, work)
    server.add_status("work", work.status)
    attach_workers(server)
    return server


def connect_socket_mode(settings: Settings, services: Services) -> Running:
    """Connect to Slack over Socket Mode (no public URL); the handler's own threads deliver the envelopes.

    ``apps.connections.open`` (the app token's WebSocket URL) is called here first, not inside the handler, so that
    a refused token or an unreachable Slack raises its own error (:data:`bot.slack.failures.SLACK_CALL_ERRORS`)
    before any handler thread starts, for :func:`main` to put in words. Later reconnections are the handler's.
    """
    app_token = settings.slack_app_token
    if not app_token:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")  # main() refuses before it gets here
    work = work_pool(settings)
    try:
        app = create_app(settings, services=services, work=work)
        client = app.client
        # The app's client, with a logger that stays silent: slack_sdk logs each failed attempt at ERROR, and
        # main() says what failed once, in words.
        opener = WebClient(
            base_url=client.base_url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            retry_handlers=client.retry_handlers,
            logger=logging.Logger("orderdesk.socket_mode.open", logging.CRITICAL + 1),
        )
        wss_url = str(opener.apps_connections_open(app_token=app_token)["url"])
    except BaseException:
        work.shutdown(wait=False)
        raise
    handler = SocketModeHandler(app, app_token=app_token)
    handler.client.wss_uri = wss_url  # the handler connects to it rather than asking Slack again
    handler.connect()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
    running = Running(app, services, handler.close, work)
    running.add_status("work", work.status)
    attach_workers(running)
    return running


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    def port(text: str) -> int:
        """A TCP port, or 0 for any free one (the log line says which), refused by argparse as a usage error
        (exit 2) before anything starts, rather than a traceback from the server (99999) or a silently odd
        listening port (-1)."""
        number = int(text)  # argparse words a ValueError as "invalid port value: 'x'"
        if not 0 <= number <= 65535:
            raise argparse.ArgumentTypeError(f"{number} is not a port: use 1-65535, or 0 for any free port")
        return number

    parser = argparse.ArgumentParser(prog="orderdesk serve", description="Run the orderdesk Slack bot.")
    parser.add_argument(
        "--mode", choices=("socket", "http"), help="socket (the default when SLACK_APP_TOKEN is set) or http"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP mode: address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=port,
        default=3000,
        help="HTTP mode: port to listen on, 1-65535, or 0 for any free port (default 3000)",
    )
    # Test-only (tests/runtime/test_crash.py): a directory whose flag files stop an acknowledgement at a named point.
    parser.add_argument("--crash-points", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = _parse_args(argv)  # first, so that --help works before anything is configured
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    mode = args.mode or ("socket" if settings.socket_mode_available else "http")
    if mode == "socket" and not settings.socket_mode_available:
        print("orderdesk serve: --mode socket needs SLACK_APP_TOKEN (an xapp- token)", file=sys.stderr)
        return 2
    logs.configure_logging(
        settings.log_level,
        secrets=[settings.slack_bot_token, settings.slack_signing_secret, settings.fb_page_access_token]
        + ([settings.slack_app_token] if settings.slack_app_token else []),
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with Services.open(settings, crash_points=CrashPoints(args.crash_points)) as services:
        running: Running
        if mode == "http":
            running = server = build_server(settings, services, args.host, args.port)
            log.info("serving Slack requests at %s%s", server.url, EVENTS_PATH)
        else:
            try:
                running = connect_socket_mode(settings, services)
            except SLACK_CALL_ERRORS as error:
                # The words `orderdesk doctor` prints for the same failure, not the library's traceback.
                detail, fix = slack_failure(error, settings, APP_TOKEN_FIXES)
                print(f"orderdesk serve: Socket Mode cannot connect: {detail}\n  fix: {fix}", file=sys.stderr)
                return 2
            log.info("connected to Slack over Socket Mode")
        with running:
            stopping.wait()
            log.info("stopping: finishing requests in flight")
    log.info("stopped")
    return 0
