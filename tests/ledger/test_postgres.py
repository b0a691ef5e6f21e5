"""The same ledger on PostgreSQL, the scale-out event store.

Needs the server at 127.0.0.1:5432 (database ``test``, user ``postgres``,
trust auth); skipped with the reason if it cannot be reached. Each test gets
a schema of its own, dropped afterwards with the application's table, type
and function in it, so tests never see each other's events nor anyone else's.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger import errors, log
from ledger.conditional_appends import DependencyChanged
from ledger.domainmodel import Tool, Vote
from ledger.postgres_recorder import LedgerPostgresApplicationRecorder
from tests.helpers import URL, Postgres

from .helpers import (
    EDITOR,
    RATIONALE,
    THREADS,
    VOTER,
    assert_one_winner,
    edit_at_version_1,
    enroll,
    race,
    refused,
    register,
    reviewer_ctx,
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
    assert sorted(tables) == [("ledger_person_keys",), ("verdictledger_events",)]


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
    # then the log holds them in order; the change of the vote was first
    # tried as a first vote, which the store refused, taking position 5
    events = log.read(ledger.recorder)
    assert [(e.position, e.type) for e in events] == [
        (1, "Tool.Registered"),
        (2, "Reviewer.Enrolled"),
        (3, "Review.Submitted"),
        (4, "Vote.Cast"),
        (6, "Vote.Changed"),
        (7, "Tool.Edited"),
    ]
    assert [r.position for r in (review, cast, changed, edited)] == [3, 4, 6, 7]
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


@pytest.fixture
def dropped(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Drops, from another connection, every connection this test opened.

    The test's connections carry an application name of their own (libpq
    reads ``PGAPPNAME``), so the server's other clients keep theirs. Returns
    how many it dropped.
    """
    name = f"ledger-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", name)

    def drop() -> int:
        with psycopg.connect(URL, autocommit=True) as admin:
            return len(
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (name,),
                ).fetchall()
            )

    return drop


def test_a_conditional_append_outlives_dropped_connections(
    postgres: Postgres, dropped: Callable[[], int]
) -> None:
    # given a ledger whose every pooled connection the server has dropped
    ledger = postgres.ledger()
    register(ledger, "alpha")
    vote = Vote.cast(VOTER, "tool:alpha", "k" * 32, "ship", ("ship", "skip"))
    stored: StoredEvent = ledger.mapper.to_stored_event(vote.collect_events()[0])
    assert dropped() >= 1
    # when the first statement after it is a conditional append
    positions = ledger.recorder.insert_events(
        [stored], unchanged=[(Tool.id_for("alpha"), 1)]
    )
    # then it lands, once, on a fresh connection
    assert positions == [2]
    assert [e.type for e in log.read(ledger.recorder)] == [
        "Tool.Registered",
        "Vote.Cast",
    ]


def test_commands_land_after_the_connections_dropped(
    postgres: Postgres, dropped: Callable[[], int]
) -> None:
    """Each command after the server dropped every connection of the ledger.

    A vote first reads the voter's earlier vote, and eventsourcing's read
    replaces dropped connections as it retries; publishing a comparison
    decides on cached tools alone, so its conditional append meets the
    dropped connections first.
    """
    # given a ledger that has its tools and reviewer cached
    ledger = postgres.ledger()
    register(ledger, "alpha")
    register(ledger, "beta")
    enroll(ledger, "ada")
    ledger.cast_vote(VOTER, "warm-up", "alpha", "ship")
    ledger.reviewer("ada")
    ledger.tool("beta")
    # when the server drops its connections before each command
    assert dropped() >= 1
    vote = ledger.cast_vote(VOTER, "carol", "alpha", "skip")
    assert dropped() >= 1
    comparison = ledger.publish_comparison(EDITOR, "alpha", "beta", question="Which?")
    assert dropped() >= 1
    review = ledger.submit_review(
        reviewer_ctx("ada"), "alpha", "ada", verdict="ship", rationale=RATIONALE
    )
    # then every command landed, in order
    assert [r.position for r in (vote, comparison, review)] == [5, 6, 7]
    assert ledger.vote("carol", "tool:alpha") == "skip"


def test_nodes_opening_a_fresh_schema_together_all_start(postgres: Postgres) -> None:
    # given four nodes started at the same moment on a schema with no tables
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            postgres.ledger()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then each made or found the tables, and they share one log
    assert failures == []
    first, second = postgres.opened[:2]
    register(first, "shared-tool")
    assert second.head_position() == first.head_position() == 1
