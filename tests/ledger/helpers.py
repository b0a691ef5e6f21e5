"""Plain functions, givens and checks the write side's tests share.

Fixtures are in ``conftest.py``; everything here is called, not injected.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, cast
from unittest import TestCase
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import errors, log
from ledger.application import Ledger
from ledger.context import Context
from ledger.opened_log import opened
from ledger.personal_data import is_sealed, person_of

EDITOR = Context(actor="editor:e1", request_id="req-editor")
ADMIN = Context(actor="admin:a1", request_id="req-admin")
VOTER = Context(actor="voter", request_id="req-vote")

RATIONALE = "Runs locally, well documented, and the licence is clear."

ReadLog = Callable[..., list[log.LoggedEvent]]
"""The type of the ``events`` fixture."""

Given = Callable[[Ledger], object]
"""What a parametrised test does to its ledger before the command it checks."""


def nothing(ledger: Ledger) -> None:
    """The given of a case that needs no more than its fixture."""


def reviewer_ctx(handle: str) -> Context:
    return Context(actor=f"reviewer:{handle}", request_id=f"req-{handle}")


def tool_fields(name: str = "Alpha Coder", **overrides: str) -> dict[str, str]:
    fields = {
        "name": name,
        "vendor": "Acme",
        "category": "Developer Tools",
        "tagline": "Writes the boring parts",
        "description": "A coding assistant that runs on your own machine.",
        "entry": "Free",
        "license": "MIT",
    }
    fields.update(overrides)
    return fields


def register(ledger: Ledger, slug: str = "alpha", **fields: str) -> None:
    ledger.register_tool(EDITOR, slug, tool_fields(slug.title(), **fields))


def enroll(ledger: Ledger, handle: str = "ada", lens: str = "builder") -> None:
    ledger.enroll_reviewer(ADMIN, handle, name=handle.title(), lens=lens)


@contextmanager
def nothing_appended(ledger: Ledger) -> Iterator[None]:
    """Asserts the block leaves the log exactly as it found it."""
    head = ledger.head_position()
    yield
    assert ledger.head_position() == head
    assert log.read(ledger.recorder, after=head) == []


def refused(
    ledger: Ledger,
    error: type[Exception],
    command: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> pytest.ExceptionInfo[Exception]:
    """Runs a command that must fail with ``error`` and append nothing."""
    with nothing_appended(ledger), pytest.raises(error) as info:
        command(*args, **kwargs)
    return info


def single_new_event(ledger: Ledger, before: int, receipt: Any) -> log.LoggedEvent:
    """The one event a command appended, checked against its receipt."""
    new = log.read(ledger.recorder, after=before)
    assert len(new) == 1, new
    event = new[0]
    assert receipt.position == event.position
    if getattr(ledger.recorder, "refusals_use_positions", True):
        # PostgreSQL: a refused insert (a first vote tried before a change of
        # one) may have taken a position in between.
        assert event.position > before
    else:
        assert event.position == before + 1
    assert receipt.version == event.version
    assert receipt.id == event.aggregate_id
    return event


def shown_event(ledger: Ledger, before: int, receipt: Any) -> log.LoggedEvent:
    """The one event a command appended, as readers are shown it.

    Checks first that the log keeps every personal field of it sealed for
    the event's person, then opens them.
    """
    event = single_new_event(ledger, before, receipt)
    for path in getattr(log.EVENT_CLASSES[event.type], "personal", ()):
        outer, _, inner = path.partition(".")
        if outer == "reason":  # the reason is kept in the envelope
            value = event.reason
        else:
            value = event.data.get(outer)
            value = value.get(inner) if inner and isinstance(value, dict) else value
        if value:
            assert is_sealed(value), (path, value)
            assert person_of(value) == event.data["person"]
    return opened(ledger.sealer, [event])[0]


def envelope(event: log.LoggedEvent) -> Mapping[str, Any]:
    """What every event records besides its data."""
    return {
        "type": event.type,
        "actor": event.actor,
        "reason": event.reason,
        "request_id": event.request_id,
    }


# Concurrent writers (test_concurrency.py, test_postgres.py).

THREADS = 8


def race(
    commands: list[Callable[[], Any]],
) -> tuple[list[Any], list[BaseException]]:
    """Runs the commands on threads released at the same instant."""
    start = threading.Barrier(len(commands))

    def run(command: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return command()
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(commands)) as pool:
        outcomes = list(pool.map(run, commands))
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return [o for o in outcomes if not isinstance(o, BaseException)], failures


def edit_at_version_1(ledger: Ledger, index: int) -> Callable[[], Any]:
    ctx = Context(actor=f"editor:{index}", request_id=f"edit-{index}")
    return lambda: ledger.edit_tool(
        ctx, "alpha", {"tagline": f"edited by {index}"}, expected_version=1
    )


def voter_batch(ledger: Ledger, thread: int, count: int) -> Callable[[], list[int]]:
    """Casts ``count`` votes, each by a voter of its own, and returns positions."""
    return lambda: [
        ledger.cast_vote(VOTER, f"t{thread}-v{i}", "alpha", "ship").position
        for i in range(count)
    ]


def assert_one_winner(ledger: Ledger, receipts: list[Any], failures: list[Any]) -> None:
    assert len(receipts) == 1, failures
    assert len(failures) == THREADS - 1
    assert all(isinstance(f, errors.ConcurrencyConflict) for f in failures), failures
    (winner,) = receipts
    edits = log.read(ledger.recorder, types=["Tool.Edited"])
    assert len(edits) == 1
    assert edits[0].position == winner.position
    assert winner.version == 2
    state = ledger.tool("alpha")
    assert state["version"] == 2
    assert state["tagline"] == edits[0].data["changes"]["tagline"]


# eventsourcing's conformance cases (test_*_conformance.py).

NEVER_WRITTEN = uuid5(NAMESPACE_URL, "verdict-ledger:tests:never-written")
"""An aggregate id no test appends to."""


def conditions_that_hold(
    stored_events: Sequence[StoredEvent],
) -> list[tuple[UUID, int]]:
    """A condition on every aggregate appended to, at the newest version appended.

    No event can follow the newest one in the same append, so the condition
    holds, but the recorder still has to read each aggregate's later events
    inside the appending transaction to know it. The aggregate never written
    gives an append of no events (a tracking record alone) a condition too.
    """
    newest = {NEVER_WRITTEN: 0}
    for event in stored_events:
        originator_id = cast(UUID, event.originator_id)
        newest[originator_id] = max(
            newest.get(originator_id, 0), event.originator_version
        )
    return list(newest.items())


class AlwaysConditional:
    """Makes a recorder append every event through its conditional path."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        unchanged = [*kwargs.pop("unchanged", ()), *conditions_that_hold(stored_events)]
        recorder: Any = super()
        return recorder.insert_events(stored_events, unchanged=unchanged, **kwargs)


@contextmanager
def own_threads_joined(timeout: float = 10) -> Iterator[None]:
    """On the way out, waits for the threads started inside to finish.

    Some of eventsourcing's cases leave their reader threads running when
    they return; a store closed under a running query can crash SQLite.
    Daemon threads (connection pools' workers) live as long as their pool.
    """
    before = set(threading.enumerate())
    try:
        yield
    finally:
        for thread in set(threading.enumerate()) - before:
            if not thread.daemon:
                thread.join(timeout)


def set_environment(case: TestCase, variables: Mapping[str, str]) -> None:
    """Sets ``variables`` in ``os.environ`` until ``case`` ends.

    eventsourcing's application cases construct their applications
    themselves, so, as in eventsourcing's own repository, the store is
    chosen where every application reads it: the environment.
    """
    for name, value in variables.items():
        case.addCleanup(_restore, name, os.environ.get(name))
        os.environ[name] = value


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
