"""A small threaded HTTP server for the sandboxes' WSGI apps, on 127.0.0.1.

The sandboxes need one thing production servers do not offer: dropping a connection on purpose *after* the
request was processed (Meta committed the acknowledgement, the client never hears back). A WSGI app signals
that by raising :class:`DropConnection`; this server then closes the socket without writing a response. In
process, :class:`DroppingWSGITransport` turns the same exception into ``httpx.RemoteProtocolError``, which is
what a client sees when a real server hangs up.
"""

from __future__ import annotations

import contextlib
import io
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

IDLE_SECONDS = 30.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


STREAM_BODIES_ABOVE = 1024 * 1024  # bytes: smaller bodies are read whole before the app runs


class DropConnection(Exception):
    """Raised by a sandbox app to close the client's connection without any response."""


class _Handler(ServerHandler):
    reusable = False  # set at close: whether the connection may carry another request

    def close(self) -> None:
        # BaseHandler.close forgets status and headers, so decide here whether the client can tell where the
        # body ended (Content-Length) and the connection can stay open.
        headers = getattr(self, "headers", None)  # BaseHandler's attribute, absent from typeshed
        self.reusable = self.status != "000 dropped" and headers is not None and "Content-Length" in headers
        super().close()

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
    """One client connection: requests are served one after another while the client keeps it open.

    HTTP/1.1 keep-alive, as Meta and Slack offer: without it every request of a pooled client (httpx) pays for a
    new connection, which inflates the benchmarks' figures and is not what production sees. The body is read
    before the app runs, so an app that ignores it cannot leave bytes behind that would corrupt the next request.
    """

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # an idle kept-alive connection is closed, and its thread ends
    # wsgiref writes the headers and the body in separate sends: on a kept-alive connection, Nagle's algorithm
    # holds the body back until the client's delayed ACK of the headers, 40 ms later.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self) -> None:
        # WSGIRequestHandler.handle for one request, with our ServerHandler that knows DropConnection.
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline:  # the client closed the connection
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # it answered the error, and decided close_connection
            return
        stdin: Any = self.rfile
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a chunked body: the app reads it from the socket, then we hang up
        elif int(self.headers.get("Content-Length") or 0) > STREAM_BODIES_ABOVE:
            stdin = _LimitedBody(self.rfile, int(self.headers.get("Content-Length") or 0))
        else:
            stdin = io.BytesIO(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        handler = _Handler(stdin, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)  # type: ignore[arg-type]
        handler.http_version = "1.1" if self.request_version == "HTTP/1.1" else "1.0"
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        if isinstance(stdin, _LimitedBody):
            stdin.drain()  # what the app left unread, so the next request on the connection starts where it should
        if not handler.reusable:
            self.close_connection = True  # dropped, or no length: the end of the body is the end of the connection


class _LimitedBody:
    """A large request body read from the socket as the app reads it, never past its length: an upload of any
    size costs the sandbox no more memory than the app's chunks."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self._remaining = length

    def read(self, size: int = -1) -> bytes:
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data: bytes = self._stream.read(wanted) if wanted else b""
        self._remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data: bytes = self._stream.readline(wanted) if wanted else b""
        self._remaining -= len(data)
        return data

    def drain(self) -> None:
        while self._remaining > 0 and self.read(64 * 1024):
            pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def hang_up_all(self) -> None:
        """Close every open connection: a stopped sandbox must look down to clients with pooled connections."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


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
        self._server.hang_up_all()
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
