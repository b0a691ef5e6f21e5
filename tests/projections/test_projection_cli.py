"""The read side's ``ledger`` commands, each run as its own process."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import demo
from ledger.application import Ledger

from .helpers import CTX, run_ledger


def test_project_then_status_then_rebuild(home: Path, ledger: Ledger) -> None:
    demo.load(ledger)
    head = ledger.head_position()
    before = run_ledger(home, "status")
    assert before.returncode == 0, before.stderr
    assert "not built yet" in before.stdout
    projected = run_ledger(home, "project")
    assert projected.returncode == 0, projected.stderr
    assert f"projected up to position {head}" in projected.stdout
    ledger.cast_vote(CTX, "late", "code-llama-4", "ship")
    status = run_ledger(home, "status")
    assert status.returncode == 0, status.stderr
    rows = {
        line.split("│")[2].strip(): [cell.strip() for cell in line.split("│")[1:7]]
        for line in status.stdout.splitlines()
        if line.startswith("│")
    }
    assert rows["tools"] == ["cards", "tools", "2", str(head + 1), str(head), "1"]
    assert rows["audit"] == ["audit", "audit", str(head), str(head + 1), str(head), "1"]
    rebuilt = run_ledger(home, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt {head + 1} events up to position {head + 1}" in rebuilt.stdout
    assert "events/s" in rebuilt.stdout
    after = run_ledger(home, "status")
    assert "│ audit" in after.stdout
    assert f"│ {head + 1}" in after.stdout


def test_history_prints_the_verdict_timeline(home: Path, ledger: Ledger) -> None:
    demo.load(ledger)
    ledger.revise_review(
        CTX,
        "mistral-medium-3",
        "buyer",
        verdict="ship",
        rationale="The managed tier arrived.",
        reason="enterprise tier announced",
    )
    result = run_ledger(home, "history", "mistral-medium-3")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [line.split("│")[3].strip() for line in lines] == [
        "Tool.Registered",
        "Review.Submitted",
        "Review.Submitted",
        "Review.Submitted",
        "Review.Submitted",
        "Review.Revised",
    ]
    last = lines[-1]
    assert "enterprise tier announced" in last
    assert "3/4 75% → 4/4 100%" in last
    assert "0/0 — → 0/0 —" in last


def test_history_filters_pages_and_sums_up(home: Path, ledger: Ledger) -> None:
    demo.load(ledger)

    def rows(*args: str) -> list[list[str]]:
        result = run_ledger(home, "history", "mistral-medium-3", *args)
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stdout.splitlines() if line.startswith("│")]
        return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]

    newest = rows("--newest", "--kind", "panel", "--limit", "2")
    assert [row[2] for row in newest] == ["Review.Submitted"] * 2
    every = rows("--kind", "panel")
    assert [row[0] for row in newest] == [row[0] for row in every[::-1][:2]]
    assert rows("--kind", "edit")[0][2] == "Tool.Registered"
    days = rows("--bucket", "day")
    assert sum(int(day[1]) for day in days) == 5, "five changes, no votes"
    assert {day[2] for day in days} == {"0"}
    assert days[-1][3] == "3/4 75%"
    bad = run_ledger(home, "history", "mistral-medium-3", "--bucket", "year")
    assert bad.returncode == 2
    assert "'year' is not one of" in bad.stderr


def test_bad_arguments_fail_clearly(home: Path, ledger: Ledger) -> None:
    demo.load(ledger)
    unknown = run_ledger(home, "history", "no-such-tool")
    assert unknown.returncode == 1
    assert "no tool 'no-such-tool'" in unknown.stderr
    missing = run_ledger(home, "history")
    assert missing.returncode == 2
    assert "Missing argument 'SLUG'" in missing.stderr
    zero = run_ledger(home, "project", "--batch-size", "0")
    assert zero.returncode == 2
    assert "must be at least 1" in zero.stderr
    poll = run_ledger(home, "project", "--poll-interval", "0")
    assert poll.returncode == 2
    assert "--poll-interval" in poll.stderr
    store = run_ledger(home, "rebuild", "--batch-size", "-5")
    assert store.returncode == 2


def test_project_follow_keeps_up_until_terminated(
    home: Path, ledger: Ledger, live_path: Path
) -> None:
    import os
    import signal
    import subprocess

    from projections import ReadModel

    from .helpers import LEDGER

    demo.load(ledger)
    process = subprocess.Popen(
        [LEDGER, "project", "--follow", "--poll-interval", "0.05"],
        env={**os.environ, "LEDGER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "projected up to position" in process.stdout.readline()
        receipt = ledger.cast_vote(CTX, "follower", "code-llama-4", "skip")
        model = ReadModel(live_path)
        assert model.wait_for(receipt.position, timeout=5)
        card = model.tool("code-llama-4")
        assert card is not None
        assert card.community.skip == 1
        model.close()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"stopped at position {receipt.position}" in out


def test_status_reports_a_table_it_cannot_count_as_failing(
    home: Path, ledger: Ledger, live_path: Path
) -> None:
    import os
    import sqlite3

    demo.load(ledger)
    assert run_ledger(home, "project").returncode == 0
    conn = sqlite3.connect(os.path.realpath(live_path))
    conn.execute("DROP TABLE head_to_head")
    conn.commit()
    conn.close()
    status = run_ledger(home, "status")
    assert status.returncode == 0, status.stderr
    rows = {
        line.split("│")[2].strip(): line.split("│")[3].strip()
        for line in status.stdout.splitlines()
        if line.startswith("│")
    }
    assert rows["head_to_head"].startswith("failing")
    assert rows["tools"] == "2"


@pytest.mark.parametrize("command", ["status", "rebuild", "project", "history"])
def test_a_bad_setting_is_one_clear_line(home: Path, command: str) -> None:
    import os
    import subprocess

    from .helpers import LEDGER

    args = [LEDGER, command] + (["code-llama-4"] if command == "history" else [])
    result = subprocess.run(
        args,
        env={**os.environ, "LEDGER_HOME": str(home), "LEDGER_LOCK_TIMEOUT": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "LEDGER_LOCK_TIMEOUT must be" in result.stderr
    assert "'soon'" in result.stderr
    assert "Traceback" not in result.stderr
