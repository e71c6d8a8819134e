"""The app frame in process: signed BoltRequests through ``app.dispatch``, the Slack sandbox on a real port."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltContext, BoltRequest

from bot import logs
from bot.config import Settings
from bot.graph.client import GraphClient
from bot.lookup.service import OrderService
from bot.runtime.app import create_app
from bot.runtime.later import InlineExecutor, Later, WorkPool, work_pool, work_threads
from bot.runtime.services import Services
from bot.sandbox.graph import GraphSandbox
from bot.sandbox.slack import DEFAULT_BOT_TOKEN, DEFAULT_SIGNING_SECRET, SlackRequester, SlackSandbox
from bot.slack import ids
from bot.slack.views.blocks import help_blocks
from bot.storage.sqlite.store import Store
from handlers import commands

USER, CHANNEL = "U0AGENT1", "C0ORDERS"
REFERENCE_MESSAGE = re.compile(
    r"^Something went wrong \(reference ([0-9a-f]{10})\)\. Try again; if it keeps happening, tell your admin\.$"
)


@pytest.fixture
def slack_sandbox() -> Iterator[SlackSandbox]:
    sandbox = SlackSandbox()
    server = sandbox.serve()  # already started
    try:
        yield sandbox
    finally:
        server.stop()


@pytest.fixture
def settings(slack_sandbox: SlackSandbox, tmp_path: Path) -> Settings:
    return Settings(
        slack_bot_token=DEFAULT_BOT_TOKEN,
        slack_signing_secret=DEFAULT_SIGNING_SECRET,
        slack_api_url=slack_sandbox.api_url,
        fb_page_id="1122334455",
        fb_page_access_token="sandbox-page-token",
        db_path=str(tmp_path / "orderdesk.db"),
        http_workers=4,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    graph = GraphClient.from_settings(settings, transport=GraphSandbox(orders=5).transport())
    store = Store(settings.db_path)
    orders = OrderService(settings, graph, store)
    with Services(settings=settings, graph=graph, store=store, orders=orders) as built:
        yield built


@pytest.fixture
def make_app(settings: Settings, services: Services) -> Callable[..., App]:
    def make(*, work: Executor | None = None) -> App:
        return create_app(settings, services=services, work=work or InlineExecutor())

    return make


@pytest.fixture
def signer(slack_sandbox: SlackSandbox) -> Iterator[SlackRequester]:
    # Only its signing is used here: nothing is sent over HTTP to a bot in these tests.
    with SlackRequester(slack_sandbox, "http://127.0.0.1:9/unused", DEFAULT_SIGNING_SECRET) as requester:
        yield requester


def slash_command(
    sandbox: SlackSandbox, signer: SlackRequester, text: str, *, with_response_url: bool = True
) -> tuple[BoltRequest, str | None]:
    """A signed ``/order`` request as Slack sends it, and its response URL."""
    fields = {
        "team_id": sandbox.team_id,
        "channel_id": CHANNEL,
        "user_id": USER,
        "command": ids.ORDER_COMMAND,
        "text": text,
        "trigger_id": sandbox.new_trigger_id(user=USER),
    }
    response_url = sandbox.new_response_url(channel=CHANNEL, user=USER) if with_response_url else None
    if response_url:
        fields["response_url"] = response_url
    body = urlencode(fields)
    headers = {"content-type": "application/x-www-form-urlencoded", **signer.sign(body.encode())}
    return BoltRequest(body=body, headers=headers), response_url


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "  help  "])
def test_order_help_answers_ephemerally_with_the_usage(
    make_app: Callable[..., App], slack_sandbox: SlackSandbox, signer: SlackRequester, text: str
) -> None:
    request, response_url = slash_command(slack_sandbox, signer, text)
    response = make_app().dispatch(request)
    assert response.status == 200
    assert response_url
    [answer] = slack_sandbox.responses(response_url)
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"] == help_blocks()
    assert slack_sandbox.ephemerals(user=USER, channel=CHANNEL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("help", "")),
        (" \t ", ("help", "")),
        ("help", ("help", "")),
        ("Help", ("help", "")),
        ("help me please", ("help", "me please")),
        ("368508827392800", ("lookup", "368508827392800")),
        ("  FB-1001, FB-1002 ", ("lookup", "FB-1001, FB-1002")),
        ("helpdesk-42", ("lookup", "helpdesk-42")),
    ],
)
def test_parse_maps_text_to_a_subcommand(text: str, expected: tuple[str, str]) -> None:
    assert commands.parse(text) == expected
    assert expected[0] in commands.SUBCOMMANDS


def test_ack_is_sent_before_the_subcommand_runs(
    make_app: Callable[..., App], slack_sandbox: SlackSandbox, signer: SlackRequester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ordering, not timing: the subcommand blocks until the test releases it, after dispatch has returned."""
    release, finished = threading.Event(), threading.Event()

    def slow_help(argument: str, respond: Any, context: Any) -> None:
        assert release.wait(timeout=10), "dispatch never returned: the ack waited for the slow work"
        respond(text="done", response_type="ephemeral")
        finished.set()

    monkeypatch.setitem(commands.SUBCOMMANDS, "help", slow_help)
    request, response_url = slash_command(slack_sandbox, signer, "help")
    with ThreadPoolExecutor(max_workers=1) as work:
        response = make_app(work=work).dispatch(request)
        assert response.status == 200
        assert not finished.is_set()
        release.set()
    assert finished.is_set()
    assert response_url
    assert slack_sandbox.wait_for(lambda: slack_sandbox.responses(response_url))[0]["text"] == "done"


@pytest.mark.parametrize("with_response_url", [True, False])
def test_a_failing_listener_tells_the_user_a_reference_and_logs_the_traceback(
    make_app: Callable[..., App],
    slack_sandbox: SlackSandbox,
    signer: SlackRequester,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    with_response_url: bool,
) -> None:
    def broken(argument: str, respond: Any, context: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setitem(commands.SUBCOMMANDS, "help", broken)
    request, _ = slash_command(slack_sandbox, signer, "help", with_response_url=with_response_url)
    with caplog.at_level(logging.ERROR):
        make_app().dispatch(request)

    [told] = slack_sandbox.ephemerals(user=USER, channel=CHANNEL)
    assert told["source"] == ("response_url" if with_response_url else "chat.postEphemeral")
    match = REFERENCE_MESSAGE.match(told["text"])
    assert match, told["text"]
    [record] = [r for r in caplog.records if getattr(r, "reference", None) == match.group(1)]
    assert record.exc_info
    assert "secret internals" in str(record.exc_info[1])


def test_services_reach_listeners_through_the_context(
    make_app: Callable[..., App], services: Services, slack_sandbox: SlackSandbox, signer: SlackRequester
) -> None:
    app = make_app()
    seen: dict[str, Any] = {}

    @app.command("/probe")
    def probe(ack: Any, settings: Any, graph: Any, store: Any, orders: Any, request_id: Any) -> None:
        ack()
        seen.update(settings=settings, graph=graph, store=store, orders=orders, request_id=request_id)

    body = urlencode({"command": "/probe", "text": "", "user_id": USER, "channel_id": CHANNEL, "team_id": "T0"})
    headers = {"content-type": "application/x-www-form-urlencoded", **signer.sign(body.encode())}
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    assert seen["settings"] is services.settings
    assert seen["graph"] is services.graph
    assert seen["store"] is services.store
    assert seen["orders"] is services.orders
    assert re.fullmatch(r"[0-9a-f]{10}", seen["request_id"])


def test_a_request_with_a_bad_signature_runs_no_listener(
    make_app: Callable[..., App], slack_sandbox: SlackSandbox, signer: SlackRequester
) -> None:
    request, _ = slash_command(slack_sandbox, signer, "help")
    request.headers["x-slack-signature"] = ["v0=" + "0" * 64]
    assert make_app().dispatch(request).status == 401
    assert slack_sandbox.calls() == []


def test_the_lookup_shortcut_is_acked_and_answered(
    make_app: Callable[..., App], slack_sandbox: SlackSandbox, signer: SlackRequester
) -> None:
    response_url = slack_sandbox.new_response_url(channel=CHANNEL, user=USER)
    payload = {
        "type": "message_action",
        "callback_id": ids.LOOKUP_SHORTCUT,
        "team": {"id": slack_sandbox.team_id},
        "user": {"id": USER},
        "channel": {"id": CHANNEL},
        "message": {"type": "message", "text": "order 368508827392800 please", "ts": "1.000001"},
        "response_url": response_url,
        "trigger_id": slack_sandbox.new_trigger_id(user=USER),
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"content-type": "application/x-www-form-urlencoded", **signer.sign(body.encode())}
    assert make_app().dispatch(BoltRequest(body=body, headers=headers)).status == 200
    [answer] = slack_sandbox.responses(response_url)
    assert answer["response_type"] == "ephemeral"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logs.configure_logging("INFO", secrets=["plain-signing-secret"], stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def test_log_lines_are_one_line_with_bound_fields_and_no_secrets(log_stream: io.StringIO) -> None:
    log = logging.getLogger("bot.test_logs")
    meta_token = "EAAB" + "x" * 20  # built apart, so the traceback's source line does not spell it out
    logs.start_request(request_id="abc123", user=USER, channel=None)
    with logs.bound(order_id="368508827392800"):
        try:
            raise ValueError(f"token xoxb-1-2-abc leaked\nand plain-signing-secret too, {meta_token}")
        except ValueError:
            log.exception("lookup failed for %s", "368508827392800", extra={"fbtrace_id": "Axyz"})
    log.info("after the block")
    logs.start_request()

    first, second = log_stream.getvalue().splitlines()
    assert " request_id=abc123 user=U0AGENT1 order_id=368508827392800 fbtrace_id=Axyz " in first
    assert 'msg="lookup failed for 368508827392800"' in first
    assert "ValueError" in first
    assert "Traceback" in first
    for secret in ("xoxb-1-2-abc", "plain-signing-secret", meta_token):
        assert secret not in first
    assert "channel=" not in first
    assert "request_id=abc123" in second
    assert "order_id" not in second


def test_the_listener_pool_carries_bound_fields_into_its_threads(log_stream: io.StringIO) -> None:
    with logs.ContextThreadPoolExecutor(max_workers=1) as pool:
        with logs.bound(request_id="r1"):
            first = pool.submit(logs.bound_fields)
        second = pool.submit(logs.bound_fields)
        assert first.result() == {"request_id": "r1"}
        assert second.result() == {}


def test_configure_logging_replaces_its_own_handler(log_stream: io.StringIO) -> None:
    handler = logs.configure_logging("WARNING", stream=io.StringIO())
    try:
        ours = [h for h in logging.getLogger().handlers if getattr(h, "orderdesk", False)]
        assert ours == [handler]
        assert logging.getLogger().level == logging.WARNING
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def test_work_whose_error_handler_fails_is_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken_handler(*args: object) -> None:
        raise RuntimeError("handler broke")

    def work() -> None:
        raise ValueError("work broke")

    with WorkPool(max_workers=1) as pool:
        Later(pool, BoltContext(), broken_handler)(work)
    [record] = [r for r in caplog.records if r.name == "bot.slack.later"]
    assert record.levelno == logging.ERROR
    assert "handler broke" in caplog.text


def test_the_work_pool_counts_busy_and_queued_work() -> None:
    """What ``/healthz`` shows the on-call engineer when Meta is slow: threads all busy, work waiting."""
    release = threading.Event()
    with WorkPool(max_workers=1) as pool:
        assert pool.status() == {"threads": 1, "busy": 0, "queued": 0}
        first, second = pool.submit(release.wait, 10), pool.submit(lambda: "done")
        while pool.status()["busy"] == 0:  # the first task has started: its thread is taken
            release.wait(0.01)
        assert pool.status() == {"threads": 1, "busy": 1, "queued": 1}
        release.set()
        assert first.result(timeout=10) is True
        assert second.result(timeout=10) == "done"
    assert pool.status() == {"threads": 1, "busy": 0, "queued": 0}


def test_the_work_pool_is_sized_from_settings(settings: Settings) -> None:
    executor = work_pool(settings)
    try:
        assert isinstance(executor, logs.ContextThreadPoolExecutor)
        assert executor._max_workers == work_threads(settings) == settings.http_workers * 8
    finally:
        executor.shutdown()
