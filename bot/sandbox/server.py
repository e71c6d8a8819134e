"""A small threaded HTTP server for the sandboxes' WSGI apps, on 127.0.0.1.

The sandboxes need one thing production servers do not offer: dropping a connection on purpose *after* the
request was processed (Meta committed the acknowledgement, the client never hears back). A WSGI app signals
that by raising :class:`DropConnection`; this server then closes the socket without writing a response. In
process, :class:`DroppingWSGITransport` turns the same exception into ``httpx.RemoteProtocolError``, which is
what a client sees when a real server hangs up.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DropConnection(Exception):
    """Raised by a sandbox app to close the client's connection without any response."""


class _Handler(ServerHandler):
    def handle_error(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, DropConnection):
            with contextlib.suppress(OSError):
                self.request_handler.connection.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
            self.status = "000 dropped"
            self.headers_sent = True  # nothing more may be written
            return
        super().handle_error()

    def write(self, data: bytes) -> None:
        if self.status == "000 dropped":
            return
        super().write(data)

    def finish_response(self) -> None:
        if self.status == "000 dropped":
            return
        super().finish_response()


class _RequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle(self) -> None:
        # Same as WSGIRequestHandler.handle, with our ServerHandler that knows DropConnection.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)  # type: ignore[arg-type]
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


class DroppingWSGITransport(httpx.WSGITransport):
    """``httpx.WSGITransport`` that reports :class:`DropConnection` the way a real dropped socket looks."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except DropConnection as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from exc


class ServerThread:
    """A WSGI app served on a real port in a background thread; a context manager that stops it."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _ThreadingWSGIServer((host, port), _RequestHandler)
        self._server.set_app(app)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:8801``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving; calling it on a started server is a no-op (``with sandbox.serve():`` works)."""
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread (the ``orderdesk sandbox`` command)."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
