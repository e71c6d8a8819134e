"""The old home of :class:`bot.per_thread.PerThread`, which moved below the layers that use it (graph, storage)."""

from bot.per_thread import PerThread as PerThread
