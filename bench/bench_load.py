"""Load: 200 agents looking orders up and acknowledging them for 60 seconds, with a slow Meta.

Three processes, as in production the bot does not share its interpreter with Slack or Meta:

- the bot: a real ``orderdesk serve --mode http``, configured only through its environment;
- the Graph sandbox: ``orderdesk sandbox``, answering every request after ``GRAPH_LATENCY_MS``;
- this process: the Slack sandbox (which receives the bot's answers) and the agents.

Each agent is a thread (they share one HTTP client, as Slack's requests come from one sender) that logs on within
the first ``RAMP_SECONDS`` and loops until the deadline: ``/order <id>`` for a random order, wait for the card,
think, and, when the card offers Acknowledge, click it, wait for the card to change, think again. Every request's
ack latency (until the HTTP answer) is recorded: Slack gives up after 3 seconds. Errors: a non-200 ack, no answer
within 10 seconds, or the generic "Something went wrong" answer.

Two runs: agents who read the card before acting (think time 1-3 s, still faster than a person), and agents that
never pause, which saturates the bot (on 2 cores, shared with the sandboxes and the agents) and shows how it
degrades: acks stay fast, answers queue. The bot's resident memory, threads and CPU time are read from ``/proc``
every second; "flat" means the second half of the run adds less than ``FLAT_MB``. The bot's log is kept in
``artifacts/`` for a look afterwards.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.config import Settings
from bot.graph.client import GraphClient
from bot.sandbox.graph import SANDBOX_TOKEN
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.slack import ids

GRAPH_LATENCY_MS = 200
ANSWER_TIMEOUT = 10.0
FLAT_MB = 10.0
WARMUP_SECONDS = 10.0
RAMP_SECONDS = 3.0
CHANNEL = "C0ORDERS"
USER = "U0AGENT1"
PAGE_ID = "1122334455"
ORDERDESK = Path(sys.executable).with_name("orderdesk")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Tally:
    """What the agents measured; one lock, appended to from every agent thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)
    acks: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, ack ms) of every request
    lookup_answer_ms: list[float] = field(default_factory=list)
    click_answer_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def ack(self, seconds: float) -> None:
        with self.lock:
            self.acks.append((time.monotonic() - self.started, seconds * 1000))

    def ack_ms(self, after: float = 0.0) -> list[float]:
        """Ack latencies of the requests sent ``after`` seconds into the run or later."""
        return [ms for at, ms in self.acks if at >= after]

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


class ProcessMeter:
    """Samples a process's resident memory and CPU seconds from ``/proc`` every second, in a thread."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._ticks = os.sysconf("SC_CLK_TCK")
        self.samples: list[tuple[float, float, float, int]] = []  # (seconds since start, RSS MB, CPU s, threads)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcessMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def _sample(self) -> None:
        try:
            status = Path(f"/proc/{self._pid}/status").read_text()
            stat = Path(f"/proc/{self._pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return
        rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        threads = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:"))
        cpu = (int(stat[11]) + int(stat[12])) / self._ticks  # utime + stime, fields 14 and 15 of stat(5)
        self.samples.append((time.monotonic() - self._started, rss_kb / 1024, cpu, threads))

    def rss_at(self, fraction: float) -> float:
        """RSS at ``fraction`` of the run (0 = first sample, 1 = last)."""
        if not self.samples:
            return float("nan")
        return self.samples[min(len(self.samples) - 1, int(fraction * (len(self.samples) - 1)))][1]

    def series(self, every: float = 10.0) -> str:
        """RSS and thread count every ``every`` seconds, e.g. ``50/20 80/41 85/44 MB/threads``."""
        picked, next_at = [], 0.0
        for at, rss, _, threads in self.samples:
            if at >= next_at:
                picked.append(f"{rss:.0f}/{threads}")
                next_at += every
        return " ".join(picked) + " MB/threads"

    def cpu_share(self) -> float:
        """Average CPU cores used over the run."""
        if len(self.samples) < 2:
            return float("nan")
        (t0, _, c0, _), (t1, _, c1, _) = self.samples[0], self.samples[-1]
        return (c1 - c0) / (t1 - t0)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


@contextmanager
def started(
    args: list[str], env: dict[str, str], log: Path, ready: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start ``orderdesk <args>``, wait until its output matches ``ready``, yield it and the first group."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ORDERDESK), *args], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(ready, log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"orderdesk {args[0]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def ack_button(answer: dict[str, Any]) -> str | None:
    for block in answer.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == ids.ACK:
                return str(element["value"])
    return None


def click(slack: SlackRequester, sandbox: SlackSandbox, value: str, card_url: str) -> tuple[int, float]:
    """An Acknowledge click on the ephemeral card answered at ``card_url`` (built directly: the requester's own
    ``block_action`` searches every ephemeral message in the sandbox, which is the sandbox's cost, not the bot's)."""
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "username": "agent1", "name": "agent1", "team_id": sandbox.team_id},
        "team": {"id": sandbox.team_id, "domain": "sandbox"},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL, "is_ephemeral": True},
        "channel": {"id": CHANNEL, "name": "orders"},
        "trigger_id": sandbox.new_trigger_id(user=USER),
        "response_url": card_url,
        "actions": [{"type": "button", "action_id": ids.ACK, "block_id": "actions", "value": value, "action_ts": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    began = time.perf_counter()
    response = slack.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded", **slack.sign(body)})
    return response.status_code, time.perf_counter() - began


def agent(
    http: httpx.Client,
    events_url: str,
    sandbox: SlackSandbox,
    order_ids: list[str],
    deadline: float,
    think: tuple[float, float],
    tally: Tally,
) -> None:
    rng = random.Random()

    def pause() -> None:
        time.sleep(min(rng.uniform(*think), max(0.0, deadline - time.monotonic())))

    time.sleep(rng.uniform(0, RAMP_SECONDS))  # agents log on over the first seconds, not on the same instant
    with SlackRequester(sandbox, events_url, DEFAULT_SIGNING_SECRET, http=http) as slack:
        while time.monotonic() < deadline:
            sent = slack.slash_command(rng.choice(order_ids), user=USER, channel=CHANNEL)
            tally.ack(sent.elapsed)
            if sent.response.status_code != 200:
                tally.error(f"lookup HTTP {sent.response.status_code}")
                pause()
                continue
            answered = wait_answer(sandbox, sent.response_url or "", 1, tally, "lookup")
            if answered is None:
                pause()
                continue
            answers, took = answered
            with tally.lock:
                tally.lookup_answer_ms.append(took * 1000)
            pause()
            value = ack_button(answers[0])
            if value is None or time.monotonic() >= deadline:
                continue
            status, elapsed = click(slack, sandbox, value, sent.response_url or "")
            tally.ack(elapsed)
            if status != 200:
                tally.error(f"click HTTP {status}")
                pause()
                continue
            answered = wait_answer(sandbox, sent.response_url or "", 2, tally, "click")
            if answered is not None:
                with tally.lock:
                    tally.click_answer_ms.append(answered[1] * 1000)
            pause()


def wait_answer(
    sandbox: SlackSandbox, url: str, count: int, tally: Tally, kind: str
) -> tuple[list[dict[str, Any]], float] | None:
    """The first ``count`` posts to a response URL and how long they took; None (an error) if they did not come."""
    began = time.perf_counter()
    answers = sandbox.wait_responses(url, count, ANSWER_TIMEOUT)
    if answers is None:
        tally.error(f"{kind}: no answer within {ANSWER_TIMEOUT:.0f}s")
        return None
    if "Something went wrong" in json.dumps(answers):
        tally.error(f"{kind}: generic error answer")
    return answers, time.perf_counter() - began


def run_once(agents: int, seconds: float, think: tuple[float, float], orders: int) -> list[str]:
    slack_sandbox = SlackSandbox()
    base_env = {"PATH": os.environ.get("PATH", "")}
    with tempfile.TemporaryDirectory() as tmp, slack_sandbox.serve():
        graph_args = ["sandbox", "--port", "0", "--orders", str(orders), "--page-id", PAGE_ID]
        with started(graph_args, base_env, Path(tmp) / "graph.log", r"FB_GRAPH_URL=(\S+)") as (
            graph_process,
            graph_url,
        ):
            settings = Settings(
                slack_bot_token=slack_sandbox.bot_token,
                slack_signing_secret=DEFAULT_SIGNING_SECRET,
                slack_api_url=slack_sandbox.api_url,
                fb_page_id=PAGE_ID,
                fb_page_access_token=SANDBOX_TOKEN,
                fb_graph_url=graph_url,
                db_path=str(Path(tmp) / "load.db"),
                merchant_ref_template="FB-{order_id}",
            )
            graph = GraphClient.from_settings(settings)
            try:
                order_ids = [o["id"] for o in graph.iter_orders(state=["CREATED", "IN_PROGRESS"], fields="id")]
            finally:
                graph.close()
            httpx.post(f"{graph_url}/_sandbox/faults", json={"latency_ms": GRAPH_LATENCY_MS}).raise_for_status()
            serve_args = ["serve", "--mode", "http", "--port", "0"]
            env = {**base_env, **settings.to_env()}
            ready = r"serving Slack requests at (http://[^\s\"]+)"
            with (
                started(serve_args, env, Path(tmp) / "bot.log", ready) as (bot, events_url),
                ProcessMeter(bot.pid) as meter,
                ProcessMeter(graph_process.pid) as graph_meter,
                ProcessMeter(os.getpid()) as own_meter,
            ):
                tally = Tally()
                deadline = tally.started + seconds
                # One client for every agent, as Slack's many connections come from one sender: 200 clients would
                # each load the CA bundle, a CPU burst at the start that the bot would be blamed for.
                http = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=agents + 10))
                args = (http, events_url, slack_sandbox, order_ids, deadline, think, tally)
                threads = [threading.Thread(target=agent, args=args, daemon=True) for _ in range(agents)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(seconds + 3 * ANSWER_TIMEOUT)
                http.close()
            calls = httpx.get(f"{graph_url}/_sandbox/calls").json()
            acknowledgements = sum(c["method"] == "POST" for c in calls)
            bot_log = (Path(tmp) / "bot.log").read_text()
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"bench_load_bot_{agents}x{think[0]:g}-{think[1]:g}.log").write_text(
                bot_log
            )  # for a look after
            bot_errors = [line for line in bot_log.splitlines() if "level=error" in line]
    acks, steady = tally.ack_ms(), tally.ack_ms(after=WARMUP_SECONDS)
    errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(tally.errors.items())) or "none"
    growth = meter.rss_at(1.0) - meter.rss_at(0.5)
    return [
        f"{agents} agents for {seconds:.0f}s, think {think[0]:g}-{think[1]:g} s, Graph latency {GRAPH_LATENCY_MS} ms",
        f"  requests {len(acks)} ({len(acks) / seconds:.0f}/s), acks sent to Meta {acknowledgements}",
        f"  ack latency p50 {percentile(acks, 50):.0f} ms, p99 {percentile(acks, 99):.0f} ms, "
        f"max {max(acks, default=float('nan')):.0f} ms, over 3 s: {sum(ms > 3000 for ms in acks)}",
        f"  ... after the first {WARMUP_SECONDS:.0f} s: p50 {percentile(steady, 50):.0f} ms, "
        f"p99 {percentile(steady, 99):.0f} ms, max {max(steady):.0f} ms, over 3 s: {sum(ms > 3000 for ms in steady)}"
        if steady
        else f"  (shorter than the {WARMUP_SECONDS:.0f} s warm-up)",
        f"  lookup answer p50 {percentile(tally.lookup_answer_ms, 50):.0f} ms, "
        f"p99 {percentile(tally.lookup_answer_ms, 99):.0f} ms (n={len(tally.lookup_answer_ms)})",
        f"  ack-click answer p50 {percentile(tally.click_answer_ms, 50):.0f} ms, "
        f"p99 {percentile(tally.click_answer_ms, 99):.0f} ms (n={len(tally.click_answer_ms)})",
        f"  errors: {errors}; bot ERROR log lines: {len(bot_errors)}",
        f"  bot RSS and threads every 10 s: {meter.series()} "
        f"({'flat' if growth < FLAT_MB else 'GROWING'}: {growth:+.1f} MB over the second half); "
        f"CPU cores used: bot {meter.cpu_share():.2f}, Graph sandbox {graph_meter.cpu_share():.2f}, "
        f"agents and Slack sandbox {own_meter.cpu_share():.2f}",
    ]


def run(quick: bool) -> list[str]:
    """Each run in a fresh interpreter: the agents' latencies are measured in this process, and what earlier
    benchmarks of ``make bench`` left running here (idle server threads, kept-alive connections) would count."""
    runs = [(10, 3, (0.2, 0.5), 100)] if quick else [(200, 60, (1.0, 3.0), 3000), (200, 60, (0.0, 0.0), 3000)]
    lines: list[str] = []
    for agents, seconds, think, orders in runs:
        call = f"run_once({agents}, {seconds}, {think}, {orders})"
        code = f"from bench.bench_load import run_once; print(*{call}, sep='\\n')"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the load run failed:\n{done.stderr[-3000:]}")
        lines += done.stdout.splitlines()
    return lines
