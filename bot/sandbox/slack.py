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
"""

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
]
