"""A failed Slack Web API call in words for the operator: what happened and what to change.

``orderdesk doctor`` prints them as a failed check and its fix; ``orderdesk serve`` prints the same words and
stops when Socket Mode cannot connect, rather than a library's traceback. Slack is quoted by its error code only,
so the words never hold a token.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings

FIX_APP_AUTH = (
    "set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope (app settings → Basic "
    "Information → App-Level Tokens) and turn Socket Mode on; or unset it to receive requests over HTTP"
)
AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive")
APP_TOKEN_FIXES = dict.fromkeys((*AUTH_ERRORS, "not_allowed_token_type"), FIX_APP_AUTH)
"""The fixes for ``apps.connections.open``, Socket Mode's first call: shared by doctor and ``serve``."""

SLACK_CALL_ERRORS = (SlackApiError, SlackClientError, OSError)
"""What a Web API call raises when Slack refuses it or cannot be reached (urllib's errors are ``OSError``)."""


def slack_failure(error: Exception, settings: Settings, fixes: Mapping[str, str]) -> tuple[str, str]:
    """A failed Web API call in words: (what happened, what to change), by Slack's error code or the network's
    reason, so the answer never holds a token. ``fixes`` maps Slack's error codes to the change that fixes each."""
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
        return f"Slack answered {code}", fixes.get(code, f"see https://api.slack.com/methods for {code}")
    reason = getattr(error, "reason", error)
    return (
        f"cannot reach Slack: {reason}",
        f"check SLACK_API_URL ({settings.slack_api_url}) and this host's network and proxy settings",
    )
