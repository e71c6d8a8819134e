"""``orderdesk serve``: run the bot over Socket Mode or HTTP, with its background workers, until SIGTERM/SIGINT.

HTTP mode serves a small WSGI router under waitress (a production-grade threaded server that also runs in-process
for tests and the demo): ``POST /slack/events`` goes to Bolt, ``GET /healthz`` reports status, the rest is 404.
Both modes return a :class:`Running` that owns the background workers (the notification poller, the ledger
sweeper) and stops everything in order: no new requests, in-flight requests finished, listener work finished,
workers stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import wasyncore

from bot import logs
from bot.actions.runner import CrashPoints
from bot.cli.doctor import APP_TOKEN_FIXES, SLACK_CALL_ERRORS, slack_failure
from bot.config import ConfigError, Settings
from bot.graph.client import GraphError
from bot.notify.poller import Notifier
from bot.runtime.app import create_app
from bot.runtime.later import work_pool
from bot.runtime.services import Services

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
GRAPH_PROBE_MAX_AGE_SECONDS = 30.0
STOP_GRACE_SECONDS = 20.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Status = Callable[[], Mapping[str, Any]]


class Worker:
    """Calls ``fn`` now and then every ``interval_seconds`` in its own thread until stopped.

    An exception is logged and the worker carries on at the next interval: one bad poll must not end the poller.
    """

    def __init__(self, name: str, fn: Callable[[], object], interval_seconds: float) -> None:
        self.name = name
        self._fn = fn
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orderdesk-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._fn()
            except Exception:
                log.exception("background worker %s failed; retrying in %ss", self.name, self._interval)
            self._stopping.wait(self._interval)

    def stop(self) -> None:
        """Lets a run in progress finish (it may be mid-transaction), then ends the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()


class GraphProbe:
    """Whether Meta's Graph API answers, for ``/healthz``, without making the health check wait for Meta.

    A check older than ``max_age`` starts a fresh one in the background and reports the last result meanwhile
    (``unknown`` before the first finishes, which keeps ``/healthz`` at 503: ready only once Meta was asked). The
    Graph API is only probed when someone asks, so tests that count Graph requests see none they did not cause,
    unless they call ``/healthz``.
    """

    def __init__(self, services: Services, max_age: float = GRAPH_PROBE_MAX_AGE_SECONDS) -> None:
        self._services = services
        self._max_age = max_age
        self._state = "unknown"
        self._checked_at = -max_age
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderdesk-graph-probe")

    def state(self) -> str:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._max_age:
                self._checked_at = time.monotonic()
                self._executor.submit(self._check)
            return self._state

    def _check(self) -> None:
        try:
            self._services.graph.get_page()
            state = "reachable"
        except GraphError as exc:
            # Meta answered with an error (a bad token, say): reachable; `orderdesk doctor` explains the rest.
            state = "unreachable" if exc.is_transient else "reachable"
        except Exception:
            # Anything else must still end the "unknown" that keeps /healthz at 503.
            log.exception("the Graph probe failed")
            state = "unreachable"
        with self._lock:
            self._state = state

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class Running:
    """A started bot: background workers, health sections, and an ordered :meth:`stop`."""

    def __init__(
        self, app: App, services: Services, close_frontend: Callable[[], None], work: Executor | None = None
    ) -> None:
        self.app = app
        self.services = services
        self._close_frontend = close_frontend
        self.work = work  # the listeners' work pool (None for a bare Bolt app): stopped with the bot
        self._workers: list[Worker] = []
        self._statuses: dict[str, Status] = {}
        self._stopped = False

    def add_worker(self, name: str, fn: Callable[[], object], interval_seconds: float) -> None:
        """Run ``fn`` now and every ``interval_seconds`` until :meth:`stop` (e.g. the poller, the sweeper)."""
        worker = Worker(name, fn, interval_seconds)
        self._workers.append(worker)
        worker.start()

    def add_status(self, name: str, fn: Status) -> None:
        """Add a section to ``/healthz`` (e.g. ``poller``: last poll, watermark, queue length, last error)."""
        self._statuses[name] = fn

    def statuses(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        for name, fn in self._statuses.items():
            try:
                sections[name] = dict(fn())
            except Exception:
                log.exception("health section %s failed", name)
                sections[name] = {"error": "status unavailable"}
        return sections

    def stop(self) -> None:
        """Stop taking requests, finish those in flight and the listener work they started, then the workers.

        The services stay open: whoever opened them closes them, after this returns.
        """
        if self._stopped:
            return
        self._stopped = True
        self._close_frontend()
        if self.work is not None:
            self.work.shutdown(wait=True)
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
        """``/healthz``: 503 while the bot cannot work (its database gone or unreadable) or does not know yet
        whether Meta answers (before the first Graph probe has finished); every problem said in words.

        Meta being down is reported (``ok: false``, 200), not a reason to restart us: a restart would not fix it.
        """
        database_problem = self.services.store.health_problem()
        graph = self._probe.state()
        problems = [database_problem] if database_problem else []
        if graph == "unknown":
            problems.append("checking whether Meta's Graph API answers: no answer yet")
        elif graph == "unreachable":
            problems.append("Meta's Graph API does not answer")
        body: dict[str, Any] = {
            "ok": not problems,
            "version": version("orderdesk"),
            "database": database_problem is None,
            "graph": graph,
            **self.statuses(),
        }
        if problems:
            body["problems"] = problems
        return (503 if database_problem or graph == "unknown" else 200), body

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


def router(bolt: WSGIApp, health: Callable[[], tuple[int, dict[str, Any]]], signing_secret: str) -> WSGIApp:
    """``POST /slack/events`` → Bolt, ``GET``/``HEAD /healthz`` → JSON status, anything else → 404 (405 for a
    wrong method on a known path). ``HEAD`` gets the headers ``GET`` would, and no body.

    Slack's requests pass three checks here before Bolt sees them, because Bolt parses a body before it verifies
    the signature, logs a refused request's whole body (buyer details, response URLs) and trusts the body's shape:
    a body over :data:`MAX_BODY_BYTES` is refused with 413 without being read past the cap, an unsigned one with
    401 and one warning line (path, reason, size; never the body), and a signed one that is not a form or JSON
    object as Slack sends them with 400.
    """

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        logs.start_request()  # this server thread's previous request must not lend its fields to this one
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == EVENTS_PATH and method == "POST":
            return slack_events(environ, start_response)
        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            status, body = health()
            answer = _respond(start_response, status, json.dumps(body), "application/json")
        elif path in ALLOWED_METHODS:
            answer = _respond(
                start_response, 405, "Method Not Allowed", "text/plain", [("Allow", ALLOWED_METHODS[path])]
            )
        else:
            answer = _respond(start_response, 404, "Not Found", "text/plain")
        # A body after a HEAD answer would be read as the start of the next response on a kept-alive connection.
        return [] if method == "HEAD" else answer

    def slack_events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = _read_capped(environ, MAX_BODY_BYTES)
        if raw is None:
            _refused(413, "the body is over the limit", environ)
            return _respond(start_response, 413, f"Request body over {MAX_BODY_BYTES} bytes", "text/plain")
        unsigned = signature_problem(
            raw,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
            signing_secret,
            time.time(),
        )
        if unsigned:
            _refused(401, unsigned, environ, len(raw))
            return _respond(start_response, 401, "Invalid request signature", "text/plain")
        malformed = body_problem(raw, environ.get("CONTENT_TYPE", ""))
        if malformed:
            _refused(400, malformed, environ, len(raw))
            return _respond(start_response, 400, f"Bad Request: {malformed}", "text/plain")
        checked = {**environ, "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}
        try:
            return bolt(checked, start_response)
        except Exception as error:
            # Bolt trusts the shape of what it parsed (a view without "type", "actions" that is not a list) and
            # raises; that is a malformed request, not our failure. The traceback only at DEBUG: it is noise.
            _refused(400, f"Bolt could not handle it ({type(error).__name__})", environ, len(raw))
            log.debug("Bolt's failure on a malformed request", exc_info=True)
            return _respond(start_response, 400, "Bad Request", "text/plain")

    return route


MAX_BODY_BYTES = 1024 * 1024
"""The largest request body taken. Slack's are a few KiB (a view submission with every input filled stays far
below): this only bounds what one request can make the bot hold in memory."""

SIGNATURE_MAX_AGE_SECONDS = 300  # Slack's own rule: a timestamp more than 5 minutes off is a replay
ALLOWED_METHODS = {EVENTS_PATH: "POST", HEALTH_PATH: "GET, HEAD"}
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def _read_capped(environ: Mapping[str, Any], cap: int) -> bytes | None:
    """The request body, or None when it is longer than ``cap``: refused on its declared length without reading
    it, and otherwise (no length, or a lying one) read no further than one byte past the cap.

    Under waitress this repeats its own ``max_request_body_size`` check (it refuses first); the router keeps it so
    that it is safe under any WSGI server.
    """
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared.isdigit() and int(declared) > cap:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    want = int(declared) if declared.isdigit() else cap + 1
    chunks, have = [], 0
    while have < min(want, cap + 1):
        chunk = stream.read(min(want, cap + 1) - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return None if have > cap else b"".join(chunks)


def signature_problem(
    body: bytes, timestamp: str | None, signature: str | None, signing_secret: str, now: float
) -> str | None:
    """Why a request is not signed by Slack (in words for the log), or None when it is.

    Slack's v0 scheme: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the app's signing secret.
    """
    if not timestamp or not signature:
        return "no Slack signature"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "the signature timestamp is not a number"
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return "the signature timestamp is more than 5 minutes off"
    expected = hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    # WSGI header values are latin-1 strings: any byte a client sent survives the round trip.
    if not hmac.compare_digest(f"v0={expected.hexdigest()}".encode(), signature.encode("latin-1")):
        return "the signature does not match"
    return None


def body_problem(raw: bytes, content_type: str) -> str | None:
    """Why a signed body is not one Bolt can take (in words), or None.

    Slack sends forms (slash commands; interactivity as one ``payload`` field of JSON) and JSON (the Events API).
    Bolt parses a body that starts with ``{`` as JSON whatever its type and a form's ``payload`` field as JSON:
    both must then be a JSON object.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in {FORM, JSON}:
        return f"the body is neither a form nor JSON (Content-Type {media_type or 'missing'})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if media_type == JSON or text.startswith("{"):
        return _json_object_problem(text, "the body")
    payload = parse_qs(text, keep_blank_values=True).get("payload")
    if payload is None:
        return None
    return _json_object_problem(payload[-1], "the payload field") or _interactive_problem(json.loads(payload[-1]))


def _json_object_problem(text: str, what: str) -> str | None:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON"
    return None if isinstance(parsed, dict) else f"{what} is JSON but not an object"


def _interactive_problem(payload: Mapping[str, Any]) -> str | None:
    """What Bolt's listener matching would index into without checking, in the shape Slack always sends it:
    a string ``type``; ``actions`` a list of objects with a string ``action_id``; ``view`` an object with a string
    ``callback_id``; ``user`` an object. Anything else is not from Slack and never reaches Bolt."""
    if not isinstance(payload.get("type"), str):
        return "the payload has no type"
    actions = payload.get("actions", [])
    if not isinstance(actions, list) or not all(
        isinstance(action, dict) and isinstance(action.get("action_id"), str) for action in actions
    ):
        return "the payload's actions are not a list of actions with ids"
    view = payload.get("view", {})
    if not isinstance(view, dict) or ("callback_id" in view and not isinstance(view["callback_id"], str)):
        return "the payload's view is not an object with a callback id"
    if not isinstance(payload.get("user", {}), dict):
        return "the payload's user is not an object"
    return None


def _refused(status: int, reason: str, environ: Mapping[str, Any], size: int | None = None) -> None:
    """One warning line per refused request, without its body (it may hold buyer details or response URLs)."""
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    shown = str(size) if size is not None else declared if declared.isdigit() else f"over {MAX_BODY_BYTES}"
    log.warning("refused a request with %s: %s (path %s, %s bytes)", status, reason, environ.get("PATH_INFO"), shown)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    503: "Service Unavailable",
}


def _respond(
    start_response: Callable[..., Any],
    status: int,
    body: str,
    content_type: str,
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    data = body.encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


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
    a refused token or an unreachable Slack raises its own error (:data:`bot.cli.doctor.SLACK_CALL_ERRORS`) before any
    handler thread starts, for :func:`main` to put in words. Later reconnections are the handler's.
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


def attach_notifier(running: Running) -> Notifier | None:
    """Run the poller in ``orderdesk serve`` (when ``ORDERDESK_NOTIFY_CHANNEL`` is set) and report it in /healthz."""
    services = running.services
    settings = services.settings
    if not settings.notify_channel:
        return None
    if services.publisher is None:
        raise ValueError("the poller needs the services' publisher to announce into Slack")
    notifier = Notifier(settings, services.graph, services.store, services.publisher)
    running.add_status("poller", notifier.status)
    running.add_worker("poller", notifier.poll_in_service, settings.poll_seconds)
    return notifier


def attach_workers(running: Running) -> None:
    """The background work of every way of running the bot (serve in both modes, the demo): one place, so none
    of them can forget the sweeper or the poller."""
    attach_notifier(running)  # the new-order poller, when ORDERDESK_NOTIFY_CHANNEL is set
    acks = running.services.acks
    if acks is not None:  # finishes acknowledgements a crash left pending: now, then every sweep_seconds
        running.add_worker("ack-sweeper", acks.sweep, running.services.settings.sweep_seconds)


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
    # Test-only (tests/test_crash.py): a directory whose flag files stop an acknowledgement at a named point.
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
