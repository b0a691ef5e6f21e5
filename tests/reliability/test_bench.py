"""``scripts/bench.py reliability`` runs every scenario and reports in shape.

This checks the benchmark's output on tiny numbers, never its speed: one
crash cycle, a few raced edits, one round of each fault, corpus and
credential, a few streams.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import BENCH, bench_json

TINY = (
    "--cycles", "1", "--worker-counts", "1", "--writers", "2",
    "--contention-clients", "2", "--contention-attempts", "5",
    "--fault-rounds", "1", "--hostile-rounds", "1", "--access-rounds", "1",
    "--streams", "20", "--baseline-streams", "2", "--idle-seconds", "0.3",
    "--stream-writes", "1",
)  # fmt: skip


def test_reliability_json_has_every_figure_and_no_broken_promise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH.parent))
    from benchmarks.reliability import MUST_BE_ZERO, ROWS

    figures = bench_json("reliability", *TINY, "--dir", str(tmp_path), timeout=180)
    assert {row.key for row in ROWS} <= set(figures)
    assert {key: figures[key] for key in MUST_BE_ZERO} == dict.fromkeys(
        MUST_BE_ZERO, 0.0
    )
    # every scenario ran and sent something
    assert figures["crash_cycles"] == 1
    assert figures["acked_writes"] > 0
    assert figures["contention_attempts"] == 10
    assert figures["faults_injected"] >= 1
    assert figures["fault_503"] >= 3
    assert figures["hostile_inputs"] > 50
    assert figures["access_refused"] > 0
    assert figures["streams_held"] == 20
    parts = ["crash_requests", "contention_attempts", "fault_requests"]
    parts += ["hostile_inputs", "access_requests"]
    assert figures["requests_sent"] == sum(figures[key] for key in parts)
    # and it cleaned up after itself
    assert list(tmp_path.iterdir()) == []
