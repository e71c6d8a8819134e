"""The HTTP front door of ``orderdesk serve --mode http``: a small WSGI router in front of Bolt.

``POST /slack/events`` goes to Bolt once the request has passed the checks Bolt does not make first (a body cap,
Slack's signature, the body's shape), ``GET``/``HEAD /healthz`` answers the health the server passes in, anything
else is 404 (405 for a wrong method on a known path). Pure WSGI: it runs under waitress in production and under
any WSGI caller in tests.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from bot import logs

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Health = Callable[[], tuple[int, dict[str, Any]]]


def router(bolt: WSGIApp, health: Health, signing_secret: str) -> WSGIApp:
    """``POST /slack/events`` → Bolt, ``GET``/``HEAD /healthz`` → JSON status, anything else → 404 (405 for a
    wrong method on a known path). ``HEAD`` gets the headers ``GET`` would, and no body.

    Slack's requests pass three checks here before Bolt sees them, because Bolt parses a body before it verifies
    the signature, logs a refused request's whole body (buyer details, response URLs) and trusts the body's shape:
    a body over :data:`MAX_BODY_BYTES` is refused with 413 without being read past the cap, an unsigned one with
    401 and one warning line (path, reason, size; never the body), and a signed one that is not a form or JSON
    object as Slack sends them with 400.
    """

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        logs.start_request()  # this server thread's previous request must not lend its fields to this one
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == EVENTS_PATH and method == "POST":
            return slack_events(environ, start_response)
        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            status, body = health()
            answer = _respond(start_response, status, json.dumps(body), "application/json")
        elif path in ALLOWED_METHODS:
            answer = _respond(
                start_response, 405, "Method Not Allowed", "text/plain", [("Allow", ALLOWED_METHODS[path])]
            )
        else:
            answer = _respond(start_response, 404, "Not Found", "text/plain")
        # A body after a HEAD answer would be read as the start of the next response on a kept-alive connection.
        return [] if method == "HEAD" else answer

    def slack_events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = _read_capped(environ, MAX_BODY_BYTES)
        if raw is None:
            _refused(413, "the body is over the limit", environ)
            return _respond(start_response, 413, f"Request body over {MAX_BODY_BYTES} bytes", "text/plain")
        unsigned = signature_problem(
            raw,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
            signing_secret,
            time.time(),
        )
        if unsigned:
            _refused(401, unsigned, environ, len(raw))
            return _respond(start_response, 401, "Invalid request signature", "text/plain")
        malformed = body_problem(raw, environ.get("CONTENT_TYPE", ""))
        if malformed:
            _refused(400, malformed, environ, len(raw))
            return _respond(start_response, 400, f"Bad Request: {malformed}", "text/plain")
        checked = {**environ, "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}
        try:
            return bolt(checked, start_response)
        except Exception as error:
            # Bolt trusts the shape of what it parsed (a view without "type", "actions" that is not a list) and
            # raises; that is a malformed request, not our failure. The traceback only at DEBUG: it is noise.
            _refused(400, f"Bolt could not handle it ({type(error).__name__})", environ, len(raw))
            log.debug("Bolt's failure on a malformed request", exc_info=True)
            return _respond(start_response, 400, "Bad Request", "text/plain")

    return route


MAX_BODY_BYTES = 1024 * 1024
"""The largest request body taken. Slack's are a few KiB (a view submission with every input filled stays far
below): this only bounds what one request can make the bot hold in memory."""

SIGNATURE_MAX_AGE_SECONDS = 300  # Slack's own rule: a timestamp more than 5 minutes off is a replay
ALLOWED_METHODS = {EVENTS_PATH: "POST", HEALTH_PATH: "GET, HEAD"}
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def _read_capped(environ: Mapping[str, Any], cap: int) -> bytes | None:
    """The request body, or None when it is longer than ``cap``: refused on its declared length without reading
    it, and otherwise (no length, or a lying one) read no further than one byte past the cap.

    Under waitress this repeats its own ``max_request_body_size`` check (it refuses first); the router keeps it so
    that it is safe under any WSGI server.
    """
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared.isdigit() and int(declared) > cap:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    want = int(declared) if declared.isdigit() else cap + 1
    chunks, have = [], 0
    while have < min(want, cap + 1):
        chunk = stream.read(min(want, cap + 1) - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return None if have > cap else b"".join(chunks)


def signature_problem(
    body: bytes, timestamp: str | None, signature: str | None, signing_secret: str, now: float
) -> str | None:
    """Why a request is not signed by Slack (in words for the log), or None when it is.

    Slack's v0 scheme: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the app's signing secret.
    """
    if not timestamp or not signature:
        return "no Slack signature"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "the signature timestamp is not a number"
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return "the signature timestamp is more than 5 minutes off"
    expected = hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    # WSGI header values are latin-1 strings: any byte a client sent survives the round trip.
    if not hmac.compare_digest(f"v0={expected.hexdigest()}".encode(), signature.encode("latin-1")):
        return "the signature does not match"
    return None


def body_problem(raw: bytes, content_type: str) -> str | None:
    """Why a signed body is not one Bolt can take (in words), or None.

    Slack sends forms (slash commands; interactivity as one ``payload`` field of JSON) and JSON (the Events API).
    Bolt parses a body that starts with ``{`` as JSON whatever its type and a form's ``payload`` field as JSON:
    both must then be a JSON object.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in {FORM, JSON}:
        return f"the body is neither a form nor JSON (Content-Type {media_type or 'missing'})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if media_type == JSON or text.startswith("{"):
        return _json_object_problem(text, "the body")
    payload = parse_qs(text, keep_blank_values=True).get("payload")
    if payload is None:
        return None
    return _json_object_problem(payload[-1], "the payload field") or _interactive_problem(json.loads(payload[-1]))


def _json_object_problem(text: str, what: str) -> str | None:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON"
    return None if isinstance(parsed, dict) else f"{what} is JSON but not an object"


def _interactive_problem(payload: Mapping[str, Any]) -> str | None:
    """What Bolt's listener matching would index into without checking, in the shape Slack always sends it:
    a string ``type``; ``actions`` a list of objects with a string ``action_id``; ``view`` an object with a string
    ``callback_id``; ``user`` an object. Anything else is not from Slack and never reaches Bolt."""
    if not isinstance(payload.get("type"), str):
        return "the payload has no type"
    actions = payload.get("actions", [])
    if not isinstance(actions, list) or not all(
        isinstance(action, dict) and isinstance(action.get("action_id"), str) for action in actions
    ):
        return "the payload's actions are not a list of actions with ids"
    view = payload.get("view", {})
    if not isinstance(view, dict) or ("callback_id" in view and not isinstance(view["callback_id"], str)):
        return "the payload's view is not an object with a callback id"
    if not isinstance(payload.get("user", {}), dict):
        return "the payload's user is not an object"
    return None


def _refused(status: int, reason: str, environ: Mapping[str, Any], size: int | None = None) -> None:
    """One warning line per refused request, without its body (it may hold buyer details or response URLs)."""
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    shown = str(size) if size is not None else declared if declared.isdigit() else f"over {MAX_BODY_BYTES}"
    log.warning("refused a request with %s: %s (path %s, %s bytes)", status, reason, environ.get("PATH_INFO"), shown)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    503: "Service Unavailable",
}


def _respond(
    start_response: Callable[..., Any],
    status: int,
    body: str,
    content_type: str,
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    data = body.encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]
