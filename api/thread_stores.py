"""A store per thread where its connection is bound to one, else one for all.

SQLite connections belong to the thread that opened them, and handlers run
both on the event loop and in worker threads, so over a SQLite file each
thread opens its own store; a PostgreSQL store is thread-safe and serves
them all. The token and session stores are both held this way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Store(Protocol):
    """What a held store says of itself, and how it is closed."""

    thread_safe: bool
    remote: bool

    def close(self) -> None: ...


S = TypeVar("S", bound=Store)


class ThreadStores(Generic[S]):
    """The stores a worker opened, one per thread or one shared.

    Args:
        open_store: Opens a new store (a connection of its own).
    """

    def __init__(self, open_store: Callable[[], S]) -> None:
        self._open_store = open_store
        self._local = threading.local()
        self._shared: S | None = None
        self._opened: list[S] = []
        self._lock = threading.Lock()
        # Whether a call is a round trip, then made off the event loop.
        self.remote = self.store().remote

    def store(self) -> S:
        """This thread's store."""
        store: S | None = self._shared or getattr(self._local, "store", None)
        if store is None:
            store = self._open_store()
            with self._lock:
                self._opened.append(store)
            if store.thread_safe:
                self._shared = store
            else:
                self._local.store = store
        return store

    def close(self) -> None:
        """Closes every thread's store; call once, at shutdown."""
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            try:
                store.close()
            except Exception:
                continue
