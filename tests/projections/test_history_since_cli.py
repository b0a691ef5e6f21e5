"""``ledger history SLUG --since WHEN``: the diff of the API, on the command line.

Run as its own process, like every command: the JSON it prints must be what
``GET /api/tools/{slug}/diff?from=WHEN`` answers (all pages at once), and
agree with a replay of the log up to both points.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from ledger import demo
from ledger.application import Ledger
from ledger.personal_data import is_sealed
from projections import ReadModel
from projections.models import Card
from projections.rebuild import build
from tests.replay import replay

from .helpers import CTX, run_ledger


def _rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]


def _loaded(ledger: Ledger) -> int:
    """The demo, a revision, two votes (one changed) and an edit; the demo's head."""
    demo.load(ledger)
    head = ledger.head_position()
    ledger.revise_review(
        CTX,
        "mistral-medium-3",
        "buyer",
        verdict="ship",
        rationale="The managed tier arrived.",
        reason="enterprise tier announced",
    )
    ledger.cast_vote(CTX, "v1", "mistral-medium-3", "ship")
    ledger.cast_vote(CTX, "v2", "mistral-medium-3", "ship")
    ledger.cast_vote(CTX, "v1", "mistral-medium-3", "skip")
    ledger.edit_tool(CTX, "mistral-medium-3", {"entry": "$0"}, reason="free tier")
    return head


def test_since_prints_the_card_then_and_now_and_the_changes(
    home: Path, ledger: Ledger
) -> None:
    head = _loaded(ledger)
    result = run_ledger(home, "history", "mistral-medium-3", "--since", str(head))
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    table = {row[0]: row[1:] for row in rows if len(row) == 3}
    assert table["panel"] == ["3/4 75%", "4/4 100%"]
    assert table["community"] == ["0/0 —", "1/2 50%"]
    assert table["entry"] == ["Free", "$0"]
    changes = [row for row in rows if len(row) == 8]
    assert [row[2] for row in changes] == [
        "Review.Revised",
        "Vote.Cast",
        "Vote.Cast",
        "Vote.Changed",
        "Tool.Edited",
    ]
    assert changes[0][4] == "enterprise tier announced"
    assert changes[0][5] == "3/4 75% → 4/4 100%"
    assert changes[-1][7] == "entry: $0"


def test_since_json_is_the_apis_diff_and_agrees_with_a_replay(
    home: Path, ledger: Ledger
) -> None:
    head = _loaded(ledger)
    end = ledger.head_position()
    for since in (str(head - 3), "2000-01-01", str(end)):
        result = run_ledger(
            home, "history", "mistral-medium-3", "--since", since, "--json"
        )
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert set(body) == {"tool", "from", "to", "events"}
        start = 0 if since.startswith("2000") else int(since)
        assert (body["from"]["position"], body["to"]["position"]) == (start, end)
        for point, found in ((start, body["from"]), (end, body["to"])):
            rebuilt = home / f"replay-{point}.sqlite"
            if not rebuilt.exists():
                build(ledger, rebuilt, stop=point)
            model = ReadModel(rebuilt)
            try:
                expected = model.tool("mistral-medium-3")
            finally:
                model.close()
            card = found["card"]
            assert (None if card is None else msgspec.convert(card, Card)) == expected
        oracle = replay(ledger, end)
        changes = [
            event
            for event in oracle.changes["mistral-medium-3"]
            if event.position > start
        ]
        # The log keeps a review's reason sealed; the command prints it opened.
        assert all(
            is_sealed(event.reason) == (event.type == "Review.Revised")
            for event in changes
        )
        logged = [
            (
                event.position,
                event.type,
                event.actor,
                ledger.sealer.unseal(event.reason),
            )
            for event in changes
        ]
        assert [
            (item["position"], item["type"], item["actor"], item["reason"])
            for item in body["events"]
        ] == logged


def test_since_limits_and_refusals(home: Path, ledger: Ledger) -> None:
    head = _loaded(ledger)
    limited = run_ledger(
        home, "history", "mistral-medium-3", "--since", "0", "--json", "--limit", "2"
    )
    assert limited.returncode == 0, limited.stderr
    assert [item["position"] for item in json.loads(limited.stdout)["events"]] == [2, 8]
    past = run_ledger(home, "history", "mistral-medium-3", "--since", "999")
    assert past.returncode == 1
    assert "position 999 is past the end of the log" in past.stderr
    garbage = run_ledger(home, "history", "mistral-medium-3", "--since", "soon")
    assert garbage.returncode == 2
    assert "'soon' is neither a log position" in garbage.stderr
    for args in (
        ("--json",),
        ("--since", str(head), "--bucket", "week"),
        ("--since", str(head), "--kind", "panel"),
        ("--since", str(head), "--newest"),
    ):
        refused = run_ledger(home, "history", "mistral-medium-3", *args)
        assert refused.returncode == 2, args
        assert "--since" in refused.stderr
    unknown = run_ledger(home, "history", "nope", "--since", "1")
    assert unknown.returncode == 1
    assert "no tool 'nope'" in unknown.stderr
