"""``orderdesk status``: the integration's health as the database keeps it (readable while ``serve`` runs): the
same lines as ``/order status`` (:func:`handlers.status.status_words`; the tokens' scopes as ``/order status`` last
asked Slack and Meta), then the notify channel, the watermark and where each job runs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings
from bot.notify.poller import stored_status
from bot.runtime.services import open_store
from bot.runtime.workers import stored_jobs
from handlers.status import status_words


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
        words = status_words(settings, store)
    finally:
        store.close()
    if args.json:
        print(json.dumps({**status, "health": dict(words)}, indent=2))
        return 0
    lines = {
        **{label.lower(): value for label, value in words},
        "notify channel": settings.notify_channel or "not set (the poller is off)",
        "watermark": status["watermark"] or "none yet (the first poll announces every order awaiting acknowledgement)",
    }
    for job, taken in status["jobs"].items():
        lines[f"{job} runs on"] = f"{taken['runner']} (since {taken['since']})" if taken else "no runner yet"
    for label, value in lines.items():
        print(f"{label + ':':<34}{value}")
    return 0
