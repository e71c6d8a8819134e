"""The sweeper: finishes writes whose process died (lease expired) and re-sends transient failures when due.

It runs at start-up and periodically in ``orderdesk serve``. Before re-sending, it reads the order back when the
operation can confirm that way: the intent already done means Meta committed and the answer was lost, so it is
recorded without a call. Otherwise the stored request is sent again with the stored key; each failure counts
towards the ledger's retry policy, after which the claim is given up and its cards say a person must decide.
"""

from __future__ import annotations

import logging

from bot.actions.runner import Runner
from bot.domain import problems
from bot.graph.client import GraphError

log = logging.getLogger(__name__)


def sweep(runner: Runner) -> int:
    """Re-drive every due entry this caller wins; how many it took over."""
    finished = 0
    for due in runner.ledger.due():
        if not runner.knows(due):
            continue  # another runner's operation (acknowledgements and card actions each sweep their own)
        entry = runner.ledger.take_over(due.key)
        if entry is None:
            continue  # another process or thread got it first
        finished += 1
        log.warning(
            "sweeper: re-driving %s %s (key %s, attempt %d)",
            entry.operation,
            entry.order_id,
            entry.key,
            entry.attempts,
        )
        operation = runner.operation(entry)
        try:
            order = operation.read_back(runner.graph, entry)
        except GraphError as exc:
            runner.finish(runner.ledger.fail(entry.key, problems.for_ledger(exc), retryable=True), None)
            continue
        if order is not None and operation.took_effect(entry, order):
            runner.finish(runner.ledger.succeed(entry.key, operation.recovered(order)), None)
            continue
        runner.drive(entry, None)
    return finished
