"""Printing a benchmark's figures: a table for people, one JSON object for tools.

A figure is only meaningful beside the baseline measured in the same run on
the same machine, so each table row shows a figure, its baseline, their ratio
and the goal for that ratio. The JSON form is the flat figures dictionary and
nothing else, so that ``bench.py NAME --json`` output can be appended to a
file and tracked over time.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

Figures = dict[str, float]


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        label: What was measured, in words.
        key: The figure's key in the figures dictionary.
        unit: Printed after the value, e.g. ``"/s"`` or ``" ms"``.
        baseline: Key of the figure this one is compared with, if any.
        ratio: Key of the ratio figure (``key / baseline``), if any.
        goal: The least acceptable ratio, if there is a goal.
        at_most: The goal is the greatest acceptable ratio instead, as for a
            latency against its baseline's.
        ceiling: For a figure without a baseline, the greatest acceptable
            value, as for a latency whose goal is absolute.
    """

    label: str
    key: str
    unit: str = ""
    baseline: str | None = None
    ratio: str | None = None
    goal: float | None = None
    at_most: bool = False
    ceiling: float | None = None


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_mib = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes or KiB
    return peak / per_mib


def own_peak_rss_kb() -> int:
    """This process's peak RSS since its program started, in KiB.

    ``ru_maxrss`` would do but for one thing: Linux carries the peak of the
    process that spawned this one, from before ``exec``, into it, so it would
    count the benchmark's own memory as the measured program's.
    ``VmHWM`` is the peak of this program's memory alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def filesystem(path: Path) -> str:
    """The device and filesystem type holding ``path``, e.g. ``/dev/vda ext4``.

    Durable commits are as fast as the disk's flush, so a rate means little
    without saying which disk it was measured on.
    """
    path = path.resolve()
    best = ("?", "?", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                device, mount_point, kind, *_ = line.split()
                inside = path == Path(mount_point) or Path(mount_point) in path.parents
                if inside and len(mount_point) >= len(best[2]):
                    best = (device, kind, mount_point)
    except OSError:
        return "unknown"
    return f"{best[0]} {best[1]}"


def _number(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f} /s"
    if unit == "x":
        return f"{value:.2f}"
    if unit in ("", " B") and float(value).is_integer():  # counts
        return f"{value:,.0f}{unit}"
    return f"{value:,.2f}{unit}"


def _verdict(*, met: bool) -> str:
    return "[green]met[/]" if met else "[red]missed[/]"


def print_json(figures: Figures) -> None:
    """Prints the figures as exactly one JSON object on one line of stdout."""
    sys.stdout.write(json.dumps(figures, sort_keys=True) + "\n")
    sys.stdout.flush()


def print_table(title: str, rows: list[Row], figures: Figures) -> None:
    """Prints each figure beside its baseline, the ratio and its goal."""
    table = Table(title=title, title_justify="left")
    for column in ("figure", "value", "baseline", "ratio", "goal", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for row in rows:
        value = _number(figures[row.key], row.unit)
        if row.baseline is None:
            goal, verdict = "", ""
            if row.ceiling is not None:
                goal = f"<= {row.ceiling:g}{row.unit}"
                verdict = _verdict(met=figures[row.key] <= row.ceiling)
            table.add_row(row.label, value, "", "", goal, verdict)
            continue
        baseline = _number(figures[row.baseline], row.unit)
        ratio = (
            figures[row.ratio]
            if row.ratio is not None
            else figures[row.key] / figures[row.baseline]
        )
        goal, verdict = "", ""
        if row.goal is not None:
            goal = f"{'<=' if row.at_most else '>='} {row.goal:g}"
            verdict = _verdict(
                met=ratio <= row.goal if row.at_most else ratio >= row.goal
            )
        table.add_row(row.label, value, baseline, f"{ratio:.2f}", goal, verdict)
    console = Console()
    console.print(table)
    console.print(f"peak RSS: {peak_rss_mb():.0f} MiB (pid {os.getpid()})")
