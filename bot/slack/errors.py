"""Errors that say whose fault a failure is, so the app's one error handler can answer each the right way.

A listener's unexpected exception is a bug: logged with its traceback under a reference, and the user told the
reference. A request that is signed but malformed (a button value the bot never rendered, a missing user, wrong
types) is the client's fault: the user gets words saying what was wrong and the log a warning line, no traceback.
"""

from __future__ import annotations


class BadRequest(ValueError):
    """A signed Slack request the bot cannot act on; ``str(error)`` is shown to the user, so it holds no secrets."""
