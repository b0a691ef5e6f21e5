"""Concurrent writers on one event store: conflicts are refused, commutes all land.

Threads share one ledger or use two ledgers on the same file; processes are
real child processes of their own. Conflicting edits of one tool at the same
expected version must yield exactly one winner and a conflict error for every
other writer, never a lost update; votes by different voters must all land.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger import log
from ledger.application import Ledger
from tests.stores import Store

from .helpers import (
    THREADS,
    assert_one_winner,
    edit_at_version_1,
    race,
    register,
    voter_batch,
)

WRITER = Path(__file__).with_name("writer_process.py")


@pytest.fixture
def two_ledgers(event_store: Store) -> tuple[Ledger, Ledger]:
    """Two ledgers, as two API workers would have, on one event store."""
    first, second = event_store.ledger(), event_store.ledger()
    register(first, "alpha")
    return first, second


def test_threads_editing_one_version_on_one_ledger(ledger: Ledger) -> None:
    # given a tool at version 1
    register(ledger, "alpha")
    # when eight threads edit it, all expecting version 1
    receipts, failures = race([edit_at_version_1(ledger, i) for i in range(THREADS)])
    # then one edit lands and the others are conflicts
    assert_one_winner(ledger, receipts, failures)


def test_threads_editing_one_version_on_two_ledgers(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_ledgers
    # given both ledgers have loaded (and cached) the tool at version 1
    assert first.tool("alpha")["version"] == second.tool("alpha")["version"] == 1
    # when threads on both edit it expecting version 1
    commands = [
        edit_at_version_1(first if i % 2 else second, i) for i in range(THREADS)
    ]
    receipts, failures = race(commands)
    # then one wins, and both ledgers now see the winner's edit
    assert_one_winner(first, receipts, failures)
    assert second.tool("alpha") == first.tool("alpha")


def test_threads_casting_votes_by_different_voters_all_land(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_ledgers
    per_thread = 15

    # when threads on two ledgers cast votes, each by a different voter
    commands = [
        voter_batch(first if t % 2 else second, t, per_thread) for t in range(THREADS)
    ]
    results, failures = race(commands)
    # then every vote landed, once, at its own position
    assert failures == []
    positions = [p for batch in results for p in batch]
    assert len(set(positions)) == THREADS * per_thread
    casts = log.read(first.recorder, types=["Vote.Cast"])
    assert sorted(e.position for e in casts) == sorted(positions)
    assert len({e.data["voter"] for e in casts}) == THREADS * per_thread


def test_two_processes_on_one_store(event_store: Store) -> None:
    # given a tool in a ledger on disk
    edits, votes = 20, 5
    register(event_store.ledger(), "alpha")
    env = {**os.environ, **event_store.cli_env()}
    # when two processes, started together, vote and race to edit each version
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER), name, str(edits), str(votes)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    finally:
        for child in children:
            child.kill()
    assert [child.returncode for child in children] == [0, 0]
    # then every version was won by exactly one of them
    won = sorted(v for report in reports for v in report["won"])
    assert won == list(range(1, edits + 1))
    assert sum(report["lost"] for report in reports) == edits
    # and every vote of both landed
    ledger = event_store.ledger()
    casts = log.read(ledger.recorder, types=["Vote.Cast"])
    assert len(casts) == sum(r["votes"] for r in reports) == 2 * edits * votes
    assert len({e.data["voter"] for e in casts}) == len(casts)
    # and the tool is what the last winner wrote, nothing lost on the way
    state = ledger.tool("alpha")
    assert state["version"] == edits + 1
    last = next(r["name"] for r in reports if edits in r["won"])
    assert state["tagline"] == f"{last} at {edits}"
    tool_edits = log.read(ledger.recorder, types=["Tool.Edited"])
    assert [e.version for e in tool_edits] == list(range(2, edits + 2))
