"""The rebuild's progress bar: events folded, events per second and time left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from projections.rebuild.replay import Advance


class RateColumn(ProgressColumn):
    """Events per second, as rich only knows bytes per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s", style="cyan")


@contextmanager
def progress_bar(
    enabled: bool, total: int, console: Console | None, label: str = "rebuild"
) -> Iterator[Advance]:
    """Draws the bar while the block runs; yields what to tell of each batch."""
    if not enabled:
        yield lambda _events, _position: None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda _events, position: bar.update(task, completed=position)
