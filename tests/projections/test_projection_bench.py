"""``scripts/bench.py rebuild`` and ``lag`` run and report in the agreed shape.

These check the benchmarks' output, never their speed: tiny sizes, one run;
and that the log the benchmarks generate spreads over two simulated years.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from ledger import log
from ledger.application import Ledger
from ledger.settings import Settings
from tests.helpers import bench_json

ROOT = Path(__file__).resolve().parents[2]


def test_rebuild_benchmark_reports_the_agreed_keys() -> None:
    figures = bench_json(
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
    figures = bench_json(
        "lag", "--samples", "5", "--baseline-samples", "1", "--poll-interval", "0.05"
    )
    assert {"p50_ms", "p99_ms"} <= figures.keys()
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_generated_log_rises_through_two_simulated_years(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from benchmarks import sitelife

    # when the benchmarks' generator writes a small log
    assert sitelife.generate(home, 3000, seed=3) >= 3000
    ledger = Ledger(Settings(home=home))
    try:
        events = log.read(ledger.recorder, after=0, limit=10_000)
        stored = ledger.recorder.select_notifications(start=1, limit=10_000)
        # then a second run keeps the log it finds
        assert sitelife.generate(home, 3000, seed=4) == ledger.head_position()
    finally:
        ledger.close()
    # then its times rise with position, from 2025-01-01, over about two years
    times = [event.at for event in events]
    assert times == sorted(times)
    assert (
        datetime(2025, 1, 1, tzinfo=UTC) <= times[0] < datetime(2025, 1, 2, tzinfo=UTC)
    )
    assert timedelta(days=650) < times[-1] - times[0] < timedelta(days=810)
    assert all(at.utcoffset() == timedelta(0) for at in times)
    # and each is stored in the fixed-width form the read side takes unparsed
    for record in stored:
        text = msgspec.json.decode(record.state)["timestamp"]
        assert len(text) == 27, text
        assert text.endswith("Z"), text
