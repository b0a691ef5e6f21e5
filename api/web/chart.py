"""The verdict-history chart: panel and community ship % as step lines.

The chart is computed here and drawn by a Jinja macro as inline SVG, so a tool
page needs no chart library and shows its history even without JavaScript.
The x axis counts events, not seconds: a panel's reviews often land within
the same minute and a vote weeks later, and a time axis would pile the first
onto one vertical line. Each point's tooltip gives the exact time instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.web.present import event_label, pct, when
from projections.models import Figures, HistoryItem

WIDTH = 800
HEIGHT = 250
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 16, 44
GRID = (0, 25, 50, 75, 100)


@dataclass(frozen=True)
class Point:
    """One value of a series where an event left it, with its tooltip."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Series:
    """One line of the chart; ``paths`` break where the share is unknown."""

    name: str
    css: str
    paths: list[str]
    points: list[Point]


@dataclass(frozen=True)
class Tick:
    """An axis label at a coordinate, and which of its ends sits there."""

    at: float
    label: str
    anchor: str = "end"


@dataclass(frozen=True)
class Chart:
    """Everything the SVG macro draws, in viewBox units."""

    width: int
    height: int
    left: int
    right: float
    series: list[Series]
    grid: list[Tick]
    xticks: list[Tick]
    summary: str


def _y(value: float) -> float:
    return round(TOP + (100 - value) * (HEIGHT - TOP - BOTTOM) / 100, 1)


def _series(
    name: str,
    css: str,
    start: float | None,
    values: list[float | None],
    xs: list[float],
    labels: list[str],
) -> Series:
    paths: list[str] = []
    points: list[Point] = []
    current: list[str] = []
    previous = start
    for x, value, label in zip(xs, values, labels, strict=True):
        if previous is not None:
            # Hold the previous share until this event, then step to the new one.
            current.append(
                f"L{x},{_y(previous)}" if current else f"M{x},{_y(previous)}"
            )
        if value is None:
            if current:
                paths.append(" ".join(current))
            current = []
        else:
            current.append(f"L{x},{_y(value)}" if current else f"M{x},{_y(value)}")
            points.append(Point(x, _y(value), f"{label}: {name} {pct(value)}"))
        previous = value
    if current:
        paths.append(" ".join(current))
    return Series(name, css, paths, points)


def ship_chart(history: Sequence[HistoryItem]) -> Chart | None:
    """The chart of a tool's history (oldest first); None when there is none."""
    if not history:
        return None
    right = WIDTH - RIGHT
    step = (right - LEFT) / max(len(history) - 1, 1)
    xs = [round(LEFT + i * step, 1) for i in range(len(history))]
    if len(history) == 1:
        xs = [round((LEFT + right) / 2, 1)]
    labels = [f"{when(item.at)}, {event_label(item.type)}" for item in history]

    def track(pick: str) -> tuple[float | None, list[float | None]]:
        first: Figures = getattr(history[0].before, pick)
        return first.ship_pct, [getattr(item.after, pick).ship_pct for item in history]

    panel_start, panel = track("panel")
    community_start, community = track("community")
    series = [
        _series("panel", "panel", panel_start, panel, xs, labels),
        _series("community", "community", community_start, community, xs, labels),
    ]
    first = "middle" if len(history) == 1 else "start"
    xticks = [Tick(xs[0], when(history[0].at), first)]
    if len(history) > 1 and when(history[-1].at) != xticks[0].label:
        xticks.append(Tick(xs[-1], when(history[-1].at), "end"))
    last = history[-1].after
    summary = (
        f"{len(history)} events; panel ship now {pct(last.panel.ship_pct)}, "
        f"community ship now {pct(last.community.ship_pct)}"
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        series=series,
        grid=[Tick(_y(value), f"{value}%") for value in GRID],
        xticks=xticks,
        summary=summary,
    )
