"""The whole bot over real HTTP on 127.0.0.1, for end-to-end tests: Graph sandbox, Slack sandbox, the bot.

Everything is wired only through ``Settings``, exactly as a deployment is (``SLACK_API_URL`` → the Slack sandbox,
``FB_GRAPH_URL`` → the Graph sandbox), so a test through a :class:`Stack` exercises the real server, signature
checks, Bolt, the listeners, the Graph client and the Web API client.

Use the ``stack`` fixture::

    from e2e_stack import Stack, stack_fixture  # noqa: F401  (importing it registers the ``stack`` fixture)

    def test_something(stack: Stack) -> None:
        sent = stack.slack.slash_command("help")
        assert sent.response.status_code == 200
        stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url))

or, for a customised stack (other settings, a differently seeded Graph sandbox), the context manager::

    with Stack.start(tmp_path, graph_sandbox=GraphSandbox(orders=0), notify_channel="C0ORDERS") as stack: ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.runtime.serve import EVENTS_PATH, HttpServer, build_server
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.settings import sandbox_settings
from bot.sandbox.slack import DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox


@dataclass(frozen=True)
class Stack:
    settings: Settings
    graph_sandbox: GraphSandbox
    slack_sandbox: SlackSandbox
    services: Services
    server: HttpServer  # the bot: .url, .add_worker(), .add_status(), .app
    slack: SlackRequester  # plays Slack towards the bot: signed commands, actions, shortcuts, events

    @classmethod
    @contextmanager
    def start(
        cls,
        tmp_path: Path,
        *,
        graph_sandbox: GraphSandbox | None = None,
        slack_sandbox: SlackSandbox | None = None,
        **settings: Any,
    ) -> Iterator[Stack]:
        """Start everything on free ports; ``settings`` override :class:`Settings` fields (e.g.
        ``merchant_ref_template="FB-{order_id}"``). Everything is stopped and closed on exit, in reverse order."""
        graph_sandbox = graph_sandbox or GraphSandbox()
        slack_sandbox = slack_sandbox or SlackSandbox()
        with ExitStack() as stack:
            graph_server = graph_sandbox.serve()  # serve() returns started servers
            stack.callback(graph_server.stop)
            stack.callback(slack_sandbox.serve().stop)
            config = sandbox_settings(
                graph_sandbox,
                graph_server.url,
                slack_sandbox,
                tmp_path / "orderdesk.db",
                **{"http_workers": 8, **settings},
            )
            services = stack.enter_context(Services.open(config))
            server = stack.enter_context(build_server(config, services))
            slack = stack.enter_context(SlackRequester(slack_sandbox, server.url + EVENTS_PATH, DEFAULT_SIGNING_SECRET))
            yield cls(config, graph_sandbox, slack_sandbox, services, server, slack)


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    """A fresh stack per test, with default settings and the default seeded Graph sandbox."""
    with Stack.start(tmp_path) as started:
        yield started
