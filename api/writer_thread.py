"""One writer thread per worker: ledger commands run one after another.

The event store takes one writer at a time anyway, so running commands from
a pool of threads only adds contention: threads queue on SQLite's write lock
and on the GIL, and every command pays a thread hand-off both ways. Here the
event loop puts commands on a queue; a single thread drains whatever has
queued up, runs the commands in arrival order, and hands the whole batch of
results back to the loop in one wake-up. Each command keeps its own outcome;
votes that queued up next to each other are appended together (see
:mod:`ledger.group_commit`), everything else is its own transaction. Under load
a batch grows with the queue, so the hand-offs and the flushes to disk are
shared by many requests.

A command that meets a storage fault (:mod:`api.storage_faults`) ends its
batch: the commands queued behind it fail with that fault without running,
instead of each waiting out the same timeout, and the thread goes on to the
next batch, which finds out whether the fault has cleared.
"""

from __future__ import annotations

import asyncio
import fcntl
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from api.storage_faults import LastWrite, not_attempted
from ledger.application import Ledger, Receipt
from ledger.group_commit import VoteCommand, cast_together

T = TypeVar("T")
MAX_BATCH = 256

_Job = tuple[
    Callable[[], Any] | VoteCommand, asyncio.AbstractEventLoop, "asyncio.Future[Any]"
]
_Outcome = tuple["asyncio.Future[Any]", bool, Any]


def _settle(results: list[_Outcome]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class WriterThread:
    """Runs a worker's writes in one dedicated thread, in arrival order.

    Args:
        ledger: The ledger that queued votes are cast into.
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
        self,
        ledger: Ledger,
        lock_path: Path | None = None,
        name: str = "ledger-writer",
    ) -> None:
        self._ledger = ledger
        self.health = LastWrite()
        """Whether the latest write met a storage fault (for readiness)."""
        self._lock_file = None
        if lock_path is not None:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = lock_path.open("a+b")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    async def run(self, command: Callable[[], T]) -> T:
        """Runs ``command`` in the writer thread and returns what it returns."""
        result: T = await self._submit(command)
        return result

    async def cast(self, vote: VoteCommand) -> Receipt:
        """Casts ``vote``, together with the votes queued beside it."""
        receipt: Receipt = await self._submit(vote)
        return receipt

    async def _submit(self, payload: Callable[[], Any] | VoteCommand) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((payload, loop, future))
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

    def _run_batch(self, batch: list[_Job]) -> None:
        """Runs a batch; after a storage fault, the rest fail without running.

        Every command of the batch would otherwise wait out the same busy
        timeout, or the same wait for a connection, one after the other.
        """
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        start = 0
        fault: BaseException | None = None
        while start < len(batch):
            end = start + 1
            if isinstance(batch[start][0], VoteCommand):
                while end < len(batch) and isinstance(batch[end][0], VoteCommand):
                    end += 1
            jobs = batch[start:end]
            if fault is None:
                outcomes = self._outcomes(jobs)
                fault = self.health.record(outcomes)
            else:
                outcomes = [not_attempted(fault) for _ in jobs]
            for (_, loop, future), outcome in zip(jobs, outcomes, strict=True):
                ok = not isinstance(outcome, BaseException)
                by_loop.setdefault(loop, []).append((future, ok, outcome))
            start = end
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, results)
            except RuntimeError:  # the loop closed while the command ran
                continue

    def _outcomes(self, jobs: list[_Job]) -> list[Any]:
        """Runs one command, or a run of votes together; errors are returned."""
        first = jobs[0][0]
        try:
            if isinstance(first, VoteCommand) and len(jobs) > 1:
                votes = [vote for vote, _, _ in jobs if isinstance(vote, VoteCommand)]
                return list(cast_together(self._ledger, votes))
            if isinstance(first, VoteCommand):
                return [first.run_alone(self._ledger)]
            return [first()]
        except BaseException as error:
            return [error] * len(jobs)
