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

from api.web.present import bucket_label, event_label, pct, when
from projections.models import HistoryBucket, HistoryItem

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
    by_bucket: bool = False


def _y(value: float) -> float:
    return round(TOP + (100 - value) * (HEIGHT - TOP - BOTTOM) / 100, 1)


def _series(
    name: str,
    css: str,
    start: float | None,
    values: list[float | None],
    xs: list[float],
    labels: list[str] | None,
) -> Series:
    """One step line; a point with a tooltip at each value, given ``labels``."""
    paths: list[str] = []
    points: list[Point] = []
    current: list[str] = []
    previous = start
    tips: list[str | None] = [None] * len(values) if labels is None else list(labels)
    for x, value, label in zip(xs, values, tips, strict=True):
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
            if label is not None:
                points.append(Point(x, _y(value), f"{label}: {name} {pct(value)}"))
        previous = value
    if current:
        paths.append(" ".join(current))
    return Series(name, css, paths, points)


def ship_chart(history: Sequence[HistoryItem]) -> Chart | None:
    """The chart of a tool's history event by event (oldest first); None if empty."""
    if not history:
        return None
    last = history[-1].after
    return _chart(
        {
            pick: (
                getattr(history[0].before, pick).ship_pct,
                [getattr(item.after, pick).ship_pct for item in history],
            )
            for pick in ("panel", "community")
        },
        (when(history[0].at), when(history[-1].at)),
        f"{len(history)} events; panel ship now {pct(last.panel.ship_pct)}, "
        f"community ship now {pct(last.community.ship_pct)}",
        [f"{when(item.at)}, {event_label(item.type)}" for item in history],
    )


def bucket_chart(buckets: Sequence[HistoryBucket], size: str) -> Chart | None:
    """The chart of a tool's history by bucket (oldest first); None if empty.

    Each step is the card at the end of a bucket, so a million votes draw
    as many steps as the buckets they fall in.
    """
    if not buckets:
        return None
    last = buckets[-1]
    return _chart(
        {
            pick: (None, [getattr(item, pick).ship_pct for item in buckets])
            for pick in ("panel", "community")
        },
        (bucket_label(buckets[0], size), bucket_label(last, size)),
        f"{len(buckets)} {size}s; panel ship now {pct(last.panel.ship_pct)}, "
        f"community ship now {pct(last.community.ship_pct)}",
    )


def _chart(
    tracks: dict[str, tuple[float | None, list[float | None]]],
    ends: tuple[str, str],
    summary: str,
    labels: list[str] | None = None,
) -> Chart:
    """Draws a step line per track, with the ends labelled.

    An event chart marks each event with a point and its tooltip; a bucket
    chart is lines only (a hundred points of tooltips would be most of the
    page), and the table of buckets beside it gives each bucket's figures.

    Args:
        tracks: By series (``panel``, ``community``), the share before the
            first point and the share at each point, oldest first.
        ends: The x axis's labels for the first and the last point.
        summary: The chart in words, for those who cannot see it.
        labels: Each event's tooltip; None for a bucket chart.
    """
    count = len(next(iter(tracks.values()))[1])
    right = WIDTH - RIGHT
    step = (right - LEFT) / max(count - 1, 1)
    xs = [round(LEFT + i * step, 1) for i in range(count)]
    if count == 1:
        xs = [round((LEFT + right) / 2, 1)]
    series = [
        _series(name, name, start, values, xs, labels)
        for name, (start, values) in tracks.items()
    ]
    first = "middle" if count == 1 else "start"
    xticks = [Tick(xs[0], ends[0], first)]
    if count > 1 and ends[1] != ends[0]:
        xticks.append(Tick(xs[-1], ends[1], "end"))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        series=series,
        grid=[Tick(_y(value), f"{value}%") for value in GRID],
        xticks=xticks,
        summary=summary,
        by_bucket=labels is None,
    )
