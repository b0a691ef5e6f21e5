"""The same ledger on PostgreSQL, the scale-out event store.

Needs the server at 127.0.0.1:5432 (database ``test``, user ``postgres``,
trust auth); skipped with the reason if it cannot be reached. Each test gets
a schema of its own, dropped afterwards with the application's table, type
and function in it, so tests never see each other's events nor anyone else's.
"""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger import errors, log
from ledger.domainmodel import Tool, Vote
from ledger.store import DependencyChanged
from ledger.store_postgres import LedgerPostgresApplicationRecorder
from tests.postgres import URL, Postgres

from .helpers import EDITOR, RATIONALE, VOTER, enroll, refused, register, reviewer_ctx
from .test_concurrency import (
    THREADS,
    assert_one_winner,
    edit_at_version_1,
    race,
    voter_batch,
)

pytestmark = pytest.mark.postgres


def test_the_application_table_is_named_after_the_ledger(postgres: Postgres) -> None:
    ledger = postgres.ledger()
    assert isinstance(ledger.recorder, LedgerPostgresApplicationRecorder)
    assert ledger.recorder.events_table_name == "verdictledger_events"
    with psycopg.connect(URL) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (postgres.env["POSTGRES_SCHEMA"],),
        ).fetchall()
    assert tables == [("verdictledger_events",)]


def test_commands_append_to_postgresql(postgres: Postgres) -> None:
    ledger = postgres.ledger()
    # when a tool is registered, reviewed, voted on and edited
    register(ledger, "alpha")
    enroll(ledger, "ada")
    review = ledger.submit_review(
        reviewer_ctx("ada"), "alpha", "ada", verdict="ship", rationale=RATIONALE
    )
    cast = ledger.cast_vote(VOTER, "carol", "alpha", "ship")
    changed = ledger.cast_vote(VOTER, "carol", "alpha", "skip")
    edited = ledger.edit_tool(EDITOR, "alpha", {"name": "Alpha 2"}, expected_version=1)
    # then the log holds them in order, at consecutive positions
    events = log.read(ledger.recorder)
    assert [(e.position, e.type) for e in events] == [
        (1, "Tool.Registered"),
        (2, "Reviewer.Enrolled"),
        (3, "Review.Submitted"),
        (4, "Vote.Cast"),
        (5, "Vote.Changed"),
        (6, "Tool.Edited"),
    ]
    assert [r.position for r in (review, cast, changed, edited)] == [3, 4, 5, 6]
    assert (cast.version, changed.version, edited.version) == (1, 2, 2)
    assert events[3].data["voter"] == ledger.voter_key("carol")
    # and a fresh ledger reads the same state back
    fresh = postgres.ledger()
    assert fresh.tool("alpha")["name"] == "Alpha 2"
    assert fresh.review("alpha", "ada")["verdict"] == "ship"
    assert fresh.vote("carol", "tool:alpha") == "skip"


def test_a_stale_edit_conflicts(postgres: Postgres) -> None:
    ledger = postgres.ledger()
    register(ledger, "alpha")
    ledger.edit_tool(EDITOR, "alpha", {"name": "Two"}, expected_version=1)
    refused(
        ledger,
        errors.StaleVersion,
        ledger.edit_tool,
        EDITOR,
        "alpha",
        {"name": "Lost"},
        expected_version=1,
    )
    assert ledger.tool("alpha")["name"] == "Two"


def test_racing_edits_on_two_ledgers_have_one_winner(postgres: Postgres) -> None:
    first, second = postgres.ledger(), postgres.ledger()
    register(first, "alpha")
    assert second.tool("alpha")["version"] == 1
    commands = [
        edit_at_version_1(first if i % 2 else second, i) for i in range(THREADS)
    ]
    receipts, failures = race(commands)
    assert_one_winner(first, receipts, failures)


def test_votes_from_threads_all_land(postgres: Postgres) -> None:
    first, second = postgres.ledger(), postgres.ledger()
    register(first, "alpha")
    commands = [voter_batch(first if t % 2 else second, t, 5) for t in range(THREADS)]
    results, failures = race(commands)
    assert failures == []
    assert sum(len(batch) for batch in results) == 5 * THREADS
    casts = log.read(first.recorder, types=["Vote.Cast"])
    assert len({e.data["voter"] for e in casts}) == 5 * THREADS


def test_a_tool_retired_by_another_node_takes_no_vote(postgres: Postgres) -> None:
    mine, other = postgres.ledger(), postgres.ledger()
    register(mine, "alpha")
    mine.cast_vote(VOTER, "warm-up", "alpha", "ship")  # mine caches the tool
    other.retire_tool(EDITOR, "alpha", reason="gone")
    refused(mine, errors.ToolRetired, mine.cast_vote, VOTER, "carol", "alpha", "ship")
    other.reinstate_tool(EDITOR, "alpha", reason="back")
    assert mine.cast_vote(VOTER, "carol", "alpha", "ship").version == 1


def test_the_recorder_refuses_an_append_against_a_moved_aggregate(
    postgres: Postgres,
) -> None:
    ledger = postgres.ledger()
    register(ledger, "alpha")
    ledger.retire_tool(EDITOR, "alpha", reason="gone")
    ledger.reinstate_tool(EDITOR, "alpha", reason="back")
    vote = Vote.cast(VOTER, "tool:alpha", "k" * 32, "ship", ("ship", "skip"))
    stored: StoredEvent = ledger.mapper.to_stored_event(vote.collect_events()[0])
    with pytest.raises(DependencyChanged):
        ledger.recorder.insert_events([stored], unchanged=[(Tool.id_for("alpha"), 1)])
    assert ledger.head_position() == 3
    positions = ledger.recorder.insert_events(
        [stored], unchanged=[(Tool.id_for("alpha"), 3)]
    )
    # (the refused insert used up a number of PostgreSQL's sequence)
    assert positions is not None
    assert positions[0] > 3
    assert [e.type for e in log.read(ledger.recorder)] == [
        "Tool.Registered",
        "Tool.Retired",
        "Tool.Reinstated",
        "Vote.Cast",
    ]
