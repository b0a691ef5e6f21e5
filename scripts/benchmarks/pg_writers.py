"""Writer processes appending to one PostgreSQL log at once, for ``postgres``.

Each writer is a process of its own (spawned, so that no connection is shared
with the parent), as an API worker on a node would be. It opens its store,
runs one unmeasured command so that its connection and caches are warm, then
waits at a barrier with the others; the rate is every writer's commands over
the time from the barrier to the last writer's end, so an unevenly loaded
writer counts against the rate as it would against a node.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from benchmarks.append import Commands
from ledger.application import Ledger
from ledger.settings import Settings

READY_SECONDS = 120.0
"""How long the writers may take to start and warm up."""

BROKEN = "another writer failed"
"""What a writer reports when another broke the barrier it waited at."""

POOL_SIZE = "2"
"""Connections per writer: one is all a writer uses; the server is shared."""


class Tally(Aggregate):
    """The trivial aggregate of the plain eventsourcing saves: one event each."""


class PlainSaves(Application[Any]):
    """A plain eventsourcing application on its stock PostgreSQL recorder."""


@dataclass(frozen=True)
class Store:
    """Where the writers append: a home for secrets, a URL and a schema.

    Attributes:
        create_tables: Whether opening the store creates its tables. Writers
            that start together must not: eventsourcing's ``CREATE OR
            REPLACE FUNCTION``, run by several connections at once, fails
            with "tuple concurrently updated".
    """

    home: str
    url: str
    schema: str
    create_tables: bool = True

    def settings(self) -> Settings:
        """The ledger's settings for this store."""
        return Settings(home=Path(self.home), event_store=self.url)

    def ledger_env(self) -> dict[str, str]:
        """What the ledger needs besides its settings: the schema, a small pool."""
        return {
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": POOL_SIZE,
            "CREATE_TABLE": "yes" if self.create_tables else "no",
        }

    def ledger(self) -> Ledger:
        """A ledger on this store."""
        return Ledger(self.settings(), self.ledger_env())

    def plain_env(self) -> dict[str, str]:
        """The same server, schema and pool for eventsourcing's own recorder."""
        return {
            **self.settings().eventsourcing_env(),
            **self.ledger_env(),
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
        }


class Writer(Protocol):
    def step(self, index: int) -> object: ...

    def close(self) -> None: ...


class Saves:
    """(a): one new :class:`Tally` saved per step."""

    def __init__(self, store: Store) -> None:
        self.app = PlainSaves(env=store.plain_env())

    def step(self, index: int) -> object:
        return self.app.save(Tally())

    def close(self) -> None:
        self.app.close()


@dataclass(frozen=True)
class Job:
    """One writer's share of a phase: commands ``first`` to ``first + count``.

    Attributes:
        plain: Plain eventsourcing saves rather than the ledger's commands.
        warm_up: The index of the unmeasured first command.
    """

    store: Store
    plain: bool
    warm_up: int
    first: int
    count: int

    def writer(self) -> Writer:
        """Opens the store, on tables made before (see :func:`create_tables`)."""
        store = dataclasses.replace(self.store, create_tables=False)
        if self.plain:
            return Saves(store)
        return Commands("ledger", store.ledger())


def create_tables(store: Store) -> None:
    """Makes the tables of both kinds of writer, once, before any starts."""
    Saves(store).close()
    store.ledger().close()


def _write(job: Job, ready: Any, results: Any) -> None:
    """A writer process: warm up, wait for the others, write, report.

    Reports exactly once: its span, or why it failed (after breaking the
    barrier, so that the others stop waiting and report that).
    """
    try:
        writer = job.writer()
        try:
            writer.step(job.warm_up)
            ready.wait(READY_SECONDS)
            started = time.monotonic()
            for index in range(job.first, job.first + job.count):
                writer.step(index)
            results.put((started, time.monotonic()))
        finally:
            writer.close()
    except threading.BrokenBarrierError:
        results.put(BROKEN)
    except BaseException:
        ready.abort()
        results.put(traceback.format_exc())


def rate(jobs: list[Job]) -> float:
    """Runs one writer process per job at once; all their appends per second.

    Raises:
        RuntimeError: A writer failed; its error is the message.
    """
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Barrier(len(jobs))
    results = spawn.Queue()
    processes = [
        spawn.Process(target=_write, args=(job, ready, results), daemon=True)
        for job in jobs
    ]
    for process in processes:
        process.start()
    try:
        reports = [_report(results, processes) for _ in jobs]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    failures = sorted(
        (report for report in reports if isinstance(report, str)),
        key=lambda failure: failure == BROKEN,  # the cause first
    )
    if failures:
        raise RuntimeError(failures[0])
    spans: list[tuple[float, float]] = reports
    started = min(start for start, _ in spans)
    ended = max(end for _, end in spans)
    return sum(job.count for job in jobs) / (ended - started)


def _report(results: Any, processes: list[Any]) -> Any:
    """The next writer's report, or why none will come: they all ended."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not any(process.is_alive() for process in processes):
                codes = [process.exitcode for process in processes]
                return f"a writer ended without a report (exit codes {codes})"
