"""``orderdesk doctor`` against both sandboxes over real HTTP: all green, then each failure with its fix line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import doctor_slack
from bot.cli.doctor import MANIFEST, main, manifest_bot_scopes
from bot.runtime import serve
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack_web import DEFAULT_SCOPES, SlackSandbox

# Canaries: none of these may ever appear in doctor's output, valid or not.
BOT_TOKEN = "xoxb-canary-bot-5e1f"
APP_TOKEN = "xapp-canary-app-77aa"
PAGE_TOKEN = "canary-page-token-9c3d"
WRONG = {"SLACK_BOT_TOKEN": "xoxb-canary-wrong-b0", "SLACK_APP_TOKEN": "xapp-canary-wrong-a1"}
WRONG_PAGE_TOKEN = "canary-wrong-page-c2"
ROOT = Path(__file__).resolve().parents[2]
SECRETS = (BOT_TOKEN, APP_TOKEN, PAGE_TOKEN, WRONG_PAGE_TOKEN, *WRONG.values(), "canary-signing")


@dataclass
class Stack:
    slack: SlackSandbox
    graph: GraphSandbox
    env: dict[str, str]
    tmp_path: Path
    capsys: pytest.CaptureFixture[str]

    def doctor(self, *args: str, **changes: str) -> tuple[int, str]:
        """Run ``orderdesk doctor --env-file <file> *args`` with the stack's settings plus ``changes``."""
        env_file = self.tmp_path / "doctor.env"
        env_file.write_text("".join(f"{name}={value}\n" for name, value in (self.env | changes).items()))
        code = main(["--env-file", str(env_file), *args])
        out = self.capsys.readouterr().out
        assert not [secret for secret in SECRETS if secret in out]
        return code, out


@pytest.fixture
def stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Stack]:
    slack = SlackSandbox(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    graph = GraphSandbox(token=PAGE_TOKEN, orders=3)
    with slack.serve(), graph.serve() as graph_server:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "canary-signing",
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "FB_PAGE_ID": graph.page_id,
            "FB_PAGE_ACCESS_TOKEN": PAGE_TOKEN,
            "FB_GRAPH_URL": graph_server.url,
            "ORDERDESK_DB": str(tmp_path / "orderdesk.db"),
            "ORDERDESK_NOTIFY_CHANNEL": "C0ORDERS",
            "ORDERDESK_ROUTES": "instagram=C0SUPPORT",
            "ORDERDESK_GRAPH_MAX_RETRIES": "0",
            "ORDERDESK_SEARCH_KEY": "doctor-test-search-key-0123456789",
            "ORDERDESK_CANCEL_ALLOWED": "U0AGENT1,S0ONCALL",
            "ORDERDESK_REFUND_ALLOWED": "U0AGENT1",
        }
        yield Stack(slack, graph, env, tmp_path, capsys)


def test_all_green(stack: Stack) -> None:
    code, out = stack.doctor()
    assert code == 0, out
    names = [line.split(":")[0] for line in out.splitlines()]
    assert names == [
        "✓ settings",
        "✓ serving mode",
        "✓ slack bot token",
        "✓ slack scopes",
        "✓ slack app token",
        "✓ graph token",
        "✓ commerce orders",
        "✓ database",
        "✓ search key",
        "✓ who may ship",
        "✓ who may cancel",
        "✓ who may refund",
        "✓ channel C0ORDERS",
        "✓ channel C0SUPPORT",
    ]
    assert "fix:" not in out
    assert f"all {len(DEFAULT_SCOPES)} scopes" in out
    assert "doctor-test-search-key" not in out


def test_the_sandbox_grants_exactly_the_manifest_scopes() -> None:
    assert frozenset(DEFAULT_SCOPES) == manifest_bot_scopes()


def test_http_mode_skips_the_app_token(stack: Stack) -> None:
    code, out = stack.doctor("--manifest", str(http_manifest(stack.tmp_path)), SLACK_APP_TOKEN="")
    assert code == 0, out
    assert "✓ slack app token: not set" in out
    assert "✓ serving mode: HTTP mode" in out
    assert not stack.slack.calls("apps.connections.open")


def _fewer_scopes(stack: Stack) -> None:
    stack.slack.scopes = tuple(s for s in DEFAULT_SCOPES if s not in {"channels:history", "usergroups:read"})


@pytest.mark.parametrize(
    ("changes", "setup", "failing", "fix"),
    [
        pytest.param({"SLACK_BOT_TOKEN": WRONG["SLACK_BOT_TOKEN"]}, None, "slack bot token", "set SLACK_BOT_TOKEN",
                     id="bad-slack-token"),
        pytest.param({}, _fewer_scopes, "slack scopes", "Bot Token Scopes", id="missing-scope"),
        pytest.param({"SLACK_APP_TOKEN": WRONG["SLACK_APP_TOKEN"]}, None, "slack app token", "connections:write",
                     id="bad-app-token"),
        pytest.param({"FB_PAGE_ACCESS_TOKEN": WRONG_PAGE_TOKEN}, None, "graph token",
                     "the Page token is invalid or expired: issue a new system-user token", id="bad-graph-token"),
        pytest.param({}, lambda s: s.graph.set_faults(invalid_token=True), "graph token",
                     "issue a new system-user token", id="expired-graph-token"),
        pytest.param({}, lambda s: s.graph.set_faults(revoke_permission=True, match={"path": "commerce_orders"}),
                     "commerce orders", "the app lacks commerce_account_read_orders/manage_orders or the token's "
                     "Page role is below EDITOR", id="revoked-permission"),
        pytest.param({"FB_PAGE_ID": "999999"}, None, "graph token", "check FB_PAGE_ID", id="unknown-page"),
        pytest.param({}, lambda s: s.graph.set_faults(status=503, count=5), "graph token", "FB_GRAPH_URL",
                     id="graph-down"),
        pytest.param({"ORDERDESK_DB": "{tmp}/no-such-dir/orderdesk.db"}, None, "database",
                     "set ORDERDESK_DB to a file in an existing folder", id="missing-database-folder"),
        pytest.param({"ORDERDESK_DB": "{tmp}"}, None, "database", "set ORDERDESK_DB to a file in an existing folder",
                     id="database-is-a-folder"),
        pytest.param({"ORDERDESK_DB": "{tmp}/garbage.db"}, lambda s: (s.tmp_path / "garbage.db").write_bytes(
                     b"\x00garbage" * 100), "database", "move the file away", id="damaged-database"),
        pytest.param({"ORDERDESK_NOTIFY_CHANNEL": "C0RANDOM"}, None, "channel C0RANDOM",
                     "invite the bot: /invite @orderdesk in #random", id="bot-not-in-channel"),
        pytest.param({"ORDERDESK_ROUTES": "facebook=C0GONE"}, None, "channel C0GONE", "ORDERDESK_ROUTES",
                     id="unknown-channel"),
    ],
)  # fmt: skip
def test_each_failure_names_the_check_and_the_fix(
    stack: Stack,
    changes: dict[str, str],
    setup: Callable[[Stack], None] | None,
    failing: str,
    fix: str,
) -> None:
    if setup is not None:
        setup(stack)
    code, out = stack.doctor(**{name: value.format(tmp=stack.tmp_path) for name, value in changes.items()})
    assert code == 1, out
    lines = out.splitlines()
    failed = [line for line in lines if line.startswith("✗")]
    assert [line.split(":")[0] for line in failed] == [f"✗ {failing}"], out
    fix_line = lines[lines.index(failed[0]) + 1]
    assert fix_line.startswith("  fix: ")
    assert fix in fix_line


def test_a_bad_slack_token_skips_what_needs_it(stack: Stack) -> None:
    code, out = stack.doctor(SLACK_BOT_TOKEN=WRONG["SLACK_BOT_TOKEN"])
    assert code == 1
    assert "✗ slack bot token: Slack answered invalid_auth" in out
    assert "– slack scopes: skipped" in out
    assert "– channel C0ORDERS: skipped" in out
    assert not stack.slack.calls("conversations.info")


def test_missing_settings_list_every_problem(stack: Stack) -> None:
    code, out = stack.doctor(SLACK_BOT_TOKEN="", FB_PAGE_ID="not-a-number", FB_PAGE_ACCESS_TOKEN="")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == "✗ settings: 3 problem(s) in the environment or " + str(stack.tmp_path / "doctor.env")
    fixes = "\n".join(lines[1:])
    for name in ("SLACK_BOT_TOKEN is missing", "FB_PAGE_ID is malformed", "FB_PAGE_ACCESS_TOKEN is missing"):
        assert f"  fix: {name}" in fixes
    assert len(lines) == 4
    assert not stack.slack.calls()


def test_unreachable_slack_says_where_it_looked(stack: Stack) -> None:
    with SlackSandbox().serve() as gone:
        url = f"{gone.url}/api/"
    code, out = stack.doctor(SLACK_API_URL=url)
    assert code == 1
    assert "✗ slack bot token: cannot reach Slack" in out
    assert f"  fix: check SLACK_API_URL ({url})" in out


def test_a_missing_database_is_not_created(stack: Stack) -> None:
    path = stack.tmp_path / "fresh.db"
    code, out = stack.doctor(ORDERDESK_DB=str(path))
    assert code == 0, out
    assert f"✓ database: {path} does not exist yet: it will be created at the first start" in out
    assert not path.exists()
    assert [p.name for p in stack.tmp_path.iterdir() if p.name.startswith("fresh.db")] == []


def test_database_problems_use_the_start_up_words(stack: Stack) -> None:
    """Doctor and a failed ``orderdesk serve`` describe an unusable ORDERDESK_DB in the same words."""
    path = stack.tmp_path / "no-such-dir" / "orderdesk.db"
    code, out = stack.doctor(ORDERDESK_DB=str(path))
    assert code == 1
    folder = stack.tmp_path / "no-such-dir"
    assert f"✗ database: ORDERDESK_DB={path}: the folder {folder} does not exist: create it, or correct the path" in out
    assert not folder.exists()


def test_the_placeholders_of_env_example_are_refused(stack: Stack) -> None:
    example = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if re.match(r"^[A-Z_]+=", line)
    )
    placeholders = {name: example[name] for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "FB_PAGE_ACCESS_TOKEN")}
    code, out = stack.doctor(**placeholders)
    assert code == 2, out
    lines = out.splitlines()
    assert lines[0].startswith("✗ settings: 3 problem(s)")
    assert lines[1:] == [
        "  fix: SLACK_BOT_TOKEN is still the placeholder from .env.example: set it to the Bot User OAuth Token "
        "(xoxb-…) from the app's OAuth & Permissions page",
        "  fix: SLACK_SIGNING_SECRET is still the placeholder from .env.example: set it to the Signing Secret from the "
        "app's Basic Information page",
        "  fix: FB_PAGE_ACCESS_TOKEN is still the placeholder from .env.example: set it to a Page access token for "
        "FB_PAGE_ID (a system user's token: Business Settings → System users)",
    ]
    assert not stack.slack.calls()


def http_manifest(folder: Path, **changes: Any) -> Path:
    """manifest.yml as set up for HTTP mode: Socket Mode off, every request URL at /slack/events."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["settings"]["socket_mode_enabled"] = False
    for command in manifest["features"]["slash_commands"]:
        command["url"] = "https://orderdesk.example.com/slack/events"
    manifest["settings"]["interactivity"]["request_url"] = "https://orderdesk.example.com/slack/events"
    manifest["settings"]["event_subscriptions"]["request_url"] = "https://orderdesk.example.com/slack/events"
    manifest["settings"].update(changes)
    path = folder / "manifest.yml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_http_mode_warns_when_the_manifest_is_set_for_socket_mode(stack: Stack) -> None:
    code, out = stack.doctor(SLACK_APP_TOKEN="")  # the repository's manifest.yml: Socket Mode, no request URLs
    assert code == 0, out  # a warning, not a failure
    lines = out.splitlines()
    [warning] = [line for line in lines if line.startswith("! serving mode:")]
    assert "socket_mode_enabled is true" in warning
    assert "no request URL for /order, interactivity" in warning
    fix = lines[lines.index(warning) + 1]
    assert fix.startswith("  fix: in manifest.yml set socket_mode_enabled: false and the request URLs")


def test_http_mode_warns_about_a_request_url_elsewhere(stack: Stack) -> None:
    manifest = http_manifest(stack.tmp_path, event_subscriptions={"request_url": "https://orderdesk.example.com/"})
    code, out = stack.doctor("--manifest", str(manifest), SLACK_APP_TOKEN="")
    assert code == 0, out
    assert (
        "! serving mode: the bot serves over HTTP but in manifest.yml the request URL for event subscriptions "
        + ("does not end in /slack/events")
        in out
    )


def test_socket_mode_warns_when_the_manifest_turns_it_off(stack: Stack) -> None:
    code, out = stack.doctor("--manifest", str(http_manifest(stack.tmp_path)))  # SLACK_APP_TOKEN is set
    assert code == 0, out
    assert (
        "! serving mode: the bot serves over Socket Mode (SLACK_APP_TOKEN is set) but manifest.yml has "
        + ("socket_mode_enabled: false")
        in out
    )


def test_mode_http_is_checked_as_serve_would_run(stack: Stack) -> None:
    code, out = stack.doctor("--mode", "http", "--manifest", str(http_manifest(stack.tmp_path)))
    assert code == 0, out
    assert "✓ settings: HTTP mode" in out
    assert "✓ serving mode: HTTP mode" in out
    assert "✓ slack app token: not used: serve --mode http" in out
    assert not stack.slack.calls("apps.connections.open")


def test_mode_socket_without_an_app_token_is_a_settings_error(stack: Stack) -> None:
    code, out = stack.doctor("--mode", "socket", SLACK_APP_TOKEN="")
    assert code == 2
    assert out.splitlines()[0] == "✗ settings: --mode socket needs SLACK_APP_TOKEN"


def test_doctor_checks_the_path_serve_takes_requests_at() -> None:
    assert doctor_slack.EVENTS_PATH == serve.EVENTS_PATH


def test_a_missing_search_key_is_a_warning_that_says_how_to_set_it(stack: Stack) -> None:
    code, out = stack.doctor(ORDERDESK_SEARCH_KEY="")
    assert code == 0, out
    assert "! search key: ORDERDESK_SEARCH_KEY is not set" in out
    assert "fix: set ORDERDESK_SEARCH_KEY to a random secret" in out


def test_empty_cancel_and_refund_lists_are_warnings_that_say_how_to_allow_them(stack: Stack) -> None:
    code, out = stack.doctor(ORDERDESK_CANCEL_ALLOWED="", ORDERDESK_REFUND_ALLOWED="")
    assert code == 0, out
    assert "✓ who may ship: everyone in the workspace" in out
    assert "! who may cancel: ORDERDESK_CANCEL_ALLOWED is empty: nobody can cancel orders from Slack" in out
    assert "fix: set ORDERDESK_REFUND_ALLOWED to the Slack user ids (U…) and user-group ids (S…)" in out
    assert "✓ who may cancel: 1 user and 1 user group" in stack.doctor()[1]


def test_refund_approvals_say_where_requests_go_and_warn_when_nobody_else_could_approve(stack: Stack) -> None:
    code, out = stack.doctor(
        ORDERDESK_REFUND_APPROVAL_OVER="100",
        ORDERDESK_APPROVAL_CHANNEL="C0RANDOM",
        ORDERDESK_REFUND_ALLOWED="U0AGENT1,S0ONCALL",
    )
    assert (
        "✓ refund approvals: refunds over 100 before tax (in each order's own currency) wait for a second person's "
        "approval in channel C0RANDOM" in out
    )
    assert "requests expire after 1d" in out
    assert "channel C0RANDOM" in out.split("refund approvals", 1)[1]  # its channel is checked like the others
    code, out = stack.doctor(ORDERDESK_REFUND_APPROVAL_OVER="100", ORDERDESK_REFUND_ALLOWED="U0AGENT1")
    assert code == 0, out
    assert "! refund approvals: refunds over 100 need a second person's approval, but" in out
    assert "fix: add a second person or a user group to ORDERDESK_REFUND_ALLOWED" in out
