"""``manifest.yml`` is a valid Slack app manifest and agrees with the listeners the app registers.

Slack's manifest schema is kept in ``tests/data/slack/`` with its MIT licence, so the check runs in a clone with
nothing beside it; a last test keeps every file of the repository from reaching outside it again.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_bolt import App

from bot.slack import ids
from handlers import register_all

REPO = Path(__file__).parents[1]
SCHEMA = REPO / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"
# Not part of the repository: what a checkout makes, installs or caches beside the tracked files.
UNTRACKED_DIRS = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__"}
UNTRACKED_DIRS |= {"artifacts", "build", "demo"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "manifest.yml").read_text())
    return loaded


class RegistrationRecorder:
    """Passed to each ``register(app)`` in place of the App: records what is registered, then registers it."""

    KINDS = ("command", "shortcut", "action", "view", "event", "options", "message")

    def __init__(self, app: App) -> None:
        self._app = app
        self.registered: dict[str, set[str]] = defaultdict(set)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._app, name)
        if name not in self.KINDS:
            return method

        def record(constraint: Any, *args: Any, **kwargs: Any) -> Any:
            self.registered[name].add(constraint if isinstance(constraint, str) else json.dumps(constraint))
            return method(constraint, *args, **kwargs)

        return record


@pytest.fixture(scope="module")
def registered() -> dict[str, set[str]]:
    app = App(token="xoxb-offline", signing_secret="offline", token_verification_enabled=False)
    recorder = RegistrationRecorder(app)
    register_all(recorder)  # type: ignore[arg-type]
    return recorder.registered


def test_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest, schema)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda m: m["features"]["shortcuts"][0].pop("callback_id"),
        lambda m: m["features"]["slash_commands"][0].update(command="order"),
        lambda m: m["display_information"].update(name="x" * 36),
    ],
)
def test_the_schema_check_catches_a_broken_manifest(manifest: dict[str, Any], breakage: Any) -> None:
    broken = json.loads(json.dumps(manifest))
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))


def test_commands_in_the_manifest_are_exactly_the_registered_ones(
    manifest: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == registered["command"]
    assert ids.ORDER_COMMAND in registered["command"]


def test_shortcuts_in_the_manifest_are_exactly_the_registered_ones(
    manifest: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    assert {s["callback_id"] for s in manifest["features"]["shortcuts"]} == registered["shortcut"]
    assert ids.LOOKUP_SHORTCUT in registered["shortcut"]


def test_bot_events_in_the_manifest_are_exactly_the_registered_ones(
    manifest: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    declared = set(manifest["settings"].get("event_subscriptions", {}).get("bot_events", []))
    assert declared == registered["event"]


def test_interactivity_is_on_when_anything_interactive_is_registered(
    manifest: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    interactive = registered["shortcut"] | registered["action"] | registered["view"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is bool(interactive)


HTTP_URL = "https://orderdesk.example.com/slack/events"


def http_mode(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as README's "HTTP mode instead" step makes it: Socket Mode off, every Request URL set."""
    changed: dict[str, Any] = json.loads(json.dumps(manifest))
    settings = changed["settings"]
    settings["socket_mode_enabled"] = False
    for command in changed["features"]["slash_commands"]:
        command["url"] = HTTP_URL
    settings["interactivity"]["request_url"] = HTTP_URL
    settings["interactivity"]["message_menu_options_url"] = HTTP_URL
    settings.setdefault("event_subscriptions", {})["request_url"] = HTTP_URL
    return changed


def test_http_mode_sets_every_url_slack_needs_for_the_registered_listeners(
    manifest: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    """An external select (the carrier picker) gets its options from the Options Load URL, which only HTTP mode
    needs: README's HTTP step and the manifest's comment name it, and the manifest with it is valid."""
    readme = (REPO / "README.md").read_text()
    step = readme[readme.index("6. HTTP mode instead") : readme.index("7. For new-order announcements")]
    needed = {"`url:`", "`request_url:`"} | ({"`message_menu_options_url:`"} if registered["options"] else set())
    assert {key for key in needed if key not in step} == set()
    assert ids.CARRIER_SELECT in registered["options"]
    assert "message_menu_options_url: https://<your host>/slack/events" in (REPO / "manifest.yml").read_text()
    schema = json.loads(SCHEMA.read_text())
    interactivity = schema["definitions"]["app-manifests.v1.settings.interactivity"]
    assert "message_menu_options_url" in interactivity["properties"]
    jsonschema.validate(http_mode(manifest), schema)


def test_registered_action_ids_are_known_ids(registered: dict[str, set[str]]) -> None:
    """Buttons are rendered from ``bot.slack.ids``; a listener on any other id would never be reached."""
    assert registered["action"] <= set(ids.ALL_ACTION_IDS)


def test_socket_mode_is_on_and_org_deploy_off(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["org_deploy_enabled"] is False


def test_every_bot_scope_says_why(manifest: dict[str, Any]) -> None:
    """Each scope line carries a comment, so a reviewer can check it is still needed."""
    lines = (REPO / "manifest.yml").read_text().splitlines()
    for scope in manifest["oauth_config"]["scopes"]["bot"]:
        [line] = [x for x in lines if x.strip().startswith(f"- {scope} ")]
        assert "#" in line, scope
        assert len(line.split("#", 1)[1].strip()) > 10, scope


def test_the_schema_and_its_licence_are_in_the_repository() -> None:
    assert SCHEMA.is_relative_to(REPO)
    assert json.loads(SCHEMA.read_text())["$schema"]
    assert "MIT License" in (SCHEMA.parent / "LICENSE.manifest-schema").read_text()


def _repository_files() -> list[Path]:
    files = []
    for path in sorted(REPO.rglob("*")):
        parts = path.relative_to(REPO).parts
        if path.is_file() and not (set(parts) & UNTRACKED_DIRS or parts[0].endswith(".egg-info")):
            files.append(path)
    return files


def test_no_file_reaches_outside_the_repository() -> None:
    """A clone has nothing beside it: no code, test or tool may read the workspace's shared folder."""
    outside = ("..", "shared")  # spelled in parts, so that this file does not name it itself
    needles = ["/".join(outside), "/work/" + outside[1]]
    offending = []
    for path in _repository_files():
        if path.suffix == ".md":
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:  # images and other binary files read nothing
            continue
        offending += [f"{path.relative_to(REPO)}: {n}" for n in needles if n in text]
    assert offending == []
    assert REPO / "tests" / "test_manifest.py" in _repository_files()  # the walk does see the tree


def _readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(f"### {title}\n")
    end = readme.find("\n#", start + 1)
    return readme[start : end if end != -1 else None]


def test_the_readme_walks_through_creating_the_app_with_the_settings_env_example_has() -> None:
    steps = _readme_section("Create the Slack app from manifest.yml")
    named = set(re.findall(r"\b(?:SLACK|FB|ORDERDESK)_[A-Z_]+\b", steps))
    documented = set(re.findall(r"^([A-Z_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} <= named
    assert named - documented == set()
    assert "connections:write" in steps
    assert "/slack/events" in steps  # HTTP mode's Request URL, the path the server answers on


def test_the_readme_points_only_at_what_the_repository_has() -> None:
    readme = (REPO / "README.md").read_text()
    assert re.findall(r"design\.md|design notes|\bissue \d+", readme, re.IGNORECASE) == []
    paths = set(re.findall(r"`((?:bot|handlers|tests|bench|docs)/[\w./]*)`", readme))
    assert paths
    assert sorted(p for p in paths if not (REPO / p).exists()) == []


def test_the_unfurl_domain_is_the_host_of_the_order_links_the_bot_unfurls(manifest: dict[str, Any]) -> None:
    """Slack sends ``link_shared`` only for the manifest's ``unfurl_domains``: they must be exactly the Commerce
    Manager host the unfurl listener recognises, and a link of the card's own shape on that host must unfurl."""
    from bot.lookup.unfurl import COMMERCE_MANAGER_HOST, order_links
    from bot.slack.views import reading

    assert manifest["features"]["unfurl_domains"] == [COMMERCE_MANAGER_HOST]
    card_link = reading.commerce_manager_link(f"https://{COMMERCE_MANAGER_HOST}/commerce_manager/", "7001234567890")
    assert card_link is not None
    assert order_links([card_link], "https://www.facebook.com/commerce_manager/") == {card_link: "7001234567890"}
