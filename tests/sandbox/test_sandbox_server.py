"""The sandboxes' HTTP server: keep-alive like Meta and Slack, bodies never leak into the next request, a dropped
connection looks dropped, and a stopped server looks down even to a client holding a pooled connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from bot.sandbox.server import DropConnection, ServerThread


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with the name of the thread that served it (one per connection) and the body it read."""
    path = environ["PATH_INFO"]
    if path == "/drop":
        raise DropConnection
    body = b"" if path == "/ignore-body" else environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    answer = f"{threading.current_thread().name}|{body.decode()}".encode()
    if path == "/no-length":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([answer, b"!"])  # two chunks: no Content-Length can be set, the connection must close
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


def test_requests_share_one_connection_while_the_client_keeps_it_open() -> None:
    with ServerThread(echo) as server, httpx.Client(base_url=server.url) as client:
        answers = [client.post("/", content=f"request {n}").text.split("|") for n in range(5)]
    assert [body for _, body in answers] == [f"request {n}" for n in range(5)]
    assert len({thread for thread, _ in answers}) == 1, answers


def test_a_body_the_app_did_not_read_does_not_become_the_next_request() -> None:
    with ServerThread(echo) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/ignore-body", content=b"GET /evil HTTP/1.1\r\n\r\n").status_code == 200
        assert client.post("/", content=b"second").text.endswith("|second")


def test_an_answer_without_length_closes_the_connection_after_it() -> None:
    with ServerThread(echo) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/no-length", content=b"x").text.endswith("|x!")
        assert client.post("/", content=b"after").text.endswith("|after")


def test_a_dropped_request_looks_like_a_hang_up_and_the_next_one_works() -> None:
    with ServerThread(echo) as server, httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/drop", content=b"x")
        assert client.post("/", content=b"again").text.endswith("|again")


def test_a_stopped_server_hangs_up_pooled_connections() -> None:
    server = ServerThread(echo).start()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").status_code == 200  # now pooled
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/")


def test_http_1_0_clients_get_one_request_per_connection() -> None:
    with ServerThread(echo) as server, socket.create_connection((server.host, server.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(4096):
            received += chunk
    assert received.startswith(b"HTTP/1.0 200")
