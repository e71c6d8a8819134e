"""What an asker reads when their export's file did not reach their DM, and the code its audit row keeps."""

from __future__ import annotations

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.slack.upload import UploadFailed
from handlers.export import upload_failure


def _refusal(error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/files.completeUploadExternal",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError(f"The request to the Slack API failed: {error}", response)


def test_each_failure_has_a_code_and_words() -> None:
    code, words = upload_failure(_refusal("missing_scope"))
    assert code == "missing_scope"
    assert "ask an orderdesk admin" in words
    code, words = upload_failure(_refusal("ratelimited"))
    assert code == "ratelimited"
    assert "slow down" in words
    assert "again in a moment" in words
    code, words = upload_failure(UploadFailed("the upload URL answered HTTP 500"))
    assert code == "upload_failed"
    assert "HTTP 500" in words
    code, words = upload_failure(httpx.ConnectError("connection refused"))
    assert code == "upload_ConnectError"
    assert "did not reach Slack" in words
