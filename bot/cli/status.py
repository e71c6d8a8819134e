"""``orderdesk status``: the integration's health as the database keeps it (readable while ``serve`` runs): the
same words as ``/order status`` (:func:`bot.notify.health.status_lines`), with the notify channel and watermark."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from bot.config import ConfigError, Settings
from bot.notify.health import health, status_lines
from bot.notify.poller import stored_status
from bot.runtime.services import open_store
from bot.runtime.workers import stored_jobs


def main(argv: Sequence[str]) -> int:
    """Exit 0 once printed, 2 for bad settings: the state is read from the database, Slack and Meta are not asked."""
    parser = argparse.ArgumentParser(prog="orderdesk status", description="Show the notification poller's state.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        status = {**stored_status(store), "jobs": stored_jobs(store)}
        words = status_lines(health(store, now=time.time(), zone=settings.zone), poll_seconds=settings.poll_seconds)
    finally:
        store.close()
    if args.json:
        print(json.dumps({**status, "health": dict(words)}, indent=2))
        return 0
    lines = {
        "notify channel": settings.notify_channel or "not set (the poller is off)",
        "watermark": status["watermark"] or "none yet (the first poll announces every order awaiting acknowledgement)",
        **{label.lower(): value for label, value in words},
    }
    for job, taken in status["jobs"].items():
        lines[f"{job} runs on"] = f"{taken['runner']} (since {taken['since']})" if taken else "no runner yet"
    for label, value in lines.items():
        print(f"{label + ':':<34}{value}")
    return 0
