"""``/order export [since:7d] [state:…]``: a CSV of the window's orders, uploaded to the asker's DM.

Dispatched by :mod:`handlers.commands`, which has acked and handed the work to ``later`` (whose admission check
refuses Slack Connect guests before anything here runs). The CSV is written to a temporary file by
:mod:`bot.lookup.export`, streamed to Slack by :mod:`bot.slack.upload`, and deleted.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from bot.lookup.export import ExportStore, record_export, write_export
from bot.slack.export import ExportUsage, export_answer, parse_export, user_names
from bot.slack.upload import UploadFailed, upload_to_dm
from bot.slack.views.help import message_blocks
from bot.slack.views.words import state_words

log = logging.getLogger(__name__)

WORKING = "Preparing your export: the file will arrive in your direct messages with orderdesk."
PROGRESS_SECONDS = 5.0  # a long export says how far it got this often
PROGRESS_UPDATES = 3  # at most: a response URL takes five posts, "Preparing" and the answer take two


class Progress:
    """Replaces the "Preparing" answer with the count so far, every few seconds of a long export (``replace_original``:
    the asker sees one message, which the final answer replaces too)."""

    def __init__(self, respond: Respond, clock: Callable[[], float]) -> None:
        self._respond = respond
        self._clock = clock
        self._last = clock()
        self._updates = 0

    def __call__(self, rows: int) -> None:
        if self._updates >= PROGRESS_UPDATES or self._clock() - self._last < PROGRESS_SECONDS:
            return
        self._updates += 1
        self._last = self._clock()
        self._respond(
            text=f"{WORKING} {rows:,} orders written so far…", response_type="ephemeral", replace_original=True
        )


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
            exported = write_export(
                out,
                store,
                request,
                now=now,
                state_words=state_words,
                names=user_names(context.client),
                progress=Progress(respond, time.monotonic),
            )
        answer = export_answer(request, exported.rows)
        try:
            upload_to_dm(context.client, user_id, path, filename=path.name, title=f"orderdesk orders, {stamp} UTC")
        except (SlackApiError, UploadFailed, httpx.HTTPError) as error:
            failure, answer = upload_failure(error)
            log.warning("export: the upload failed (%s)", failure)
            record_export(store, request, exported, user_id=user_id, team_id=context.team_id, failure=failure)
            respond(blocks=message_blocks(answer), text=answer, response_type="ephemeral", replace_original=True)
            return
    record_export(store, request, exported, user_id=user_id, team_id=context.team_id)
    respond(blocks=message_blocks(answer), text=answer, response_type="ephemeral", replace_original=True)


# What an admin does about Slack's refusals that only an admin can fix, by Slack's error name.
_ADMIN_FIXES = {
    "missing_scope": "orderdesk's Slack app lacks the `files:write` or `im:write` permission",
    "not_allowed_token_type": "orderdesk's Slack token is not a bot token",
    "invalid_auth": "orderdesk's Slack token is no longer valid",
    "token_revoked": "orderdesk's Slack token was revoked",
    "account_inactive": "orderdesk's Slack token was revoked",
    "file_uploads_disabled": "this workspace does not allow file uploads",
}


def upload_failure(error: Exception) -> tuple[str, str]:
    """``(code for the audit, words for the asker)`` for an export whose file did not reach their DM."""
    again = "Nothing was sent; run `/order export` again in a moment."
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or "unknown_error")
        if code in _ADMIN_FIXES:
            return code, (
                f"Your export could not be sent: {_ADMIN_FIXES[code]}. Please ask an orderdesk admin to fix it "
                f"(Slack said `{code}`)."
            )
        if code == "ratelimited":
            return code, f"Your export could not be sent: Slack asked orderdesk to slow down. {again}"
        return code, f"Your export could not be sent: Slack refused the file (`{code}`). {again}"
    if isinstance(error, UploadFailed):
        return "upload_failed", f"Your export could not be sent: Slack's upload server refused it ({error}). {again}"
    return f"upload_{type(error).__name__}", f"Your export could not be sent: the file did not reach Slack. {again}"
