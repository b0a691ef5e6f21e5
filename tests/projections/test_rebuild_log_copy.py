"""A large rebuild from PostgreSQL copies the log into a scratch SQLite file and
takes the bulk path; what it builds equals the plain fold reading the recorder."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ledger.application import Ledger
from projections.rebuild import LOG_COPY, build
from projections.rebuild.log_copy import copy_log, copyable
from projections.source import LogSource
from tests.helpers import Postgres

from .helpers import apply_command, dump, seed

SCRIPT = [
    ("vote", 1, 0, "ship"),
    ("vote", 2, 0, "skip"),
    ("vote", 1, 0, "skip"),
    ("retract", 2, 0),
    ("vote", 3, 1, "ship"),
    ("publish", 0, 1),
    ("pick", 3, 0, 1, True),
    ("retire", 1),
    ("reinstate", 1),
]


@pytest.fixture
def pg_ledger(postgres: Postgres) -> Ledger:
    """A ledger on PostgreSQL holding the demo data and a few later commands.

    PostgreSQL alone: SQLite's log is read in place by the bulk rebuild
    (``test_rebuild_bulk.py``).
    """
    ledger = postgres.ledger()
    seed(ledger)
    for step in SCRIPT:
        apply_command(ledger, step)
    return ledger


def _copied_rows(path: str, table: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {table} ORDER BY rowid"
        ).fetchall()


def test_the_copy_holds_what_the_recorder_reads(
    pg_ledger: Ledger, tmp_path: Path
) -> None:
    assert copyable(pg_ledger.recorder)
    head = pg_ledger.head_position()
    source = LogSource(pg_ledger)
    try:
        expected = source.read(0, head + 1)
    finally:
        source.close()
    path, table = copy_log(pg_ledger.recorder, tmp_path / "log.sqlite", head)
    assert [tuple(row) for row in _copied_rows(path, table)] == [
        tuple(row) for row in expected
    ]
    assert expected
    assert expected[-1][0] == head


def test_the_copy_stops_at_the_position_asked(
    pg_ledger: Ledger, tmp_path: Path
) -> None:
    path, table = copy_log(pg_ledger.recorder, tmp_path / "log.sqlite", 5)
    assert [row[0] for row in _copied_rows(path, table)] == [1, 2, 3, 4, 5]


def test_a_bulk_rebuild_from_postgresql_equals_the_plain_fold(
    pg_ledger: Ledger, tmp_path: Path
) -> None:
    built = tmp_path / "built"
    built.mkdir()
    bulk = build(pg_ledger, built / "bulk.sqlite", bulk=True)
    plain = build(pg_ledger, built / "plain.sqlite", bulk=False)
    assert bulk.position == plain.position == pg_ledger.head_position()
    assert bulk.events == plain.events
    assert dump(built / "bulk.sqlite") == dump(built / "plain.sqlite")
    assert sorted(p.name for p in built.iterdir()) == ["bulk.sqlite", "plain.sqlite"]


def test_a_failed_copy_leaves_no_file_behind(
    pg_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A log table the copy cannot find fails it on the server.
    monkeypatch.setattr(pg_ledger.recorder, "events_table_name", "missing")
    target = tmp_path / "built" / "model.sqlite"
    target.parent.mkdir()
    with pytest.raises(Exception, match="missing"):
        build(pg_ledger, target, bulk=True)
    assert list(target.parent.iterdir()) == []
    assert not target.with_name(f"{target.name}{LOG_COPY}").exists()
