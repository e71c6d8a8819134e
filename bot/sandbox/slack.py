"""The Slack sandbox and its signed-request client, in one import.

``SlackSandbox`` (``slack_web.py``) stands in for the Slack Web API and response URLs; ``SlackRequester``
(``slack_requester.py``) plays Slack's part towards the bot: signed slash commands, interactivity payloads and
Events API deliveries. Typical use in a test::

    sandbox = SlackSandbox()
    server = sandbox.serve()                      # SLACK_API_URL = sandbox.api_url
    slack = SlackRequester(sandbox, f"{bot_url}/slack/events")
    sent = slack.slash_command("help")
    assert sent.response.status_code == 200
    sandbox.wait_for(lambda: sandbox.responses(sent.response_url))
    slack.close(); server.stop()

``orderdesk slack-sandbox`` (:func:`main`) serves the sandbox alone, for running the bot against it by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bot.sandbox.slack_requester import Sent, SlackRequester
from bot.sandbox.slack_web import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_BOT_TOKEN,
    DEFAULT_CHANNELS,
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TEAM_ID,
    DEFAULT_USERGROUPS,
    DEFAULT_USERS,
    Channel,
    SlackSandbox,
    User,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_CHANNELS",
    "DEFAULT_SIGNING_SECRET",
    "DEFAULT_TEAM_ID",
    "DEFAULT_USERGROUPS",
    "DEFAULT_USERS",
    "Channel",
    "Sent",
    "SlackRequester",
    "SlackSandbox",
    "User",
    "main",
]


def main(argv: list[str]) -> int:
    """``orderdesk slack-sandbox``: serve the Slack sandbox until Ctrl-C, printing what to put in ``.env``."""
    parser = argparse.ArgumentParser(prog="orderdesk slack-sandbox", description="Serve the Slack Web API sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8802, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_BOT_TOKEN, help="the bot token the sandbox accepts")
    args = parser.parse_args(argv)
    sandbox = SlackSandbox(bot_token=args.token)
    server = sandbox.serve(args.host, args.port)
    print(f"Slack sandbox serving the Web API and response URLs at {server.url}", flush=True)
    print(f"  SLACK_API_URL={sandbox.api_url}", flush=True)
    print(f"  SLACK_BOT_TOKEN={args.token}", flush=True)
    print(
        f"  SLACK_SIGNING_SECRET={DEFAULT_SIGNING_SECRET}   (what SlackRequester signs with; Ctrl-C stops)", flush=True
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        server.stop()
    return 0
