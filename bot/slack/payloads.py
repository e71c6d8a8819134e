"""Slack's payloads turned into the actions engine's requests: a card's button press (:class:`Click`), the
reference modal that carries it, who pressed a bulk button (:func:`actor`), and a card action's modal
(:class:`ActionForm`, :func:`form_values`).

Payloads come in signed, but their shape and the button values are whatever a client sent: anything orderdesk
did not render itself is refused with :class:`BadRequest` (words for the user), never half read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot.actions.operation import Actor, Request
from bot.actions.order_actions import Snapshot
from bot.slack.errors import BadRequest
from bot.slack.views.blocks import ack_reference_modal, ack_value, parse_ack_value
from bot.slack.views.list_line import is_list_line

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")

NOT_OUR_BUTTON = (
    "orderdesk could not read that button, so nothing was done. Look the order up again with "
    "/order and its number, and use the buttons on the new card."
)
NO_CLICKER = "That click did not say who made it, so nothing was done."


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Click(Request):
    """One press of an Acknowledge / Retry button, read from Slack: the request the actions engine takes.

    ``user_team_id`` is the clicker's own workspace and ``workspace_id`` the one the app is installed in: they
    differ for a Slack Connect guest. ``response_url`` answers the clicker and replaces an ephemeral card; a press
    on a list's line (its block marked by :func:`bot.slack.views.list_line.line_actions`) is ``listed``.
    """

    @classmethod
    def from_action(cls, body: Mapping[str, Any], workspace_id: str | None) -> Click:
        """From a ``block_actions`` payload; :class:`BadRequest` if the button value is not one the bot rendered
        or the payload lacks what every click carries."""
        try:
            action = body["actions"][0]
            order_id, key = parse_ack_value(action.get("value") or "")
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
            raise BadRequest(NOT_OUR_BUTTON) from error
        container = body.get("container")
        container = container if isinstance(container, Mapping) else {}
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, Mapping) else None
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            # Never act for "None" or str(42): who pressed the button is part of the audit trail and the permission.
            raise BadRequest(NO_CLICKER)
        team_id = user.get("team_id") if isinstance(user, Mapping) else None
        channel = body.get("channel")
        response_url = body.get("response_url")
        return cls(
            order_id=order_id,
            key=key,
            user_id=user_id,
            user_team_id=team_id if isinstance(team_id, str) else None,
            workspace_id=workspace_id,
            channel_id=_text_or_none(container.get("channel_id"))
            or (_text_or_none(channel.get("id")) if isinstance(channel, Mapping) else None),
            message_ts=_text_or_none(container.get("message_ts")),
            ephemeral=bool(container.get("is_ephemeral")),
            response_url=_text_or_none(response_url),
            listed=is_list_line(action.get("block_id")),
        )

    def to_metadata(self) -> str:
        """The modal's ``private_metadata``: the whole click, so the submission answers and updates like it."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_metadata(cls, text: object, *, user_id: object, user_team_id: object) -> Click:
        """The click a modal was opened from, submitted by ``user_id`` (who may differ from the opener only if
        Slack misbehaves: the submitter is the one checked); :class:`BadRequest` for anything the bot did not
        write there itself."""
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise BadRequest("That form did not say who sent it, so nothing was done.")
        try:
            data = json.loads(text) if isinstance(text, str) else None
            if not isinstance(data, dict):
                raise TypeError("metadata is not an object")
            ack_value(data["order_id"], data["key"])  # same strict check as a button value
            return cls(
                **{**data, "user_id": user_id, "user_team_id": user_team_id if isinstance(user_team_id, str) else None}
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(NOT_OUR_BUTTON) from error


def actor(body: Mapping[str, Any], user_id: str | None, workspace_id: str | None) -> Actor:
    """Who clicked a bulk button (``user_id`` as Bolt's context read it): their own workspace is in the payload
    (``user.team_id``); :class:`BadRequest` without it."""
    user = body.get("user")
    team_id = user.get("team_id") if isinstance(user, Mapping) else None
    if not isinstance(team_id, str) or not user_id:
        raise BadRequest(NO_CLICKER)
    return Actor(user_id=str(user_id), user_team_id=team_id, workspace_id=workspace_id)


def ack_modal(click: Click, *, error: str | None = None, initial: str | None = None) -> dict[str, Any]:
    """The reference modal for a click, carrying the whole click (key included) in ``private_metadata``."""
    return {
        **ack_reference_modal(click.order_id, click.key, error=error, initial=initial),
        "private_metadata": click.to_metadata(),
    }


_ACK_PENDING_VALUE = re.compile(r"ack-pending:[0-9a-f]{32}")


def ack_pending_confirmed(body: Mapping[str, Any]) -> None:
    """Check that a click on "Acknowledge all" carries the value of a prompt orderdesk drew
    (:func:`bot.slack.views.acknowledge.ack_pending_value`); :class:`BadRequest` otherwise."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], Mapping) else {}
    value = action.get("value")
    if not isinstance(value, str) or not _ACK_PENDING_VALUE.fullmatch(value):
        raise BadRequest(
            "orderdesk could not read that button, so nothing was done. Type /order ack-pending again and use "
            "the new button."
        )


MAX_METADATA = 3000  # Slack's limit on a view's private_metadata
FORM_STEPS = ("loading", "form", "review", "sending")


@dataclass(frozen=True)
class ActionForm:
    """A card action's modal as it travels in ``private_metadata``: the click it was opened from (order, key,
    card), the action, the step, the order snapshot the form was filled from and, at review, the checked
    parameters that the final submission sends."""

    click: Click
    action: str
    step: str
    snap: Snapshot | None = None
    params: dict[str, Any] | None = None

    def to_metadata(self) -> str:
        """Compact JSON within Slack's 3000 characters; ValueError when the order is too big to carry."""
        data: dict[str, Any] = {"c": asdict(self.click), "a": self.action, "st": self.step}
        if self.snap is not None:
            data["s"] = self.snap.to_json()
        if self.params is not None:
            data["p"] = self.params
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) > MAX_METADATA:
            raise ValueError("the form's metadata does not fit in a modal")
        return text

    def at(self, step: str, *, snap: Snapshot | None = None, params: dict[str, Any] | None = None) -> ActionForm:
        return ActionForm(
            self.click, self.action, step, snap or self.snap, params if params is not None else self.params
        )

    @classmethod
    def from_metadata(cls, text: object, *, user_id: object, user_team_id: object) -> ActionForm:
        """The form orderdesk wrote, submitted by ``user_id``; :class:`BadRequest` for anything else."""
        try:
            data = json.loads(text) if isinstance(text, str) else None
            if not isinstance(data, dict) or data.get("st") not in FORM_STEPS or not isinstance(data.get("a"), str):
                raise TypeError("not an action form")
            params = data.get("p")
            if params is not None and not isinstance(params, dict):
                raise TypeError("params are not an object")
            snap = Snapshot.from_json(data["s"]) if "s" in data else None
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(NOT_OUR_BUTTON) from error
        click = Click.from_metadata(json.dumps(data.get("c")), user_id=user_id, user_team_id=user_team_id)
        if snap is not None and snap.order_id != click.order_id:
            raise BadRequest(NOT_OUR_BUTTON)
        return cls(click, data["a"], data["st"], snap, params)


def form_values(view: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted modal's inputs by block id: text for text, number and select inputs (the option's value), True
    or False for checkboxes; :class:`BadRequest` when the view carries no state."""
    try:
        values = view["state"]["values"]
        if not isinstance(values, Mapping):
            raise TypeError("no values")
    except (KeyError, TypeError) as error:
        raise BadRequest("orderdesk could not read that form, so nothing was done. Open it again.") from error
    read: dict[str, Any] = {}
    for block_id, inputs in values.items():
        if not isinstance(inputs, Mapping):
            continue
        for element in inputs.values():
            if not isinstance(element, Mapping):
                continue
            kind = element.get("type")
            if kind == "checkboxes":
                read[str(block_id)] = bool(element.get("selected_options"))
            elif kind in ("static_select", "external_select", "radio_buttons"):
                option = element.get("selected_option")
                value = option.get("value") if isinstance(option, Mapping) else None
                read[str(block_id)] = value if isinstance(value, str) else ""
            else:
                value = element.get("value")
                read[str(block_id)] = value if isinstance(value, str) else ""
    return read
