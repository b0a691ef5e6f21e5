"""``scripts/bench.py http`` runs and reports in the agreed shape.

This checks the benchmark's output, never its speed: one-second loads, one
round, no warm-up, on the demo ledger and on a small generated one. wrk
drives the server, so without it there is nothing to run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import bench_json

READS = ("hello", "card", "comparison", "tool_page", "history", "history_deep")
KEYS = {
    "events",
    "workers",
    *(f"{read}_{figure}" for read in READS for figure in ("rps", "p50_ms", "p99_ms")),
    "tools_list_rps",
    "tool_page_bytes",
    *(f"ratio_{read}_vs_hello" for read in (*READS[1:], "tools_list")),
    "ratio_tool_page_p99_vs_hello",
    "history_items",
    "history_deep_skipped",
    "vote_rps",
    "vote_p50_ms",
    "vote_p99_ms",
    "vote_errors",
    "votes_accepted",
    "votes_logged",
    "votes_missing",
}

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)"
)


@pytest.mark.parametrize(
    ("options", "least_events"),
    [
        pytest.param([], 1, id="demo"),
        pytest.param(["--events", "3000"], 3000, id="generated"),
    ],
)
def test_http_benchmark_reports_the_agreed_keys(
    tmp_path: Path, options: list[str], least_events: int
) -> None:
    # when the http benchmark runs with tiny loads, on the demo or a generated log
    figures = bench_json(
        "http",
        *options,
        "--seconds",
        "1",
        "--rounds",
        "1",
        "--warmup",
        "0",
        "--dir",
        str(tmp_path),
        timeout=180,
    )
    # then stdout is one JSON object with every agreed key
    assert figures.keys() >= KEYS, KEYS - figures.keys()
    # and it served a log of the size asked for, without losing a vote
    assert figures["events"] >= least_events
    assert figures["tool_page_bytes"] > 0
    assert figures["history_items"] > 0
    assert figures["votes_missing"] == 0
    assert figures["hello_rps"] > 0
    # and it cleaned up after itself
    assert list(tmp_path.iterdir()) == []
