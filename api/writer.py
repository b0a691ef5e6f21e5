"""One writer thread per worker: ledger commands run one after another.

The event store takes one writer at a time anyway, so running commands from
a pool of threads only adds contention: threads queue on SQLite's write lock
and on the GIL, and every command pays a thread hand-off both ways. Here the
event loop puts commands on a queue; a single thread drains whatever has
queued up, runs each command in turn (each is still its own transaction with
its own outcome, so conflicts and refusals stay per command), and hands the
whole batch of results back to the loop in one wake-up. Under load a batch
grows with the queue, so the hand-off cost is shared by many requests.
"""

from __future__ import annotations

import asyncio
import fcntl
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MAX_BATCH = 256

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Writer:
    """Runs blocking callables in one dedicated thread, in arrival order.

    Args:
        lock_path: A file that the writers of all worker processes lock
            (``flock``) around each batch. SQLite makes a writer that finds
            the database locked sleep and retry, with sleeps growing to tens
            of milliseconds, so two busy workers would mostly wait; a blocked
            ``flock`` is woken the moment the other releases it, and one
            hand-over serves a whole batch. None (as for PostgreSQL, which
            queues writers itself) runs batches without it.
        name: The thread's name.
    """

    def __init__(
        self, lock_path: Path | None = None, name: str = "ledger-writer"
    ) -> None:
        self._lock_file = None
        if lock_path is not None:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = lock_path.open("a+b")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    async def run(self, command: Callable[[], T]) -> T:
        """Runs ``command`` in the writer thread and returns what it returns."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((command, loop, future))
        return await future

    def close(self, timeout: float = 10.0) -> None:
        """Finishes the queued commands, then stops the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)
        if self._lock_file is not None:
            self._lock_file.close()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            batch = [job]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            if self._lock_file is None:
                self._run_batch(batch)
            else:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
                try:
                    self._run_batch(batch)
                finally:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            if stop:
                return

    @staticmethod
    def _run_batch(batch: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for command, loop, future in batch:
            try:
                outcome = (future, True, command())
            except BaseException as error:
                outcome = (future, False, error)
            by_loop.setdefault(loop, []).append(outcome)
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, results)
            except RuntimeError:  # the loop closed while the command ran
                continue
