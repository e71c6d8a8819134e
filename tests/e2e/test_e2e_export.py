"""``/order export`` over real HTTP: the three upload calls, the file in the asker's DM, its rows, the audit row,
and nothing for a Slack Connect guest."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e_stack import Stack, stack_fixture  # noqa: F401

from bot.actions.entries import ACKNOWLEDGE_ORDER
from bot.graph.client import GraphClient
from bot.sandbox.console import Console
from bot.sandbox.graph import GraphSandbox
from bot.slack.access import GUEST_REFUSAL

DAY = 86_400
UPLOAD_CALLS = ["conversations.open", "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


def seen_orders(stack: Stack) -> list[str]:
    """Three orders orderdesk has seen (two looked up over HTTP, one read long ago), one acknowledged."""
    graph = stack.graph_sandbox
    ids = [str(graph.add_order()["id"]) for _ in range(2)]
    for order_id in ids:
        sent = stack.slack.slash_command(order_id)
        stack.slack_sandbox.wait_for(lambda url=sent.response_url or "": stack.slack_sandbox.responses(url))
    stale = graph.add_order()
    long_ago = datetime.fromtimestamp(time.time() - 40 * DAY, UTC).isoformat(timespec="seconds")
    stack.services.store.upsert_order({**stale, "last_updated": long_ago})
    stack.services.store.add_audit(action=ACKNOWLEDGE_ORDER, order_id=ids[0], user_id="U0AGENT2", outcome="succeeded")
    return ids


def test_export_uploads_the_window_to_the_askers_dm_in_three_calls(stack: Stack) -> None:
    ids = seen_orders(stack)
    sandbox = stack.slack_sandbox
    sandbox.reset()

    sent = stack.slack.slash_command("export since:30d", user="U0AGENT1")

    assert sent.response.status_code == 200
    answers = sandbox.wait_for(lambda: sandbox.wait_responses(sent.response_url or "", count=2, timeout=10))
    assert "2 orders updated in the last 30 days" in answers[-1]["text"]
    assert answers[-1]["replace_original"] is True  # the answer takes the place of "Preparing your export"
    (shown,) = sandbox.ephemerals(user="U0AGENT1")
    assert "in your direct messages" in shown["text"]
    assert "orderdesk has seen" in answers[-1]["text"]
    methods = [call["method"] for call in sandbox.calls() if call["method"] in UPLOAD_CALLS]
    assert methods == UPLOAD_CALLS
    (shared,) = sandbox.files()
    dm = sandbox.dm_channel("U0AGENT1")
    assert shared["channel"] == dm
    assert shared["name"].endswith(".csv")
    (message,) = sandbox.messages(dm)
    assert message["files"][0]["id"] == shared["id"]
    assert message["files"][0]["size"] == len(shared["content"]) == shared["length"]

    rows = list(csv.DictReader(io.StringIO(shared["content"].decode())))
    assert sorted(row["order_id"] for row in rows) == sorted(ids)  # the 40-day-old one is out of the window
    acknowledged = {row["order_id"]: row["acknowledged_by"] for row in rows}
    assert acknowledged == {ids[0]: "bob", ids[1]: ""}  # the agent's Slack display name, not their id
    for order_id in ids:
        order = stack.graph_sandbox.order(order_id)
        buyer, address = order["buyer_details"], order["shipping_address"]
        for value in (buyer["name"], buyer["email"], buyer["phone_number"], address["street1"]):
            assert value.encode() not in shared["content"]
    (shown,) = Console(sandbox, stack.slack).state("U0AGENT1")["direct"]  # the console shows the file to its reader
    assert shown["files"] == [{"id": shared["id"], "name": shared["name"], "title": shared["title"],
                               "size": len(shared["content"])}]  # fmt: skip
    assert Console(sandbox, stack.slack).state("U0AGENT2")["direct"] == []
    audit = stack.services.store._select("SELECT user_id, detail FROM audit WHERE action = 'export_orders'")
    assert audit == [{"user_id": "U0AGENT1", "detail": "since=30d states=all rows=2"}]


def test_bad_arguments_get_the_usage_and_upload_nothing(stack: Stack) -> None:
    sent = stack.slack.slash_command("export since:1y")
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert "is not a duration" in answers[0]["text"]
    assert "Usage: `/order export" in answers[0]["text"]
    assert stack.slack_sandbox.files() == []


def test_a_slack_connect_guest_gets_no_export(stack: Stack) -> None:
    seen_orders(stack)
    sent = stack.slack.slash_command("export since:30d", user="U0FOREIGN")
    answers = stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
    assert GUEST_REFUSAL.split(" (")[0] in json.dumps(answers)
    time.sleep(0.3)
    assert stack.slack_sandbox.files() == []
    assert stack.slack_sandbox.calls("conversations.open") == []
    assert stack.services.store._select("SELECT 1 FROM audit WHERE action = 'export_orders'") == []


@pytest.mark.parametrize(
    ("method", "error", "words"),
    [
        ("files.completeUploadExternal", "missing_scope", "lacks the `files:write` or `im:write` permission"),
        ("files.getUploadURLExternal", "internal_error", "Slack refused the file (`internal_error`)"),
    ],
)
def test_a_failed_upload_says_what_went_wrong_and_is_audited_as_failed(
    stack: Stack, method: str, error: str, words: str
) -> None:
    seen_orders(stack)
    sandbox = stack.slack_sandbox
    sandbox.fail_next(method, status=200, error=error)

    sent = stack.slack.slash_command("export since:30d", user="U0AGENT1")

    answers = sandbox.wait_for(lambda: sandbox.wait_responses(sent.response_url or "", count=2, timeout=10))
    assert words in answers[-1]["text"]
    assert "Your export could not be sent" in answers[-1]["text"]
    assert "in your direct messages" not in answers[-1]["text"]
    assert [file["channel"] for file in sandbox.files()] in ([], [None])  # never shared
    audit = stack.services.store._select("SELECT user_id, outcome, detail FROM audit WHERE action = 'export_orders'")
    assert audit == [
        {"user_id": "U0AGENT1", "outcome": "failed", "detail": f"since=30d states=all rows=2 error={error}"}
    ]


def test_an_order_shipped_then_polled_exports_no_wrong_amount(tmp_path: Path) -> None:
    """The poller reads shipments without their lines: an amount the cache cannot tell is empty, never 0.00."""
    graph = GraphSandbox(orders=0)
    items = [{"quantity": 2, "price_per_unit": {"amount": "10.00", "currency": "USD"}}]
    order_id = str(graph.add_order(order_status={"state": "IN_PROGRESS"}, items=items)["id"])
    with Stack.start(tmp_path, graph_sandbox=graph, notify_channel="C0ORDERS", poll_seconds=1) as stack:
        sent = stack.slack.slash_command(order_id)  # cached with its lines: no shipment yet
        stack.slack_sandbox.wait_for(lambda: stack.slack_sandbox.responses(sent.response_url or ""))
        with GraphClient.from_settings(stack.settings, transport=graph.transport()) as client:
            shipment = {"tracking_info": {"carrier": "UPS", "tracking_number": "1Z999"}, "idempotency_key": "k1"}
            client.send("POST", f"{order_id}/shipments", shipment)

        def polled() -> bool:
            cached = stack.services.store.get_order(order_id)
            return cached is not None and bool((cached.data.get("shipments") or {}).get("data"))

        stack.slack_sandbox.wait_for(polled, timeout=20)
        sent = stack.slack.slash_command("export since:1d", user="U0AGENT1")
        (shared,) = stack.slack_sandbox.wait_for(
            lambda: [f for f in stack.slack_sandbox.files() if f["channel"]], timeout=20
        )
        (row,) = [r for r in csv.DictReader(io.StringIO(shared["content"].decode())) if r["order_id"] == order_id]
        assert row["shipped_amount"] in ("", "20.00")  # unknown, or known from a read with the lines; never 0.00
        assert row["total"]
