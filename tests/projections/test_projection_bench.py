"""``scripts/bench.py rebuild`` and ``lag`` run and report in the agreed shape.

These check the benchmarks' output, never their speed: tiny sizes, one run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    figures = json.loads(lines[0])
    assert isinstance(figures, dict)
    return figures


def test_rebuild_benchmark_reports_the_agreed_keys() -> None:
    figures = _bench(
        "rebuild", "--events", "2000", "--naive-sample", "100", "--rounds", "2"
    )
    assert {
        "events",
        "scan_decode_per_s",
        "rebuild_per_s",
        "naive_per_s",
        "ratio_vs_scan",
        "ratio_vs_naive",
        "peak_rss_mb",
    } <= figures.keys()
    assert figures["events"] >= 2000
    assert figures["rebuild_per_s"] > 0
    assert figures["peak_rss_mb"] > 0
    # The ratios are of the medians the figures report.
    ratio = figures["rebuild_per_s"] / figures["naive_per_s"]
    assert abs(figures["ratio_vs_naive"] - ratio) <= 0.1 + ratio * 0.001


def test_lag_benchmark_reports_the_agreed_keys() -> None:
    figures = _bench(
        "lag", "--samples", "5", "--baseline-samples", "1", "--poll-interval", "0.05"
    )
    assert {"p50_ms", "p99_ms"} <= figures.keys()
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
