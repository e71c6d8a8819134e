"""The app factory: one ``slack_bolt.App`` per call, wired to injected services, with every listener registered.

There is no module-level ``App``: tests, the demo and ``orderdesk serve`` each build their own from explicit
settings, so nothing reads ``SLACK_*`` from the environment behind our back (Bolt would, and would even switch to
OAuth mode when it sees a client id and secret).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot import logs
from bot.config import Settings
from bot.runtime.later import urgent_lane
from bot.runtime.services import Services
from bot.slack.access import Access, workspace_of
from bot.slack.errors import BadRequest
from bot.slack.later import Later
from bot.slack.views.blocks import escape
from handlers import register_all

USER_ERROR = "Something went wrong (reference {reference}). Try again; if it keeps happening, tell your admin."

log = logging.getLogger(__name__)


def new_request_id() -> str:
    """Short enough to read out over a call, long enough not to collide within a day of logs."""
    return uuid.uuid4().hex[:10]


def web_client(settings: Settings) -> WebClient:
    """The Web API client: Slack (or the Slack sandbox) at ``SLACK_API_URL``, retrying dropped connections and 429s.

    Bolt copies base URL and retry handlers into the per-request client it gives listeners, so ``client`` and
    ``say`` retry as well. ``respond()`` does not: it uses a plain ``WebhookClient`` on the response URL.
    """
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler()],
    )


def create_app(settings: Settings, *, services: Services, work: Executor, client: WebClient | None = None) -> App:
    """Build the Bolt app.

    Each listener runs in the request's own thread (``process_before_response=True``), calls ``ack()`` and hands
    everything slow to ``later`` (:mod:`bot.slack.later`), which runs it in ``work``: the HTTP answer, the ack, leaves
    as soon as the listener returns. Production passes :func:`bot.runtime.later.work_pool`; unit tests pass
    :class:`bot.runtime.later.InlineExecutor` to have every answer sent before ``dispatch`` returns.

    ``token_verification_enabled=False`` defers ``auth.test`` to the first request, so building an app does no
    I/O and a server starts even while Slack is briefly unreachable.
    """
    logs.drop_bolt_request_dumps()
    with _without_env_token_warning():
        app = App(
            name="orderdesk",
            signing_secret=settings.slack_signing_secret,
            client=client or web_client(settings),  # it carries the bot token: Bolt warns if given both
            token_verification_enabled=False,
            process_before_response=True,
        )
    app.use(_services_middleware(services, work))
    app.error(_on_error)
    register_all(app)
    return app


@contextmanager
def _without_env_token_warning() -> Iterator[None]:
    """Bolt reads ``SLACK_BOT_TOKEN`` from the environment even when given a client, then warns at every start
    that it will use the client's token instead (slack_bolt/app/app.py). That is what we want (the client carries
    the token from Settings), so the warning would only alarm operators: drop exactly that one, only here."""
    bolt_logger = logging.getLogger("slack_bolt.App")

    def drop(record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()

    bolt_logger.addFilter(drop)
    try:
        yield
    finally:
        bolt_logger.removeFilter(drop)


def _services_middleware(services: Services, work: Executor) -> Callable[..., None]:
    """Put the services and ``later`` into every request's context and bind the request's log fields (no I/O: it
    runs on the ack path)."""
    shared = services.context()
    access = services.access
    urgent = urgent_lane(work)

    def inject_services(context: BoltContext, body: dict[str, Any], next_: Callable[[], None]) -> None:
        request_id = new_request_id()
        context.update(shared)
        context["request_id"] = request_id
        logs.start_request(
            request_id=request_id, team=context.team_id, user=context.user_id, channel=context.channel_id
        )
        admit = _admission(access, body) if access is not None else None
        context["later"] = Later(work, context, _on_error, urgent=urgent, admit=admit)
        next_()

    return inject_services


def _admission(access: Access, body: dict[str, Any]) -> Callable[[BoltContext], bool]:
    """The guest check ``later`` makes before a listener's slow part runs (a ``users.info`` call may be needed, so
    never on the ack path). A refused user is told why, ephemerally, and nothing else happens."""

    def admit(context: BoltContext) -> bool:
        if not context.user_id:
            return True  # nobody asked: the bot's own events
        user = body.get("user")
        payload_team = user.get("team_id") if isinstance(user, dict) else None
        words = access.refusal(
            user_id=str(context.user_id),
            workspace_id=workspace_of(context),
            client=context.client,
            payload_team=payload_team if isinstance(payload_team, str) else None,
            surface=_surface(body),
        )
        if words is None:
            return True
        reference = str(context.get("request_id") or new_request_id())
        _tell_user(words, context, context.respond, context.client, reference)
        return False

    return admit


def _surface(body: dict[str, Any]) -> str:
    """What a refused request asked for, as the audit trail names it: ``/order``, an action id, a callback id."""
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return str(actions[0].get("action_id") or "block_actions")[:100]
    view = body.get("view")
    if isinstance(view, dict):
        return str(view.get("callback_id") or "view_submission")[:100]
    return str(body.get("command") or body.get("callback_id") or body.get("type") or "request")[:100]


def _on_error(
    error: Exception, context: BoltContext, respond: Respond, client: WebClient, response: BoltResponse | None
) -> BoltResponse | None:
    """The one place a listener's exception ends, also for work it handed to ``later``.

    A :class:`BadRequest` is the client's fault (signed but malformed input): the user gets its words, the log a
    warning line without traceback. Anything else is a bug: logged with its traceback under a reference, and the
    user told that reference instead of silence (never the traceback).

    ``response`` is set only when the request was not acked yet (Bolt would answer 500: a listener that failed
    before ``ack()``, or a payload Bolt itself could not handle). It becomes a 400: a 5xx tells Slack to retry,
    and the same request would fail the same way again.
    """
    reference = context.get("request_id") or new_request_id()
    if isinstance(error, BadRequest):
        log.warning("refused a request: %s", error, extra={"reference": reference})
        text = escape(str(error))
    else:
        log.error("listener failed: %s", type(error).__name__, exc_info=error, extra={"reference": reference})
        text = USER_ERROR.format(reference=reference)
    _tell_user(text, context, respond, client, reference)
    if response is None:
        return None
    if isinstance(error, BadRequest):
        return BoltResponse(status=400, body=text)
    return BoltResponse(status=400, body=f"Request failed (reference {reference}).")


def _tell_user(text: str, context: BoltContext, respond: Respond | None, client: WebClient, reference: str) -> None:
    """An ephemeral answer to the user who sent the request: through its response URL, else as an ephemeral
    message in its channel; a failure to tell is logged, never raised (the caller is already handling one)."""
    try:
        if respond is not None and context.response_url:
            told = respond(text=text, response_type="ephemeral", replace_original=False)
            if told.status_code != 200:
                log.error("could not tell the user: response_url answered %s", told.status_code)
        elif context.user_id and context.channel_id:
            client.chat_postEphemeral(channel=context.channel_id, user=context.user_id, text=text)
    except (SlackClientError, OSError):
        log.exception("could not tell the user about the failure", extra={"reference": reference})
