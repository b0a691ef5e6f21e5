"""A rebuild that loads the audit in SQL and folds in a process of its own equals
the fold alone, and bounds what it holds."""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from ledger.application import Ledger
from ledger.context import Context
from ledger.domainmodel import Vote
from ledger.settings import Settings
from projections import readmodel_path, schema
from projections.engine import HeldRows, project
from projections.rebuild import build, rebuild, scratch
from projections.rebuild.fold_process import FoldProcess
from projections.rebuild.later_events import LaterEvents
from projections.rebuild.replay import Replay
from projections.rebuild.set_loader import SetLoader
from projections.registry import READ_MODELS
from projections.schema import INDEXES_MIGRATION, migrate
from projections.source import LogSource

from .helpers import apply_command, dump, seed, steps

READS_THE_SQLITE_FILE = (
    "the bulk rebuild's helper processes read the SQLite log file itself;"
    " PostgreSQL's log is folded in this process"
)


def _ledger(home: Path, script: list[tuple[Any, ...]]) -> Ledger:
    ledger = Ledger(Settings(home=home))
    seed(ledger)
    for step in script:
        if step[0] != "project":
            apply_command(ledger, step)
    return ledger


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(script=steps)
def test_bulk_rebuild_equals_the_fold_writing_every_row(
    script: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ledger = _ledger(home, script)
        try:
            bulk = build(ledger, home / "bulk.sqlite", bulk=True)
            folded = build(ledger, home / "folded.sqlite", bulk=False)
        finally:
            ledger.close()
        assert bulk.position == folded.position == bulk.events
        assert dump(home / "bulk.sqlite") == dump(home / "folded.sqlite")
        assert _schema(home / "bulk.sqlite") == _schema(home / "folded.sqlite")
        assert not list(home.glob("*.fold*")), "the scratch file is removed"


def _schema(path: Path) -> list[tuple[str, str, str]]:
    """Every table, index and view of a file, and the migrations it records."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        applied = conn.execute(
            "SELECT 'migration', migration_set, name FROM _sqlite_migrations "
            "ORDER BY name"
        ).fetchall()
        assert schema.is_migrated(conn)
        # Indexes copied along with their tables must still match them.
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    return objects + applied


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_a_replay_holding_few_votes_forgets_them_and_ends_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [("vote", voter, voter % 3, "ship") for voter in range(4)]
    script += [("vote", voter, voter % 3, "skip") for voter in range(0, 4, 2)]
    script += [("retract", voter, voter % 3) for voter in range(1, 4, 2)]
    ledger = _ledger(tmp_path, script)
    held: list[int] = []
    trim = HeldRows.trim

    def counted(rows: HeldRows) -> None:
        if rows.limit is not None and len(rows) > rows.limit:
            held.append(len(rows))
        trim(rows)

    monkeypatch.setattr(HeldRows, "trim", counted)
    try:
        roomy = build(ledger, tmp_path / "roomy.sqlite", bulk=True)
        # Small batches, so later batches fold votes forgotten earlier, in
        # the fold's own process and in this one.
        tight = build(
            ledger, tmp_path / "tight.sqlite", batch_size=2, bulk=True, held_limit=1
        )
        here = build(
            ledger,
            tmp_path / "tight-here.sqlite",
            batch_size=2,
            bulk=False,
            held_limit=1,
        )
    finally:
        ledger.close()
    assert roomy.forgotten == 0
    assert tight.forgotten > 0
    assert here.forgotten == len(held) > 0
    assert all(votes > 1 for votes in held)
    rows = dump(tmp_path / "roomy.sqlite")
    community = [(row[0], row[15], row[16]) for row in rows["tools"]]
    assert sum(ship + skip for _, ship, skip in community) == 2, community
    assert rows == dump(tmp_path / "tight.sqlite")
    assert rows == dump(tmp_path / "tight-here.sqlite")


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_a_failed_bulk_load_says_why(tmp_path: Path, ledger: Ledger) -> None:
    seed(ledger)
    target = tmp_path / "target.sqlite"
    conn = scratch.connect(target)
    migrate(conn, stop_before=INDEXES_MIGRATION)
    conn.close()
    log_file = str(ledger.settings.home / "events.sqlite")
    loader = SetLoader(target, (log_file, "no_such_table"), ledger.head_position())
    loader.start()
    with pytest.raises(RuntimeError, match="no such table"):
        loader.finish()


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_a_failed_fold_process_says_why_and_stops(
    tmp_path: Path, ledger: Ledger
) -> None:
    seed(ledger)
    target = tmp_path / "target.sqlite"
    fold_file = tmp_path / "target.sqlite.fold"
    for path in (target, fold_file):
        conn = scratch.connect(path)
        migrate(conn, stop_before=INDEXES_MIGRATION)
        conn.close()
    log_file = str(ledger.settings.home / "events.sqlite")
    folder = FoldProcess(
        fold_file,
        target,
        (log_file, "no_such_table"),
        ledger.head_position(),
        100,
        1000,
    )
    folder.start()
    with pytest.raises(RuntimeError, match=r"folding the log failed: .*no such table"):
        folder.fold(lambda _events, _position: None)
    assert folder.peak_rss_kb > 0
    assert dump(target)["tools"] == []


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_a_bulk_rebuild_that_fails_leaves_no_file_behind(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(ledger)
    # Both helper processes read a table that is not there.
    monkeypatch.setattr(
        LogSource,
        "sqlite_file",
        property(lambda _source: (str(ledger.settings.events_path), "missing")),
    )
    target = tmp_path / "built" / "model.sqlite"
    target.parent.mkdir()
    with pytest.raises(RuntimeError, match="no such table"):
        build(ledger, target, bulk=True)
    assert list(target.parent.iterdir()) == []


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_the_fold_process_warnings_reach_this_process_log(
    tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    seed(ledger)
    # A vote on a tool the log never registered, as only a damaged log holds.
    ghost = Vote.cast(Context("voter"), "tool:ghost", "v1", "ship", ("ship", "skip"))
    ledger.recorder.insert_events(
        [ledger.mapper.to_stored_event(event) for event in ghost.collect_events()]
    )
    position = ledger.head_position()
    with caplog.at_level(logging.WARNING):
        build(ledger, tmp_path / "bulk.sqlite", bulk=True)
    relayed = [
        r for r in caplog.records if r.name == "projections.rebuild.fold_process"
    ]
    assert [r.getMessage() for r in relayed] == [
        f"event {position} names an unknown tool"
    ]


def test_rebuild_removes_scratch_files_a_killed_rebuild_left(ledger: Ledger) -> None:
    seed(ledger)
    path = readmodel_path(ledger.settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    abandoned = path.with_name(f"{path.stem}-0123abcd{path.suffix}.fold")
    abandoned.write_bytes(b"half a fold")
    rebuild(ledger, path)
    assert not abandoned.exists()
    assert dump(path)["tools"]


@pytest.mark.sqlite_only(READS_THE_SQLITE_FILE)
def test_later_events_knows_every_aggregate_with_a_second_event(
    tmp_path: Path,
) -> None:
    script = [("vote", voter, voter % 3, "ship") for voter in range(2)]
    script += [("vote", 0, 0, "skip"), ("review", 1, 1, "ship", "speed")]
    script += [("review", 1, 1, "skip", "price")]
    ledger = _ledger(tmp_path, script)
    source = LogSource(ledger)
    try:
        raws = source.read(0, 10_000)
        ids = source.with_later_events()
        assert ids is not None
        later = LaterEvents(ids)
        changed = {raw[1] for raw in raws if raw[2] == 2}
        assert changed, "the script changes a vote and a review"
        assert all(aggregate_id in later for aggregate_id in changed)
        once = {raw[1] for raw in raws} - changed
        # A few ids may share a bit with a changed one; most are told apart.
        assert sum(aggregate_id in later for aggregate_id in once) < len(once) / 2
        # A replay that knows holds only the votes that change, and ends the same.
        knowing = Replay(
            bulk_file(tmp_path / "knowing.sqlite"), READ_MODELS, source, 10, later
        )
        blind = Replay(bulk_file(tmp_path / "blind.sqlite"), READ_MODELS, source, 10)
        for replay in (knowing, blind):
            project(replay.conn, 0, raws, replay)
            replay.finish()
        held = [
            len(rows)
            for replay in (knowing, blind)
            for rows in replay.rows.values()
            if isinstance(rows, HeldRows)
        ]
        assert held == [1, 2]
    finally:
        source.close()
        ledger.close()
    assert dump(tmp_path / "knowing.sqlite") == dump(tmp_path / "blind.sqlite")


def bulk_file(path: Path) -> Any:
    conn = scratch.connect(path)
    migrate(conn, stop_before=INDEXES_MIGRATION)
    return conn
