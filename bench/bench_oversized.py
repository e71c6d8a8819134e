"""Oversized requests: the bot's memory while a few clients at once send it bodies far over its cap.

The attack this measures: an unsigned 200 MB POST to ``/slack/events`` once took the bot from 41 MB to 1.2 GB of
resident memory for 14 s before its 401 (waitress buffered up to 1 GiB, then Bolt parsed it before verifying).
Now a body over ``MAX_BODY_BYTES`` is refused with 413: on its declared length before it is read, or, chunked,
once the cap is reached.

The bot is a real ``orderdesk serve --mode http`` in its own process (so its memory is its own), configured only
through its environment. Each client sends the headers and then the body in 64 KiB pieces as fast as the bot takes
them, until the bot answers or closes the connection. Reported per kind (declared length, chunked): the answers,
how much each client got to send before the answer, how long it took, and the bot's resident memory before, at
its peak (``VmHWM``) and after.
"""

from __future__ import annotations

import os
import select
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from bench.bench_load import started
from bot.config import Settings
from bot.runtime.serve import EVENTS_PATH, MAX_BODY_BYTES
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET

PIECE = b"a" * 65536
ANSWER_TIMEOUT = 120.0  # seconds a client waits for the bot's answer once it has sent everything


def _memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (the peak so far) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def _send_oversized(url: str, size: int, chunked: bool) -> tuple[str, int, float]:
    """POST an unsigned ``size``-byte body; (the bot's status line or how it ended, bytes sent, seconds)."""
    parts = urlsplit(url)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n"
    ).encode()
    piece = f"{len(PIECE):X}\r\n".encode() + PIECE + b"\r\n" if chunked else PIECE
    began = time.perf_counter()
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(head)
        answer = ""
        try:
            while sent < size:
                if select.select([sock], [], [], 0)[0]:
                    break  # the bot answered (or closed) before the body was all sent
                sock.sendall(piece)
                sent += len(PIECE)
            if chunked and sent >= size:
                sock.sendall(b"0\r\n\r\n")  # the last chunk: the body is complete
            answer = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
        except (BrokenPipeError, ConnectionResetError):
            # The bot closed with our data unread: the kernel resets the connection, which may drop its answer.
            answer = answer or "reset: closed while the client was still sending"
        except TimeoutError:
            answer = f"no answer within {ANSWER_TIMEOUT:.0f} s"
    return answer, sent, time.perf_counter() - began


def run_once(clients: int, body_mb: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            slack_bot_token="xoxb-bench-oversized",
            slack_signing_secret=DEFAULT_SIGNING_SECRET,
            slack_api_url="http://127.0.0.1:9/api/",  # nothing may reach Slack or Meta: no request gets through
            fb_page_id="1122334455",
            fb_page_access_token="bench-oversized-token",
            fb_graph_url="http://127.0.0.1:9",
            db_path=str(Path(tmp) / "bench.db"),
        )
        env = {"PATH": os.environ.get("PATH", ""), **settings.to_env()}
        ready = r"serving Slack requests at (http://[^\s\"]+)"
        lines = [f"{clients} concurrent unsigned {body_mb} MB bodies (cap {MAX_BODY_BYTES // 1024} KiB)"]
        with started(["serve", "--mode", "http", "--port", "0"], env, Path(tmp) / "bot.log", ready) as (bot, url):
            before = _memory_mb(bot.pid)
            lines.append(f"  bot RSS before: {before['VmRSS']:.0f} MB")
            for chunked in (False, True):
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    futures = [pool.submit(_send_oversized, url, body_mb * 1_000_000, chunked) for _ in range(clients)]
                    results = [future.result() for future in futures]
                memory = _memory_mb(bot.pid)
                answers = sorted({answer for answer, _, _ in results})
                most_sent = max(sent for _, sent, _ in results) / 1_000_000
                slowest = max(seconds for _, _, seconds in results)
                kind = "chunked" if chunked else "declared length"
                lines.append(
                    f"  {kind}: answers {answers}, at most {most_sent:.1f} MB sent before the answer, "
                    f"slowest {slowest * 1000:.0f} ms; bot RSS peak {memory['VmHWM']:.0f} MB, "
                    f"now {memory['VmRSS']:.0f} MB"
                )
    return lines


def run(quick: bool) -> list[str]:
    return run_once(2, 20) if quick else run_once(4, 200)
