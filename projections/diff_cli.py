"""``ledger history SLUG --since WHEN``: what changed on a card since a point.

Prints what ``GET /api/tools/{slug}/diff?from=WHEN`` answers, whole: the
card at ``WHEN`` and now, and every change between, with actor and reason;
with ``--json``, the same document as the API (without its paging).
"""

from __future__ import annotations

import sys

import click
import msgspec
from rich.markup import escape
from rich.table import Table

from ledger.rules import TOOL_FIELDS
from projections.diff_queries import parse_point
from projections.models import Card, Change, Figures, Point
from projections.queries import ReadModel
from projections.snapshots import every


def figures_text(figures: Figures) -> str:
    """ "3/4 75%": ship votes of the total, and the share ("—" while none)."""
    share = "—" if figures.ship_pct is None else f"{figures.ship_pct:g}%"
    return f"{figures.ship}/{figures.total} {share}"


def moved_text(before: Figures, after: Figures) -> str:
    """``"2/4 50% → 3/4 75%"``: a figure before and after a change."""
    return f"{figures_text(before)} → {figures_text(after)}"


CHANGE_COLUMNS = ("pos", "at", "type", "actor", "reason", "panel", "community")
"""The columns of :func:`change_cells`."""


def change_cells(item: Change) -> list[str]:
    """A change to a card as the history tables print it, a cell a column.

    The reason is escaped: rich would take ``[erased]`` (or any text in
    brackets a person wrote) for markup and print nothing.
    """
    return [
        str(item.position),
        item.at.strftime("%Y-%m-%d %H:%M:%S"),
        item.type,
        item.actor,
        escape(item.reason),
        moved_text(item.before.panel, item.after.panel),
        moved_text(item.before.community, item.after.community),
    ]


def check_options(since: str | None, as_json: bool, listing: bool) -> None:
    """Refuses options that do not go with ``--since`` (or without it).

    Args:
        since: ``--since``, if given.
        as_json: ``--json``.
        listing: Whether an option of the history list was given (``--kind``,
            ``--newest``, ``--bucket``).
    """
    if since is None and as_json:
        raise click.UsageError("--json goes with --since")
    if since is not None and listing:
        msg = (
            "--since lists every change, oldest first: no --kind, --newest or --bucket"
        )
        raise click.UsageError(msg)


def since(
    model: ReadModel, slug: str, when: str, limit: int | None, as_json: bool
) -> Table | None:
    """The diff of ``slug`` from ``when`` to the read model's position.

    Returns:
        The tables to print, or None once the JSON is written to stdout.

    Raises:
        click.BadParameter: If ``when`` is neither a position nor a time.
        click.ClickException: If ``when`` is past the end of the log.
    """
    try:
        point = parse_point(when)
    except ValueError as refused:
        raise click.BadParameter(str(refused), param_hint="--since") from refused
    start, end = model.resolve(point), model.position()
    if start > end:
        msg = f"position {start} is past the end of the log (head {end})"
        raise click.ClickException(msg)
    first = model.diff(slug, start, end, limit=1)
    events: list[Change] = every(
        lambda after, size: model.diff(slug, start, end, after, size).events,
        start=None,
        most=limit,
    )
    if as_json:
        document = {
            "tool": slug,
            "from": first.start,
            "to": first.end,
            "events": events,
        }
        sys.stdout.buffer.write(msgspec.json.encode(document) + b"\n")
        return None
    table = Table(
        "",
        f"position {start}",
        f"position {end}",
        title=f"{slug} then and now",
    )
    for name, values in _rows(first.start, first.end):
        table.add_row(name, *values)
    changes = Table(
        *CHANGE_COLUMNS, "changed", title=f"changes to {slug} after position {start}"
    )
    for item in events:
        changes.add_row(
            *change_cells(item),
            ", ".join(f"{k}: {v}" for k, v in sorted((item.changes or {}).items())),
        )
    outer = Table.grid(padding=(1, 0))
    outer.add_row(table)
    outer.add_row(changes)
    return outer


def _rows(*points: Point) -> list[tuple[str, list[str]]]:
    """The rows of the then-and-now table: figures, then the fields that differ."""
    cards: list[Card | None] = [point.card for point in points]
    missing = "not registered"
    rows = [
        ("at", [when(point) for point in points]),
        ("panel", [figures_text(c.panel) if c else missing for c in cards]),
        ("community", [figures_text(c.community) if c else missing for c in cards]),
        ("version", [str(c.version) if c else "—" for c in cards]),
        ("retired", [("yes" if c.retired else "no") if c else "—" for c in cards]),
    ]
    for name in TOOL_FIELDS:
        values = [getattr(c, name) if c else "—" for c in cards]
        if name == "name" or len(set(values)) > 1:
            rows.append((name, values))
    return rows


def when(point: Point) -> str:
    """A point's time as the tables print times; "—" before the first event."""
    return point.at.strftime("%Y-%m-%d %H:%M:%S") if point.at else "—"
