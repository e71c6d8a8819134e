"""The Slack sandbox's ``chat.unfurl``, reached through slack_sdk as the bot reaches it: recorded, and refused in
Slack's words when it names no message or carries blocks Slack would not accept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack import DEFAULT_BOT_TOKEN, SlackSandbox

URL = "https://business.facebook.com/commerce/1/orders/4983828896296367"
CARD = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Order 4983828896296367*"}}]


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    sandbox = SlackSandbox()
    server = sandbox.serve()
    yield sandbox
    server.stop()


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=DEFAULT_BOT_TOKEN, timeout=5)


def test_an_unfurl_is_recorded_by_unfurl_id_or_by_channel_and_ts(sandbox: SlackSandbox, client: WebClient) -> None:
    client.chat_unfurl(unfurl_id="U1", source="composer", unfurls={URL: {"blocks": CARD}})
    client.chat_unfurl(channel="C0ORDERS", ts="1700000000.000100", unfurls={URL: {"blocks": CARD}})
    calls = sandbox.calls("chat.unfurl")
    assert [c["args"]["unfurls"][URL]["blocks"] for c in calls] == [CARD, CARD]
    assert [c["error"] for c in calls] == [None, None]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"unfurls": {URL: {"blocks": CARD}}}, "invalid_arguments"),
        ({"channel": "C0RANDOM", "ts": "1.2", "unfurls": {URL: {"blocks": CARD}}}, "not_in_channel"),
        ({"unfurl_id": "U1", "source": "composer", "unfurls": {}}, "invalid_unfurls"),
        (
            {"unfurl_id": "U1", "source": "composer", "unfurls": {URL: {"blocks": [{"type": "nope"}]}}},
            "invalid_unfurls",
        ),
    ],
)
def test_a_bad_unfurl_is_refused(client: WebClient, args: dict[str, object], error: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.api_call("chat.unfurl", json=args)
    assert refused.value.response["error"] == error
