"""A file from disk to a user's direct messages with the bot, streamed: Slack's external upload in three calls.

``conversations.open`` finds the DM; ``files.getUploadURLExternal`` gives an upload URL for the file's size; the
file goes to that URL read from disk in chunks (an httpx request whose content is the open file); then
``files.completeUploadExternal`` shares it in the DM. slack_sdk's ``files_upload_v2`` does the same three calls but
reads the whole file into memory first, which an export of any size must not do.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from slack_sdk import WebClient

UPLOAD_TIMEOUT_SECONDS = 120.0


class UploadFailed(Exception):
    """The upload URL refused the file (its HTTP status in the message)."""


def upload_to_dm(
    client: WebClient,
    user_id: str,
    path: Path,
    *,
    filename: str,
    title: str,
    comment: str | None = None,
    http: httpx.Client | None = None,
) -> str:
    """Share the file at ``path`` in ``user_id``'s DM with the bot, privately; returns the DM's channel id."""
    opened = client.conversations_open(users=user_id)
    channel = str(opened["channel"]["id"])
    size = path.stat().st_size
    target = client.files_getUploadURLExternal(filename=filename, length=size)
    upload_url, file_id = str(target["upload_url"]), str(target["file_id"])
    owned = http is None
    sender = http or httpx.Client(timeout=UPLOAD_TIMEOUT_SECONDS)
    try:
        with path.open("rb") as stream:
            answer = sender.post(
                upload_url,
                content=stream,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
    finally:
        if owned:
            sender.close()
    if answer.status_code != 200:
        raise UploadFailed(f"the upload URL answered HTTP {answer.status_code}")
    client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}], channel_id=channel, initial_comment=comment
    )
    return channel
