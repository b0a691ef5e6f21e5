"""Incremental projection, in any batch split, equals one full rebuild, row for row."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import Projector
from projections.rebuild import build
from tests.stores import EmptyLogs, Store

from .helpers import (
    apply_command,
    assert_matches_write_side,
    dump,
    seed,
    steps,
)


def _run(store: Store, script: list[tuple[Any, ...]], final_batch: int) -> Path:
    ledger = store.ledger()
    home = store.settings.home
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


EXAMPLES = {"sqlite": 150, "postgres": 50}
"""Examples per store: each takes about three times as long on PostgreSQL."""


def test_incremental_projection_equals_rebuild(empty_logs: EmptyLogs) -> None:
    @settings(
        max_examples=EXAMPLES[empty_logs.store.name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(script=steps, final_batch=st.integers(1, 9))
    def equal(script: list[tuple[Any, ...]], final_batch: int) -> None:
        with tempfile.TemporaryDirectory() as directory:
            [store] = empty_logs.fresh(Path(directory))
            home = _run(store, script, final_batch)
            live = dump(home / "live.sqlite")
            rebuilt = dump(home / "rebuilt.sqlite")
            assert live.keys() == rebuilt.keys()
            for table in live:
                assert live[table] == rebuilt[table], table

    equal()


def test_a_busy_script_touches_every_read_model(event_store: Store) -> None:
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
        ("subscribe", 0),
        ("confirm", 0),
        ("bounce", 0, "2026-W48"),
        ("subscribe", 1),
        ("erase_subscriber", 1),
    ]
    home = _run(event_store, script, 2)
    live = dump(home / "live.sqlite")
    for table, rows in live.items():
        assert rows, f"{table} stayed empty"
    assert live == dump(home / "rebuilt.sqlite")
