"""Load on replicas: the agents of ``bench_load`` against one and two ``orderdesk serve`` replicas on PostgreSQL,
and against one on sqlite, in one run.

Each configuration starts its own processes: the Graph sandbox (``GRAPH_LATENCY_MS`` per request), the bot
replicas (each with its own folder, as on separate hosts; on PostgreSQL they share a throwaway cluster's database),
and, in this process, the Slack sandbox and the agents, spread evenly across the replicas as a load balancer
would. Agents never pause, so the numbers are what the bot sustains on this machine (2 cores shared by every
process, the PostgreSQL server included): requests per second, the ack latency Slack waits for, and errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack, nullcontext
from pathlib import Path

import httpx

from bench.bench_load import (
    ANSWER_TIMEOUT,
    GRAPH_LATENCY_MS,
    PAGE_ID,
    ProcessMeter,
    Tally,
    agent,
    percentile,
    started,
)
from bench.pg_cluster import database
from bot.config import Settings
from bot.graph.client import GraphClient
from bot.sandbox.graph import SANDBOX_TOKEN
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackSandbox


def run_once(backend: str, replicas: int, agents: int, seconds: float, orders: int) -> list[str]:
    slack_sandbox = SlackSandbox()
    base_env = {"PATH": os.environ.get("PATH", "")}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(slack_sandbox.serve())
        url = stack.enter_context(database("bench_load") if backend == "postgres" else nullcontext(None))
        graph_args = ["sandbox", "--port", "0", "--orders", str(orders), "--page-id", PAGE_ID]
        _, graph_url = stack.enter_context(started(graph_args, base_env, tmp / "graph.log", r"FB_GRAPH_URL=(\S+)"))
        settings = Settings(
            slack_bot_token=slack_sandbox.bot_token,
            slack_signing_secret=DEFAULT_SIGNING_SECRET,
            slack_api_url=slack_sandbox.api_url,
            fb_page_id=PAGE_ID,
            fb_page_access_token=SANDBOX_TOKEN,
            fb_graph_url=graph_url,
            db_path=str(tmp / "load.db"),
            merchant_ref_template="FB-{order_id}",
            database_url=url,
        )
        with GraphClient.from_settings(settings) as graph:
            order_ids = [o["id"] for o in graph.iter_orders(state=["CREATED", "IN_PROGRESS"], fields="id")]
        httpx.post(f"{graph_url}/_sandbox/faults", json={"latency_ms": GRAPH_LATENCY_MS}).raise_for_status()
        events_urls, meters = [], []
        for n in range(replicas):
            folder = tmp / f"replica{n}"
            folder.mkdir()
            env = {**base_env, **settings.with_overrides(db_path=str(folder / "load.db")).to_env()}
            bot, events_url = stack.enter_context(
                started(
                    ["serve", "--mode", "http", "--port", "0"],
                    env,
                    folder / "bot.log",
                    r"serving Slack requests at (http://[^\s\"]+)",
                )
            )
            events_urls.append(events_url)
            meters.append(stack.enter_context(ProcessMeter(bot.pid)))
        tally = Tally()
        deadline = tally.started + seconds
        http = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=agents + 10))
        threads = [
            threading.Thread(
                target=agent,
                args=(http, events_urls[n % replicas], slack_sandbox, order_ids, deadline, (0.0, 0.0), tally),
                daemon=True,
            )
            for n in range(agents)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 3 * ANSWER_TIMEOUT)
        http.close()
        acknowledgements = sum(c["method"] == "POST" for c in httpx.get(f"{graph_url}/_sandbox/calls").json())
    acks = tally.ack_ms()
    errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(tally.errors.items())) or "none"
    cpu = " + ".join(f"{meter.cpu_share():.2f}" for meter in meters)
    where = "PostgreSQL" if backend == "postgres" else "sqlite"
    return [
        f"{replicas} replica{'s' if replicas > 1 else ''} on {where}: {agents} agents, no think time, {seconds:.0f} s",
        f"  requests {len(acks)} ({len(acks) / seconds:.0f}/s), acks sent to Meta {acknowledgements}, "
        f"ack latency p50 {percentile(acks, 50):.0f} ms, p99 {percentile(acks, 99):.0f} ms, "
        f"over 3 s: {sum(ms > 3000 for ms in acks)}",
        f"  lookup answer p99 {percentile(tally.lookup_answer_ms, 99):.0f} ms, ack-click answer p99 "
        f"{percentile(tally.click_answer_ms, 99):.0f} ms; errors: {errors}; bot CPU cores: {cpu}",
    ]


def run(quick: bool) -> list[str]:
    """Each configuration in a fresh interpreter, as ``bench_load`` runs them."""
    agents, seconds, orders = (10, 3, 100) if quick else (200, 30, 3000)
    lines: list[str] = []
    for backend, replicas in (("sqlite", 1), ("postgres", 1), ("postgres", 2)):
        call = f"run_once({backend!r}, {replicas}, {agents}, {seconds}, {orders})"
        code = f"from bench.bench_pg_load import run_once; print(*{call}, sep='\\n')"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the load run failed:\n{done.stderr[-3000:]}")
        lines += done.stdout.splitlines()
    return lines
