"""Modals open at once, whatever waits in the work pool: Slack's ``trigger_id`` expires 3 seconds after the click,
and Meta may keep every work thread busy for longer than that."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack
from test_e2e_acks import created_order, open_modal, post_card

from bot.runtime.later import WorkPool
from bot.slack import ids

pytestmark = pytest.mark.e2e


@pytest.fixture(name="small_stack")
def small_stack_fixture(tmp_path: Path) -> Iterator[Stack]:
    """One server thread: a work pool of 8 threads, a lane of one for ``later.now``."""
    with Stack.start(tmp_path, http_workers=1, merchant_ref_template="FB-{order_id}") as started:
        yield started


def test_the_reference_modal_opens_while_every_work_thread_is_busy(small_stack: Stack) -> None:
    stack = small_stack
    order_id = created_order(stack)
    key, ts = post_card(stack, order_id)
    work = stack.server.work
    assert isinstance(work, WorkPool)
    release = threading.Event()
    threads = work.status()["threads"]
    try:
        for _ in range(threads):  # slow Graph work, as when Meta takes seconds to answer
            work.submit(release.wait, 30)
        stack.slack_sandbox.wait_for(lambda: work.status()["busy"] == threads)
        view = open_modal(stack, order_id, key, ts)
        assert view["callback_id"] == ids.ACK_REF_MODAL
        assert work.status()["busy"] == threads, "the modal opened only after the pool's work finished"
        assert not [c for c in stack.slack_sandbox.calls() if c.get("error") == "expired_trigger_id"]
    finally:
        release.set()
