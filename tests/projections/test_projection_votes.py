"""A vote changed or retracted later is folded against its earlier events in the log."""

from __future__ import annotations

from pathlib import Path

from ledger.application import Ledger
from projections import files, schema
from projections.rebuild import build
from projections.source import LogSource
from tests.stores import Store

from .helpers import CTX, dump, project, seed


def _community(path: Path, slug: str) -> tuple[int, int]:
    conn = files.connect(path)
    try:
        ship, skip = conn.execute(
            "SELECT community_ship, community_skip FROM tools WHERE slug = ?", (slug,)
        ).fetchone()
    finally:
        conn.close()
    return ship, skip


def _project_new_events(ledger: Ledger, path: Path) -> None:
    """Projects what is new with a fresh connection, as a restarted node would."""
    conn = files.connect(path)
    source = LogSource(ledger)
    try:
        schema.migrate(conn)
        after = schema.tracked_position(conn)
        project(conn, after, source.read(after, 10_000), source)
    finally:
        source.close()
        conn.close()


def test_changes_in_later_batches_move_the_right_counts(
    ledger: Ledger, tmp_path: Path
) -> None:
    seed(ledger)
    path = tmp_path / "model.sqlite"
    ledger.cast_vote(CTX, "ann", "alpha", "ship")
    ledger.cast_vote(CTX, "bob", "alpha", "ship")
    ledger.cast_vote(CTX, "cyd", "beta", "skip")
    _project_new_events(ledger, path)
    assert _community(path, "alpha") == (2, 0)
    ledger.cast_vote(CTX, "ann", "alpha", "skip")  # a change
    _project_new_events(ledger, path)
    assert _community(path, "alpha") == (1, 1)
    ledger.retract_vote(CTX, "ann", "alpha")  # after a change
    ledger.retract_vote(CTX, "cyd", "beta")
    _project_new_events(ledger, path)
    assert _community(path, "alpha") == (1, 0)
    assert _community(path, "beta") == (0, 0)
    ledger.cast_vote(CTX, "ann", "alpha", "skip")  # again, after retracting
    _project_new_events(ledger, path)
    assert _community(path, "alpha") == (1, 1)
    build(ledger, tmp_path / "clean.sqlite", bulk=False)
    assert dump(path) == dump(tmp_path / "clean.sqlite")


def test_earlier_events_are_those_below_the_version_named(
    ledger: Ledger, event_store: Store
) -> None:
    seed(ledger)
    ledger.cast_vote(CTX, "ann", "alpha", "ship")
    ledger.cast_vote(CTX, "ann", "alpha", "skip")
    ledger.retract_vote(CTX, "ann", "alpha")
    ledger.cast_vote(CTX, "bob", "beta", "ship")
    source = LogSource(ledger)
    raws = source.read(0, 10_000)
    ann = next(raw[1] for raw in raws if raw[3].endswith("Vote.Retracted"))
    bob = next(raw[1] for raw in reversed(raws) if raw[3].endswith("Vote.Cast"))
    earlier = source.earlier_events({ann: 3, bob: 5})
    source.close()
    assert sorted((raw[1], raw[2]) for raw in earlier) == sorted(
        [(ann, 1), (ann, 2), (bob, 1)]
    )
    assert [raw[2] for raw in earlier if raw[1] == ann] == [1, 2]  # oldest first
    by_key = {(raw[1], raw[2]): raw for raw in raws}
    assert all(by_key[raw[1], raw[2]][1:] == raw[1:] for raw in earlier)
    # Only the embedded store gives their positions (PostgreSQL's are 0).
    if event_store.name == "sqlite":
        assert all(by_key[raw[1], raw[2]] == raw for raw in earlier)
