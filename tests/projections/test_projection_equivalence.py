"""Incremental projection, in any batch split, equals one full rebuild, row for row."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.settings import Settings
from projections import Projector
from projections.rebuild import build

from .helpers import (
    apply_command,
    assert_matches_write_side,
    dump,
    seed,
    steps,
)


def _run(home: Path, script: list[tuple[Any, ...]], final_batch: int) -> Path:
    ledger = Ledger(Settings(home=home))
    projector = Projector(ledger, home / "live.sqlite", batch_size=final_batch)
    try:
        seed(ledger)
        for step in script:
            if step[0] == "project":
                projector.batch_size = step[1]
                projector.catch_up()
            else:
                apply_command(ledger, step)
        projector.batch_size = final_batch
        assert projector.catch_up() == ledger.head_position()
        assert_matches_write_side(ledger, home / "live.sqlite")
        build(ledger, home / "rebuilt.sqlite", batch_size=1000)
    finally:
        projector.close()
        ledger.close()
    return home


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(script=steps, final_batch=st.integers(1, 9))
def test_incremental_projection_equals_rebuild(
    script: list[tuple[Any, ...]], final_batch: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = _run(Path(directory), script, final_batch)
        live, rebuilt = dump(home / "live.sqlite"), dump(home / "rebuilt.sqlite")
        assert live.keys() == rebuilt.keys()
        for table in live:
            assert live[table] == rebuilt[table], table


def test_a_busy_script_touches_every_read_model(tmp_path: Path) -> None:
    """Guards the property above against passing vacuously on empty tables."""
    script = [
        ("review", 0, 0, "ship", "speed"),
        ("review", 1, 0, "skip", "price"),
        ("review", 0, 0, "skip", "price"),
        ("withdraw", 1, 0),
        ("review", 1, 0, "ship", "speed"),
        ("vote", 0, 0, "ship"),
        ("vote", 0, 0, "skip"),
        ("retract", 0, 0),
        ("publish", 0, 1),
        ("pick", 1, 0, 1, True),
        ("pick", 1, 0, 1, False),
        ("edit", 2, "$5"),
        ("retire", 2),
        ("reinstate", 2),
        ("lens", 1, "futurist"),
    ]
    home = _run(tmp_path, script, 2)
    live = dump(home / "live.sqlite")
    for table, rows in live.items():
        assert rows, f"{table} stayed empty"
    assert live == dump(home / "rebuilt.sqlite")
