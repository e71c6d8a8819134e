"""The streamed upload to a DM against the Slack sandbox over HTTP, with a file larger than the sandbox buffers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient

from bot.sandbox.slack import DEFAULT_BOT_TOKEN, SlackSandbox
from bot.slack.upload import upload_to_dm


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    sandbox = SlackSandbox()
    server = sandbox.serve()
    try:
        yield sandbox
    finally:
        server.stop()


def test_a_large_file_arrives_whole_in_the_users_dm(sandbox: SlackSandbox, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    content = b"".join(b"%08d,row\n" % n for n in range(300_000))  # 3.9 MB: streamed through the sandbox too
    path.write_bytes(content)
    client = WebClient(token=DEFAULT_BOT_TOKEN, base_url=sandbox.api_url)

    with httpx.Client() as http:  # one connection for both: the first body must end where it should
        channel = upload_to_dm(client, "U0AGENT2", path, filename="export.csv", title="Orders", http=http)
        again = upload_to_dm(client, "U0AGENT2", path, filename="again.csv", title="Orders again", http=http)

    assert channel == again == sandbox.dm_channel("U0AGENT2")
    first, second = sandbox.files()
    assert first["content"] == second["content"] == content
    assert (first["title"], first["channel"], first["length"]) == ("Orders", channel, len(content))
    assert [message["files"][0]["name"] for message in sandbox.messages(channel)] == ["export.csv", "again.csv"]
