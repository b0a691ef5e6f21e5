"""Group commit: votes appended together have exactly the single commands' outcomes."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from ledger import errors
from ledger import log as event_log
from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.group_commit import VoteCommand, cast_together
from ledger.settings import Settings
from tests.stores import Store, appends_held

pytestmark = pytest.mark.usefixtures("demo_ledger")

CTX = Context(actor="voter:x", request_id="batch-test")
TOOL = "code-llama-4"


def _vote(voter: str, choice: str = "ship", **where: str) -> VoteCommand:
    if not where:
        where = {"tool": TOOL}
    return VoteCommand(CTX, voter, choice, **where)


def test_first_votes_are_appended_in_one_go(ledger: Ledger) -> None:
    head = ledger.head_position()
    appends: list[int] = []
    ledger.add_listener(appends.append)
    commands = [_vote(f"voter-{n}") for n in range(5)]
    commands.append(_vote("voter-0", "mistral-medium-3", a=TOOL, b="mistral-medium-3"))
    outcomes = cast_together(ledger, commands)
    assert appends == [head + 6]  # one transaction for all six
    assert all(isinstance(outcome, Receipt) for outcome in outcomes)
    positions = [
        outcome.position for outcome in outcomes if isinstance(outcome, Receipt)
    ]
    assert positions == list(range(head + 1, head + 7))
    logged = event_log.read(ledger.recorder, after=head)
    assert [event.type for event in logged] == ["Vote.Cast"] * 6
    assert [event.request_id for event in logged] == ["batch-test"] * 6
    assert logged[0].actor == f"voter:{ledger.voter_key('voter-0')}"
    assert ledger.vote("voter-3", f"tool:{TOOL}") == "ship"
    pair_subject = f"comparison:{TOOL}/mistral-medium-3"
    assert ledger.vote("voter-0", pair_subject) == "mistral-medium-3"


def test_each_vote_keeps_the_ledgers_own_outcome(ledger: Ledger) -> None:
    ledger.cast_vote(CTX, "old-voter", TOOL, "skip")
    head = ledger.head_position()
    commands = [
        _vote("new-voter"),  # first vote
        _vote("new-voter", "skip"),  # the same voter again: a change, after it
        _vote("old-voter", "skip"),  # unchanged: nothing appended
        _vote("old-voter", "ship"),  # then changed
        _vote("someone", "maybe"),  # not a verdict
        _vote("someone", tool="nope"),  # no such tool
        _vote("someone", "other", a=TOOL, b="mistral-medium-3"),  # not in the pair
    ]
    outcomes = cast_together(ledger, commands)
    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    assert [type(o).__name__ for o in outcomes] == [
        "Receipt",
        "Receipt",
        "NothingChanged",
        "Receipt",
        "InvalidChoice",
        "ToolNotFound",
        "InvalidChoice",
    ]
    assert isinstance(outcomes[2], errors.NothingChanged)
    assert [r.version for r in receipts] == [1, 2, 2]
    logged = event_log.read(ledger.recorder, after=head)
    assert len(logged) == 3
    # in the commands' order: the change of new-voter's vote waited for its cast
    assert [r.position for r in receipts] == [e.position for e in logged]
    assert ledger.vote("new-voter", f"tool:{TOOL}") == "skip"
    assert ledger.vote("old-voter", f"tool:{TOOL}") == "ship"


def test_a_retired_tool_takes_no_batched_votes(
    ledger: Ledger, event_store: Store
) -> None:
    other_node = event_store.ledger()
    other_node.retire_tool(CTX, TOOL, reason="withdrawn by its vendor")
    head = ledger.head_position()
    outcomes = cast_together(ledger, [_vote("a"), _vote("b")])
    assert all(isinstance(outcome, errors.ToolRetired) for outcome in outcomes)
    assert ledger.head_position() == head


def test_a_batch_that_loses_a_race_falls_back_vote_by_vote(
    ledger: Ledger, event_store: Store
) -> None:
    """Another writer's same vote waits for the lock first, then the batch.

    The single append lands first; the batch, refused for the racer's vote,
    falls back vote by vote, so both commands succeed and the log holds the
    vote once, then its change: never two first votes, never a lost one.
    """
    other_node = event_store.ledger()
    head = ledger.head_position()
    outcomes: dict[str, object] = {}

    def batch() -> None:
        outcomes["batch"] = cast_together(ledger, [_vote("racer"), _vote("bystander")])

    def single() -> None:
        outcomes["single"] = other_node.cast_vote(CTX, "racer", TOOL, "skip")

    threads = [threading.Thread(target=single), threading.Thread(target=batch)]
    with appends_held(event_store.settings):
        for thread in threads:
            thread.start()
            time.sleep(0.3)  # each waits for the lock, in this order
    for thread in threads:
        thread.join(15)
    assert isinstance(outcomes["single"], Receipt)
    batch_outcomes = outcomes["batch"]
    assert isinstance(batch_outcomes, list)
    assert all(isinstance(outcome, Receipt) for outcome in batch_outcomes)
    logged = event_log.read(ledger.recorder, after=head)
    racer = [e for e in logged if e.actor == f"voter:{ledger.voter_key('racer')}"]
    assert [e.type for e in racer] == ["Vote.Cast", "Vote.Changed"]
    assert len(logged) == 3


@pytest.mark.sqlite_only("eventsourcing's stock SQLite recorder has no conditions")
def test_on_a_store_without_conditional_appends_each_vote_runs_alone(
    home: Path,
) -> None:
    # given the ledger on eventsourcing's own SQLite recorder, demo loaded
    stock = Ledger(Settings(home=home), {"PERSISTENCE_MODULE": "eventsourcing.sqlite"})
    appends: list[int] = []
    stock.add_listener(appends.append)
    try:
        head = stock.head_position()
        # when votes are cast together
        outcomes = cast_together(
            stock, [_vote("first"), _vote("first"), _vote("second", "skip")]
        )
        # then each had its own append, with the single commands' outcomes
        assert [type(o).__name__ for o in outcomes] == [
            "Receipt",
            "NothingChanged",
            "Receipt",
        ]
        assert appends == [head + 1, head + 2]
    finally:
        stock.close()


@pytest.mark.sqlite_only("holds SQLite's write lock until the append times out")
def test_a_store_that_fails_fails_the_rest_of_the_batch_at_once(
    ledger: Ledger, home: Path
) -> None:
    head = ledger.head_position()
    quick = Ledger(Settings(home=home, lock_timeout=1))
    # The same voter twice: the first vote is appended before the second is decided.
    commands = [_vote("voter-a"), _vote("voter-a", "skip"), _vote("voter-b")]
    lock = sqlite3.connect(Settings(home=home).events_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        outcomes = cast_together(quick, commands)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        quick.close()
    # One append met the held lock; the votes after it did not try again.
    assert isinstance(outcomes[0], OperationalError)
    assert "database is locked" in str(outcomes[0])
    assert outcomes[1] is outcomes[0]
    assert outcomes[2] is outcomes[0]
    assert ledger.head_position() == head
