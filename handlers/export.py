"""``/order export [since:7d] [state:…]``: a CSV of the window's orders, uploaded to the asker's DM.

Dispatched by :mod:`handlers.commands`, which has acked and handed the work to ``later`` (whose admission check
refuses Slack Connect guests before anything here runs). The CSV is written to a temporary file by
:mod:`bot.lookup.export`, streamed to Slack by :mod:`bot.slack.upload`, and deleted.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from bot.lookup.export import ExportStore, record_export, write_export
from bot.slack.export import ExportUsage, export_answer, parse_export
from bot.slack.upload import upload_to_dm
from bot.slack.views.help import message_blocks
from bot.slack.views.words import state_words

WORKING = "Preparing your export: the file will arrive in your direct messages with orderdesk."


def register(app: App) -> None:
    """Nothing of its own to register: the subcommand is an entry of :mod:`handlers.commands`."""


def export(argument: str, respond: Respond, context: BoltContext) -> None:
    try:
        request = parse_export(argument)
    except ExportUsage as error:
        respond(blocks=message_blocks(str(error)), text=str(error), response_type="ephemeral")
        return
    user_id = context.user_id or ""
    respond(text=WORKING, response_type="ephemeral")
    store: ExportStore = context["store"]
    now = time.time()
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d-%H%M")
    with tempfile.TemporaryDirectory(prefix="orderdesk-export-") as folder:
        path = Path(folder) / f"orderdesk-orders-{stamp}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            exported = write_export(out, store, request, now=now, state_words=state_words)
        answer = export_answer(request, exported.rows)
        upload_to_dm(context.client, user_id, path, filename=path.name, title=f"orderdesk orders, {stamp} UTC")
    record_export(store, request, exported, user_id=user_id, team_id=context.team_id)
    respond(blocks=message_blocks(answer), text=answer, response_type="ephemeral")
