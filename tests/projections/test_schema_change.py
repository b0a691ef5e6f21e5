"""A read-model file made with another schema asks for a rebuild, and gets one."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ledger import demo
from ledger.application import Ledger
from projections import Projector, ReadModel, files, schema
from projections.rebuild import build

from .helpers import CTX, dump, run_ledger


def _stamp(path: Path, user_version: int) -> None:
    conn = sqlite3.connect(os.path.realpath(path))
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()


@pytest.fixture
def stale(ledger: Ledger, live_path: Path) -> Path:
    """The demo's read models, as another version of the schema made them."""
    demo.load(ledger)
    projector = Projector(ledger, live_path)
    projector.catch_up()
    projector.close()
    _stamp(live_path, schema.FINGERPRINT + 1)
    return live_path


def test_a_file_of_another_schema_is_refused_with_what_to_do(stale: Path) -> None:
    conn = files.connect(stale)
    with pytest.raises(schema.SchemaChanged, match="run `ledger rebuild`"):
        schema.migrate(conn)
    conn.close()
    with pytest.raises(schema.SchemaChanged):
        ReadModel(stale)


def test_a_file_made_by_a_migration_chain_of_old_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    # What files of the release before the fingerprint held: applied
    # migrations, and no user_version.
    conn.execute(
        "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, "
        "migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('projections.readmodel', 'm001_tables', '2026-11-30')"
    )
    conn.commit()
    conn.close()
    conn = files.connect(path)
    with pytest.raises(schema.SchemaChanged):
        schema.migrate(conn)
    conn.close()


def test_a_projector_rebuilds_a_file_of_another_schema(
    stale: Path, ledger: Ledger, tmp_path: Path
) -> None:
    ledger.cast_vote(CTX, "after-the-upgrade", "code-llama-4", "ship")
    projector = Projector(ledger, stale)  # as a node starts
    try:
        assert projector.catch_up() == ledger.head_position()
    finally:
        projector.close()
    assert stale.is_symlink()  # a new generation was swapped in
    build(ledger, tmp_path / "clean.sqlite")
    assert dump(stale) == dump(tmp_path / "clean.sqlite")
    model = ReadModel(stale)
    try:
        card = model.tool("code-llama-4")
        assert card is not None
        assert card.community.ship == 1
    finally:
        model.close()


@pytest.mark.usefixtures("stale")
def test_status_says_the_schema_changed_and_rebuild_fixes_it(home: Path) -> None:
    status = run_ledger(home, "status")
    assert status.returncode == 0, status.stderr
    assert "ledger rebuild" in status.stdout
    rebuilt = run_ledger(home, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = run_ledger(home, "status")
    assert "ledger rebuild" not in after.stdout
    assert "all read models share one file" in after.stdout
