"""Every Slack Web API method the bot calls has its bot scopes in ``manifest.yml``: a workspace installed from the
manifest never answers ``missing_scope``.

The methods are found in the code (``bot/`` and ``handlers/``, the sandboxes aside): each call of a ``WebClient``
method by attribute (``client.chat_postMessage(...)``) and each method named in a string (the publisher's
``call("chat_update", ...)``). Each must be in :data:`SCOPES`, which says what Slack's method pages
(https://docs.slack.dev/reference/methods/<method>) require of a bot token for the conversations orderdesk uses it
on; a method added to the code without a row here fails the suite, and so does a scope missing from the manifest.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from slack_sdk import WebClient

REPO = Path(__file__).parents[1]
CODE = ("bot", "handlers")
NOT_THE_BOT = ("bot/sandbox",)  # the sandboxes play Slack; they are not the bot calling it

# method → the bot scopes it needs as orderdesk calls it (docs.slack.dev/reference/methods/<method>, "Scopes")
SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),  # any token
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.unfurl": frozenset({"links:write"}),
    # public and private notification channels
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "conversations.open": frozenset({"im:write"}),  # a DM with one user: reminders, exports
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "usergroups.list": frozenset({"usergroups:read"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),
    "views.open": frozenset(),  # a trigger_id is the permission
    "views.update": frozenset(),
    "views.publish": frozenset(),
}
# Called with the app-level token (Socket Mode), whose scope is the manifest's connections:write, not a bot scope.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


def _web_methods() -> dict[str, str]:
    """``files_getUploadURLExternal`` → ``files.getUploadURLExternal``: every Web API method of slack_sdk's client."""
    methods: dict[str, str] = {}
    for name in dir(WebClient):
        if name.startswith("_") or not callable(getattr(WebClient, name)):
            continue
        if name in ("api_call", "logger") or "_" not in name:
            continue
        methods[name] = name.replace("_", ".")
    return methods


def called_methods() -> dict[str, set[str]]:
    """Slack method → the files that call it."""
    methods = _web_methods()
    found: dict[str, set[str]] = {}
    for root in CODE:
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative.startswith(NOT_THE_BOT):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                name = None
                if isinstance(node, ast.Attribute):
                    name = node.attr
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    name = node.value.replace(".", "_")
                if name in methods:
                    found.setdefault(methods[name], set()).add(relative)
    return found


@pytest.fixture(scope="module")
def bot_scopes() -> set[str]:
    manifest = yaml.safe_load((REPO / "manifest.yml").read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_scan_finds_the_methods_it_should() -> None:
    found = called_methods()
    for method in ("chat.unfurl", "files.completeUploadExternal", "conversations.open", "chat.update"):
        assert method in found, method


def test_every_method_the_bot_calls_has_its_scopes_listed() -> None:
    unknown = sorted(set(called_methods()) - set(SCOPES) - APP_TOKEN_METHODS)
    assert unknown == [], f"add these methods and the scopes Slack's pages give them to SCOPES: {unknown}"


def test_the_manifest_grants_every_scope_the_bot_needs(bot_scopes: set[str]) -> None:
    missing = {
        method: sorted(SCOPES[method] - bot_scopes)
        for method in sorted(called_methods())
        if method in SCOPES and SCOPES[method] - bot_scopes
    }
    assert missing == {}, f"manifest.yml lacks bot scopes: {missing}"
