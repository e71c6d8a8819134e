"""Storage: the ports every backend implements (``ports``), the values they return (``rows``), and the backends.

``Store`` is the default backend's store (sqlite, embedded), importable from here for callers that need not name
the backend.
"""

from bot.storage.sqlite.store import Store

__all__ = ["Store"]
