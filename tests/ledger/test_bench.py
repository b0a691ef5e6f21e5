"""``scripts/bench.py append`` runs and reports in the agreed shape.

This checks the benchmark's output, never its speed: a tiny count, one run.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import bench_json

KEYS = {
    "raw_tx_per_s",
    "ledger_cmd_per_s",
    "eventsourcing_json_per_s",
    "ratio_vs_raw",
    "ratio_vs_eventsourcing",
}


def test_append_json_is_one_object_with_the_agreed_keys(tmp_path: Path) -> None:
    # when the append benchmark runs with --json on a tiny count
    figures = bench_json("append", "--count", "50", "--dir", str(tmp_path), timeout=60)
    # then stdout is exactly one JSON object with exactly those keys
    assert set(figures) == KEYS
    assert all(isinstance(v, int | float) and v > 0 for v in figures.values())
    ledger, raw = figures["ledger_cmd_per_s"], figures["raw_tx_per_s"]
    assert abs(figures["ratio_vs_raw"] - ledger / raw) < 0.01
    # and it cleaned up its stores
    assert list(tmp_path.iterdir()) == []
