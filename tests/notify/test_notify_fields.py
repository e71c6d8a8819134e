"""A notification card drawn from what the poller read (and indexed) offers the same card actions as the order
read in full: a poll's redraw must not drop Refund… or offer Mark shipped… for units already shipped."""

from __future__ import annotations

import pytest

from bot.actions.order_actions import ACTION_ORDER_FIELDS, offered_actions
from bot.config import Settings
from bot.graph.client import GraphClient
from bot.notify.poller import NOTIFY_FIELDS
from bot.sandbox.graph import GraphSandbox


@pytest.mark.parametrize("shipped", [1, 2, 3])
def test_the_pollers_fields_offer_the_actions_the_full_order_does(shipped: int) -> None:
    sandbox = GraphSandbox(orders=0)
    placed = sandbox.add_order(state="IN_PROGRESS", items=[{"quantity": 2}, {"quantity": 1}])
    first, second = (str(item["id"]) for item in placed["items"]["data"])
    sandbox.ship(str(placed["id"]), {first: min(shipped, 2)} | ({second: 1} if shipped == 3 else {}))
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        fb_page_id=sandbox.page_id,
        fb_page_access_token=sandbox.token,
        graph_max_retries=0,
    )
    with GraphClient.from_settings(settings, transport=sandbox.transport()) as graph:
        polled = graph.get_order(str(placed["id"]), NOTIFY_FIELDS)
        full = graph.get_order(str(placed["id"]), ACTION_ORDER_FIELDS)
    assert offered_actions(polled) == offered_actions(full)
