"""``orderdesk doctor`` against both sandboxes over real HTTP: all green, then each failure with its fix line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.doctor import main, manifest_bot_scopes
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack_web import DEFAULT_SCOPES, SlackSandbox

# Canaries: none of these may ever appear in doctor's output, valid or not.
BOT_TOKEN = "xoxb-canary-bot-5e1f"
APP_TOKEN = "xapp-canary-app-77aa"
PAGE_TOKEN = "canary-page-token-9c3d"
WRONG = {"SLACK_BOT_TOKEN": "xoxb-canary-wrong-b0", "SLACK_APP_TOKEN": "xapp-canary-wrong-a1"}
WRONG_PAGE_TOKEN = "canary-wrong-page-c2"
SECRETS = (BOT_TOKEN, APP_TOKEN, PAGE_TOKEN, WRONG_PAGE_TOKEN, *WRONG.values(), "canary-signing")


@dataclass
class Stack:
    slack: SlackSandbox
    graph: GraphSandbox
    env: dict[str, str]
    tmp_path: Path
    capsys: pytest.CaptureFixture[str]

    def doctor(self, **changes: str) -> tuple[int, str]:
        """Run ``orderdesk doctor --env-file <file>`` with the stack's settings plus ``changes``."""
        env_file = self.tmp_path / "doctor.env"
        env_file.write_text("".join(f"{name}={value}\n" for name, value in (self.env | changes).items()))
        code = main(["--env-file", str(env_file)])
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
        }
        yield Stack(slack, graph, env, tmp_path, capsys)


def test_all_green(stack: Stack) -> None:
    code, out = stack.doctor()
    assert code == 0, out
    names = [line.split(":")[0] for line in out.splitlines()]
    assert names == [
        "✓ settings",
        "✓ slack bot token",
        "✓ slack scopes",
        "✓ slack app token",
        "✓ graph token",
        "✓ commerce orders",
        "✓ database",
        "✓ channel C0ORDERS",
        "✓ channel C0SUPPORT",
    ]
    assert "fix:" not in out
    assert f"all {len(DEFAULT_SCOPES)} scopes" in out


def test_the_sandbox_grants_exactly_the_manifest_scopes() -> None:
    assert frozenset(DEFAULT_SCOPES) == manifest_bot_scopes()


def test_http_mode_skips_the_app_token(stack: Stack) -> None:
    code, out = stack.doctor(SLACK_APP_TOKEN="")
    assert code == 0, out
    assert "✓ slack app token: not set" in out
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
                     "set ORDERDESK_DB to a file in an existing directory", id="unwritable-database"),
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
