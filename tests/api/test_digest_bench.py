"""``scripts/bench.py digest`` runs and reports in the agreed shape.

This checks the benchmark's output, never its speed: a small log, a few
dozen subscribers, mailed through a real aiosmtpd server it runs itself.
"""

from __future__ import annotations

from pathlib import Path

from api.delivery_journal import Journal
from tests.helpers import bench_json

AGREED = {"subscribers", "build_s", "send_per_s", "peak_rss_mb"}


def test_digest_benchmark_reports_the_agreed_keys(tmp_path: Path) -> None:
    # when the digest benchmark runs on a small log with 40 subscribers
    home = tmp_path / "home"
    figures = bench_json(
        "digest",
        "--count",
        "3000",
        "--subscribers",
        "40",
        "--home",
        str(home),
        timeout=240,
    )
    # then stdout is one JSON object with the agreed keys, and sane values
    assert set(figures) >= AGREED
    assert figures["subscribers"] == 40
    assert figures["subscribers_small"] == 10
    assert figures["events"] == 3000
    assert 0 < figures["build_s"] < 60
    assert figures["send_per_s"] > 0
    assert figures["send_per_s_small"] > 0
    for peak in (figures["peak_rss_mb"], figures["peak_rss_mb_small"]):
        assert 10 < peak < 1000
    # and the second run mailed every subscriber once, as its journal says
    journal = Journal(home / "deliveries.sqlite")
    try:
        assert journal.counts(str(figures["week"])) == {"sent": 40}
    finally:
        journal.close()
