"""Conditional appends: a decision made on a cached tool or reviewer is never stale.

Commands keep tools and reviewers cached and append a vote or review only if
what they checked is still at the version they saw
(:mod:`ledger.conditional_appends`). These tests make the cache stale on
purpose, with a second ledger on the same log, and check that every rule
still holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import errors, log
from ledger.application import Ledger
from ledger.conditional_appends import ConditionalAppends, DependencyChanged
from ledger.domainmodel import Tool, Vote
from ledger.settings import Settings
from tests.stores import Store

from .helpers import (
    ADMIN,
    EDITOR,
    RATIONALE,
    VOTER,
    enroll,
    refused,
    register,
    reviewer_ctx,
)


@contextmanager
def warmed_ledgers(
    settings: Settings, env: dict[str, str]
) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one log that have both loaded tool alpha and ada."""
    mine, other = Ledger(settings, env), Ledger(settings, env)
    try:
        register(mine, "alpha")
        enroll(mine, "ada")
        assert mine.tool("alpha") == other.tool("alpha")
        assert mine.reviewer("ada") == other.reviewer("ada")
        mine.cast_vote(VOTER, "warm-up", "alpha", "ship")
        other.cast_vote(VOTER, "warm-up-2", "alpha", "ship")
        yield mine, other
    finally:
        mine.close()
        other.close()


@pytest.fixture(params=["ledger", "stock"])
def pair(
    event_store: Store, request: pytest.FixtureRequest
) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one log, with the ledger's recorder or with stock's.

    The rules must hold either way: with eventsourcing's stock recorder (for
    SQLite or PostgreSQL) the ledger reads fresh state for every decision
    instead.
    """
    stock = request.param == "stock"
    env = dict(event_store.env)
    if stock:
        env["PERSISTENCE_MODULE"] = f"eventsourcing.{event_store.name}"
    with warmed_ledgers(event_store.settings, env) as ledgers:
        assert isinstance(ledgers[0].recorder, ConditionalAppends) is not stock
        yield ledgers


def test_a_tool_retired_elsewhere_takes_no_vote(pair: tuple[Ledger, Ledger]) -> None:
    mine, other = pair
    # when the other ledger retires the tool mine has cached as active
    other.retire_tool(EDITOR, "alpha", reason="discontinued")
    # then mine refuses a vote on it, appending nothing
    refused(mine, errors.ToolRetired, mine.cast_vote, VOTER, "carol", "alpha", "ship")


def test_a_refusal_is_decided_on_what_the_store_holds(
    pair: tuple[Ledger, Ledger],
) -> None:
    mine, other = pair
    # when the other ledger retires the tool mine has cached as active
    other.retire_tool(EDITOR, "alpha", reason="discontinued")
    # then a vote mine would refuse anyway is refused for the tool, not its choice
    refused(mine, errors.ToolRetired, mine.cast_vote, VOTER, "carol", "alpha", "maybe")


def test_a_tool_reinstated_elsewhere_takes_votes(pair: tuple[Ledger, Ledger]) -> None:
    mine, other = pair
    # given mine saw the tool retired
    mine.retire_tool(EDITOR, "alpha", reason="paused")
    refused(mine, errors.ToolRetired, mine.cast_vote, VOTER, "carol", "alpha", "ship")
    # when the other ledger reinstates it
    other.reinstate_tool(EDITOR, "alpha", reason="back")
    # then mine accepts votes again
    assert mine.cast_vote(VOTER, "carol", "alpha", "ship").version == 1


def test_a_reviewer_retired_elsewhere_cannot_review(
    pair: tuple[Ledger, Ledger],
) -> None:
    mine, other = pair
    other.retire_reviewer(ADMIN, "ada", reason="left")
    refused(
        mine,
        errors.ReviewerRetired,
        mine.submit_review,
        reviewer_ctx("ada"),
        "alpha",
        "ada",
        verdict="ship",
        rationale=RATIONALE,
    )


def test_an_edit_elsewhere_is_seen_by_expected_version(
    pair: tuple[Ledger, Ledger],
) -> None:
    mine, other = pair
    other.edit_tool(EDITOR, "alpha", {"name": "Renamed"}, expected_version=1)
    # mine's cached version 1 is not trusted for an edit: it loads version 2
    refused(
        mine,
        errors.StaleVersion,
        mine.edit_tool,
        EDITOR,
        "alpha",
        {"name": "Mine"},
        expected_version=1,
    )
    assert (
        mine.edit_tool(EDITOR, "alpha", {"name": "Mine"}, expected_version=2).version
        == 3
    )
    assert other.tool("alpha")["name"] == "Mine"


def test_no_vote_lands_after_its_tool_is_retired(event_store: Store) -> None:
    refusals: list[Exception] = []

    def vote(ledger: Ledger, name: str) -> None:
        for index in range(10_000):
            try:
                ledger.cast_vote(VOTER, f"{name}-{index}", "alpha", "ship")
            except errors.ToolRetired as error:
                refusals.append(error)
                return

    with warmed_ledgers(event_store.settings, event_store.env) as (mine, other):
        # given voters on both ledgers voting as fast as they can
        voters = [
            threading.Thread(target=vote, args=(ledger, f"{name}{n}"))
            for n in range(3)
            for ledger, name in ((mine, "m"), (other, "o"))
        ]
        for thread in voters:
            thread.start()
        # when the tool is retired in the middle of it
        while len(log.read(mine.recorder, types=["Vote.Cast"])) < 30:
            time.sleep(0.001)
        retired = other.retire_tool(EDITOR, "alpha", reason="now")
        for thread in voters:
            thread.join(timeout=30)
        # then every voter was refused, and no vote follows the retirement
        assert len(refusals) == len(voters)
        casts = log.read(mine.recorder, types=["Vote.Cast"])
        assert len(casts) >= 30
        assert max(e.position for e in casts) < retired.position


def test_the_recorder_refuses_an_append_against_a_decisive_change(
    ledger: Ledger,
) -> None:
    # given a tool retired at version 2 and reinstated at version 3
    register(ledger, "alpha")
    ledger.retire_tool(EDITOR, "alpha", reason="gone")
    ledger.reinstate_tool(EDITOR, "alpha", reason="back")
    vote = Vote.cast(VOTER, "tool:alpha", "k" * 32, "ship", ("ship", "skip"))
    stored: StoredEvent = ledger.mapper.to_stored_event(vote.collect_events()[0])
    tool_id = Tool.id_for("alpha")
    # when an append is conditional on version 1, it is refused whole
    with pytest.raises(DependencyChanged, match="at version 2 after version 1"):
        ledger.recorder.insert_events([stored], unchanged=[(tool_id, 1)])
    assert ledger.head_position() == 3
    # and on version 3 it lands, after the tool's three events (PostgreSQL's
    # position sequence may have skipped the number the refused append took)
    positions = ledger.recorder.insert_events([stored], unchanged=[(tool_id, 3)])
    assert [e.position for e in log.read(ledger.recorder)][3:] == positions


def test_an_edit_that_decides_nothing_does_not_refuse_an_append(
    ledger: Ledger,
) -> None:
    # given a tool whose tagline was edited after a vote's check saw version 1
    register(ledger, "alpha")
    ledger.edit_tool(EDITOR, "alpha", {"tagline": "new words"})
    vote = Vote.cast(VOTER, "tool:alpha", "k" * 32, "ship", ("ship", "skip"))
    stored: StoredEvent = ledger.mapper.to_stored_event(vote.collect_events()[0])
    # when the append is conditional on version 1, it still lands
    positions = ledger.recorder.insert_events(
        [stored], unchanged=[(Tool.id_for("alpha"), 1)]
    )
    assert positions == [3]
