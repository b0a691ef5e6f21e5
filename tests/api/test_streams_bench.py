"""``scripts/bench.py streams`` runs and reports in the agreed shape.

This checks the benchmark's output, never its speed: a few streams, a short
idle window, two writes.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import bench_json

KEYS = {
    "idle_cpu_1000",
    "idle_cpu_10",
    "ratio_idle_1000_vs_10",
    "idle_seconds",
    "streams",
    "baseline_streams",
    "delivery_p50_ms",
    "delivery_p99_ms",
    "delivery_max_ms",
    "writes",
    "workers",
}


def test_streams_benchmark_reports_the_agreed_keys(tmp_path: Path) -> None:
    # when the streams benchmark runs with a few streams and a short window
    figures = bench_json(
        "streams",
        "--streams",
        "12",
        "--baseline-streams",
        "3",
        "--idle-seconds",
        "0.5",
        "--writes",
        "2",
        "--dir",
        str(tmp_path),
        timeout=120,
    )
    # then stdout is one JSON object with exactly the agreed keys
    assert set(figures) == KEYS
    assert (figures["streams"], figures["baseline_streams"]) == (12, 3)
    # and every write reached every stream, in some positive time
    assert 0 < figures["delivery_p50_ms"] <= figures["delivery_p99_ms"]
    assert figures["delivery_p99_ms"] <= figures["delivery_max_ms"]
    assert figures["idle_cpu_1000"] >= 0
    assert figures["idle_cpu_10"] >= 0
    # and it cleaned up after itself
    assert list(tmp_path.iterdir()) == []
