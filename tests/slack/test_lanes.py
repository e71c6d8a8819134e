"""A channel's lane: jobs in order on one thread, paced; an urgent job (a card someone acted on) goes first and
is not held back by the pace."""

from __future__ import annotations

import threading
from typing import Any

from slack_sdk import WebClient

from bot.slack.lanes import Lane, Send


class Recording(WebClient):
    """A Web API client that records its calls instead of making them."""

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9/api/")
        self.calls: list[str] = []

    def chat_update(self, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls.append(str(kwargs["text"]))
        return {"ok": True}


def test_an_urgent_job_runs_before_queued_ones_without_waiting_for_the_pace() -> None:
    client, slept = Recording(), []
    lane = Lane(client, "C0ORDERS", pace=10.0, sleep=slept.append)
    busy, release = threading.Event(), threading.Event()

    def blocking(send: Send) -> object:
        busy.set()
        release.wait()
        return send("chat_update", text="first")

    def update(text: str) -> Any:
        return lambda send: send("chat_update", text=text)

    first = lane.submit(blocking)
    busy.wait()
    paced = lane.submit(update("paced"))
    urgent = lane.submit(update("urgent"), urgent=True)
    release.set()
    for future in (first, urgent, paced):
        future.result(timeout=5)
    lane.close()

    assert client.calls == ["first", "urgent", "paced"]
    assert [round(wait) for wait in slept] == [0, 0, 10]  # only the paced call waited for the pace
