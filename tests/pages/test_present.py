"""How figures print, and how the history chart is laid out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.web.chart import HEIGHT, ship_chart
from api.web.present import change, clip, counted, event_label, interval, pct, spread
from projections.models import CardFigures, Figures, HistoryItem

NONE = Figures()


def figures(ship: int, skip: int, pct_: float, low: float, high: float) -> Figures:
    return Figures(
        ship=ship, skip=skip, total=ship + skip, ship_pct=pct_, low=low, high=high
    )


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (None, "—"),
        (0.0, "0%"),
        (75.0, "75%"),
        (100.0, "100%"),
        (62.5, "63%"),
        (66.666, "67%"),
        (0.4, "0%"),
    ],
)
def test_pct_prints_whole_percents_rounding_halves_up(
    value: float | None, printed: str
) -> None:
    assert pct(value) == printed


def test_interval_words() -> None:
    four = figures(4, 0, 100.0, 51.01, 100.0)
    assert counted(four, "verdict") == "4 verdicts"
    assert spread(four) == "51\u2013100%"
    assert interval(four, "verdict") == "4 verdicts; 95% interval 51\u2013100%"
    assert counted(figures(1, 0, 100.0, 20.65, 100.0)) == "1 vote"
    assert spread(figures(1, 0, 100.0, 20.65, 100.0)) == "21\u2013100%"
    assert counted(NONE) == "no votes yet"
    assert spread(NONE) == ""
    assert interval(NONE) == "no votes yet"


def test_change_and_event_labels() -> None:
    assert change(75.0, 100.0) == "75% → 100%"
    assert change(None, 100.0) == "— → 100%"
    assert change(100.0, 100.0) == "100%"
    assert event_label("Review.Revised") == "Review revised"
    assert event_label("Tool.ProfileEdited") == "Tool profile edited"


def test_clip_cuts_long_text_at_a_word() -> None:
    assert clip("short", 10) == "short"
    assert clip("one two three four", 12) == "one two…"
    assert clip("x" * 30, 10) == "x" * 10 + "…"


def item(
    n: int, panel: Figures, community: Figures, before: HistoryItem | None
) -> HistoryItem:
    start = before.after if before else CardFigures(panel=NONE, community=NONE)
    return HistoryItem(
        position=n,
        at=datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=n),
        type="Review.Submitted",
        kind="panel",
        actor="reviewer:x",
        reason="",
        before=start,
        after=CardFigures(panel=panel, community=community),
    )


def test_chart_steps_and_breaks_where_shares_are_unknown() -> None:
    first = item(1, NONE, NONE, None)
    second = item(2, figures(1, 0, 100.0, 21, 100), NONE, first)
    third = item(3, figures(1, 1, 50.0, 9, 91), figures(1, 0, 100.0, 21, 100), second)
    chart = ship_chart([first, second, third])
    assert chart is not None
    panel, community = chart.series
    # Panel: unknown at first, then 100% at event 2, held, then down to 50% at event 3.
    assert [p.label.split(": ")[-1] for p in panel.points] == [
        "panel 100%",
        "panel 50%",
    ]
    [path] = panel.paths
    moves = path.split()
    assert moves[0].startswith("M")
    assert len(moves) == 3, "point, hold until the next event, step down"
    y_top, y_half = panel.points[0].y, panel.points[1].y
    assert y_top < y_half < HEIGHT
    assert moves[1].endswith(f",{y_top}")
    assert moves[2].endswith(f",{y_half}")
    assert len(community.points) == 1
    assert community.paths == [f"M{community.points[0].x},{community.points[0].y}"]
    assert [tick.anchor for tick in chart.xticks] == ["start", "end"]
    assert [tick.label for tick in chart.xticks] == [
        "2025-06-01 00:01 UTC",
        "2025-06-01 00:03 UTC",
    ]


def test_no_history_no_chart() -> None:
    assert ship_chart([]) is None
