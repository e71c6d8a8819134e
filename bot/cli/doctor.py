"""``orderdesk doctor``: check a deployment's settings, tokens, scopes, database and channels before going live.

Every check prints one line, and every failure a ``fix:`` line saying exactly what to change, because the person
running this is usually setting the bot up for the first time, and Slack's or Meta's raw error codes do not say
which page of which console to open. Checks that depend on a failed one are shown as skipped rather than as more
failures. A warning (``!``) is a setup that runs but not as meant (the serving mode against manifest.yml): it
has fix lines too, and leaves the exit status alone. Doctor creates nothing: a database that does not exist yet
is not created. Nothing printed ever contains a token: Slack is quoted by its error code only, Graph errors are
scrubbed by the client, and settings problems never echo values.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from slack_sdk import WebClient

from bot.cli.checks import Check, Status, failed, ok, warning
from bot.cli.doctor_backends import database_checks, graph_checks
from bot.cli.doctor_slack import channel_check, serving_mode, slack_app_token, slack_bot_token
from bot.config import ConfigError, Settings
from bot.durations import duration_words
from bot.slack.failures import FIX_APP_AUTH

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
_SLACK_TIMEOUT_SECONDS = 10


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """The Slack app manifest as a dict; raises ``OSError``, ``yaml.YAMLError`` or ``TypeError`` if unreadable."""
    manifest = yaml.safe_load(path.read_text())
    if not isinstance(manifest, dict):
        raise TypeError(f"{path} is not a YAML mapping")
    return manifest


def bot_scopes(manifest: dict[str, Any]) -> frozenset[str]:
    """The scopes the app is designed for: ``oauth_config.scopes.bot`` of the Slack app manifest."""
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def manifest_bot_scopes(path: Path = MANIFEST) -> frozenset[str]:
    return bot_scopes(load_manifest(path))


def diagnose(settings: Settings, manifest: dict[str, Any], mode: str) -> Iterator[Check]:
    """Every check after settings, in order and lazily, so each line shows up while the next call is made.

    ``mode`` is how ``orderdesk serve`` will run: ``socket`` or ``http``."""
    yield serving_mode(mode, manifest)
    slack = WebClient(base_url=settings.slack_api_url, timeout=_SLACK_TIMEOUT_SECONDS)
    auth, checks = slack_bot_token(slack, settings, bot_scopes(manifest))
    yield from checks
    yield slack_app_token(slack, settings, mode)
    yield from graph_checks(settings)
    yield from database_checks(settings)
    yield search_key_check(settings)
    yield from permission_checks(settings)
    yield from approval_checks(settings)
    # The notification channel and every routed channel (the poller posts to all of them), and the channel of
    # refund approval requests.
    channels = [settings.notify_channel, *(route.channel for route in settings.routes), settings.approval_channel]
    for channel in dict.fromkeys(channels):
        if channel:
            yield channel_check(slack, settings, channel, auth)


def search_key_check(settings: Settings) -> Check:
    """A warning, not a failure: without the key the bot runs, and only ``/order find`` says it is not set up."""
    if settings.search_key:
        return ok("search key", "set: /order find can match buyers")
    return warning(
        "search key",
        "ORDERDESK_SEARCH_KEY is not set: /order find answers that it is not configured",
        "set ORDERDESK_SEARCH_KEY to a random secret of at least 16 characters (openssl rand -hex 32), then restart",
    )


def _who(allowed: tuple[str, ...]) -> str:
    users = sum(1 for entry in allowed if not entry.startswith("S"))
    groups = len(allowed) - users
    parts = [
        f"{users} user{'s' if users != 1 else ''}" if users else "",
        f"{groups} user group{'s' if groups != 1 else ''}" if groups else "",
    ]
    return " and ".join(p for p in parts if p)


def permission_checks(settings: Settings) -> Iterator[Check]:
    """Who may take the card actions. Shipping follows acknowledging unless ORDERDESK_SHIP_ALLOWED says
    otherwise; cancelling and refunding need a list (money leaves the shop), so an empty one is a warning that
    says how to allow them."""
    if settings.ship_allowed:
        yield ok("who may ship", f"{_who(settings.ship_allowed)} (ORDERDESK_SHIP_ALLOWED)")
    elif settings.ack_allowed:
        yield ok("who may ship", f"whoever may acknowledge: {_who(settings.ack_allowed)} (ORDERDESK_ACK_ALLOWED)")
    else:
        yield ok(
            "who may ship", "everyone in the workspace (ORDERDESK_SHIP_ALLOWED and ORDERDESK_ACK_ALLOWED are empty)"
        )
    for verb, name, allowed in (
        ("cancel", "ORDERDESK_CANCEL_ALLOWED", settings.cancel_allowed),
        ("refund", "ORDERDESK_REFUND_ALLOWED", settings.refund_allowed),
    ):
        if allowed:
            yield ok(f"who may {verb}", f"{_who(allowed)} ({name})")
        else:
            yield warning(
                f"who may {verb}",
                f"{name} is empty: nobody can {verb} orders from Slack (the button says so)",
                f"set {name} to the Slack user ids (U…) and user-group ids (S…) of who may {verb} orders, "
                "comma-separated, then restart",
            )


def approval_checks(settings: Settings) -> Iterator[Check]:
    """Four-eyes refunds, when ORDERDESK_REFUND_APPROVAL_OVER is set: where requests go and how long they wait, or
    a warning when nobody but the requester could ever approve (a single person allowed to refund)."""
    over = settings.refund_approval_over
    if over is None:
        return
    approvers = settings.refund_allowed
    if len(approvers) < 2 and not any(entry.startswith("S") for entry in approvers):
        who = "nobody" if not approvers else "one person"
        yield warning(
            "refund approvals",
            f"refunds over {over} need a second person's approval, but ORDERDESK_REFUND_ALLOWED names {who}: "
            "nobody else could approve them",
            "add a second person or a user group to ORDERDESK_REFUND_ALLOWED (or empty "
            "ORDERDESK_REFUND_APPROVAL_OVER), then restart",
        )
        return
    where = (
        f"channel {settings.approval_channel}"
        if settings.approval_channel
        else "the card's channel (refused in DMs and Slack Connect channels)"
    )
    yield ok(
        "refund approvals",
        f"refunds over {over} before tax (in each order's own currency) wait for a second person's approval in "
        f"{where}; "
        f"requests expire after {duration_words(settings.approval_ttl_seconds)}",
    )


def _print(check: Check) -> None:
    print("\n".join(check.lines()), flush=True)


def main(argv: Sequence[str]) -> int:
    """Exit 0 when every check passes (warnings included), 1 when one fails, 2 when the settings themselves are
    wrong."""
    parser = argparse.ArgumentParser(prog="orderdesk doctor", description="Check orderdesk's setup end to end.")
    parser.add_argument("--env-file", default=".env", help="dotenv file filling unset variables (default: .env)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="the Slack app manifest (scopes, serving mode)")
    parser.add_argument(
        "--mode",
        choices=("socket", "http"),
        help="check for `orderdesk serve --mode MODE` (default: socket when SLACK_APP_TOKEN is set, else http)",
    )
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        bot_scopes(manifest)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        parser.error(f"cannot read the bot scopes from {args.manifest}: {error}")
    try:
        settings = Settings.from_env(dotenv_path=args.env_file)
    except ConfigError as error:
        source = args.env_file if Path(args.env_file).is_file() else f"{args.env_file} (no such file)"
        _print(failed("settings", f"{len(error.problems)} problem(s) in the environment or {source}", *error.problems))
        return 2
    mode = args.mode or ("socket" if settings.socket_mode_available else "http")
    if mode == "socket" and not settings.socket_mode_available:
        _print(failed("settings", "--mode socket needs SLACK_APP_TOKEN", FIX_APP_AUTH))
        return 2
    label = "Socket Mode" if mode == "socket" else "HTTP mode"
    _print(ok("settings", f"{label}, Page {settings.fb_page_id}, Graph {settings.fb_graph_version}"))
    any_failed = False
    for check in diagnose(settings, manifest, mode):
        _print(check)
        any_failed |= check.status is Status.FAILED
    return 1 if any_failed else 0
