"""The read side's ``ledger`` commands: rebuild, status, history, project.

They are registered through the ``ledger.commands`` entry point group, so the
write side's CLI offers them without importing this package.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from rich.console import Console
from rich.table import Table

from ledger.application import Ledger
from ledger.settings import Settings
from projections import files, schema
from projections.history_pages import KINDS, HistoryFilter
from projections.projector import Projector
from projections.queries import ReadModel
from projections.rebuild import BATCH_SIZE
from projections.rebuild import rebuild as rebuild_readmodel
from projections.registry import READ_MODELS
from projections.snapshots import every

err = Console(stderr=True)


@contextmanager
def _ledger() -> Iterator[tuple[Ledger, Settings]]:
    """The ledger of ``LEDGER_HOME``; a bad setting is a one-line error."""
    try:
        settings = Settings.from_env()
        ledger = Ledger(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield ledger, settings
    finally:
        ledger.close()


def _batch_size(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter(f"must be at least 1, not {value}")
    return value


@click.command("rebuild")
@click.option(
    "--batch-size",
    default=BATCH_SIZE,
    show_default=True,
    callback=_batch_size,
    help="Events per transaction.",
)
def rebuild(batch_size: int) -> None:
    """Replay the whole log into fresh read models and swap them in atomically.

    Readers keep answering from the old read models until the swap; live
    projectors and readers move to the new ones by themselves.
    """
    with _ledger() as (ledger, settings):
        result = rebuild_readmodel(
            ledger,
            files.readmodel_path(settings),
            batch_size=batch_size,
            progress=err.is_terminal,
            console=err,
        )
    click.echo(
        f"rebuilt {result.events} events up to position {result.position} "
        f"in {result.seconds:.2f} s ({result.rate:,.0f} events/s)"
    )


@click.command("status")
def status() -> None:
    """Show the log's head, and each read model's tables, rows, position and lag."""
    with _ledger() as (ledger, settings):
        head = ledger.head_position()
        path = files.readmodel_path(settings)
        try:
            conn = files.connect(path, create=False)
        except FileNotFoundError:
            conn = None
        counts: dict[str, str] = {}
        projected = 0
        caption = "not built yet: run `ledger project` or `ledger rebuild`"
        if conn is not None:
            try:
                caption = "all read models share one file and one tracking position"
                schema.check(conn)
                projected = schema.tracked_position(conn)
                counts = _counts(conn)
            except schema.SchemaChanged as error:
                caption = str(error)
            finally:
                conn.close()
    table = Table(
        "read model",
        "table",
        "rows",
        "head",
        "projected",
        "lag",
        title=f"read models in {path}",
        caption=caption,
    )
    for model in READ_MODELS:
        for stored in model.tables:
            if stored.name in schema.KEYS:
                table.add_row(
                    model.name,
                    stored.name,
                    counts.get(stored.name, "-"),
                    str(head),
                    str(projected),
                    str(max(0, head - projected)),
                )
    Console(width=max(120, Console().width)).print(table)


def _counts(conn: sqlite3.Connection) -> dict[str, str]:
    """Each stored table's row count, or why it could not be counted."""
    counts = {}
    for name in schema.KEYS:
        try:
            (count,) = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
        except sqlite3.Error as error:
            counts[name] = f"failing: {error}"
        else:
            counts[name] = str(count)
    return counts


@click.command("history")
@click.argument("slug")
@click.option(
    "--kind",
    type=click.Choice(sorted(KINDS)),
    multiple=True,
    help="Only these kinds of change (repeatable).",
)
@click.option("--newest", is_flag=True, help="Newest change first.")
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most this many (default all)."
)
@click.option(
    "--bucket",
    type=click.Choice(["day", "week", "month"]),
    help="Sum the changes up per UTC day, ISO week or month instead.",
)
def history(
    slug: str,
    kind: tuple[str, ...],
    newest: bool,
    limit: int | None,
    bucket: str | None,
) -> None:
    """Print how a tool's card changed, event by event (catches up first)."""
    with _ledger() as (ledger, settings):
        path = files.readmodel_path(settings)
        projector = Projector(ledger, path)
        try:
            projector.catch_up()
        finally:
            projector.close()
    model = ReadModel(path)
    try:
        if model.tool(slug) is None:
            raise click.ClickException(f"no tool {slug!r} in the ledger")
        if bucket is not None:
            table = _buckets(model, slug, bucket, newest, limit)
        else:
            only = HistoryFilter(kinds=frozenset(kind))
            table = _changes(model, slug, only, newest, limit)
    finally:
        model.close()
    Console(width=max(160, Console().width)).print(table)


def _changes(
    model: ReadModel,
    slug: str,
    only: HistoryFilter,
    newest: bool,
    limit: int | None,
) -> Table:
    table = Table(
        "pos",
        "at",
        "type",
        "actor",
        "reason",
        "panel",
        "community",
        title=f"verdict history of {slug}",
    )
    items = every(
        lambda after, size: model.history_page(
            slug, after, size, newest_first=newest, only=only
        ),
        start=None,
        most=limit,
    )
    for item in items:
        table.add_row(
            str(item.position),
            item.at.strftime("%Y-%m-%d %H:%M:%S"),
            item.type,
            item.actor,
            item.reason,
            f"{_figures(item.before.panel)} → {_figures(item.after.panel)}",
            f"{_figures(item.before.community)} → {_figures(item.after.community)}",
        )
    return table


def _buckets(
    model: ReadModel, slug: str, bucket: str, newest: bool, limit: int | None
) -> Table:
    table = Table(
        bucket,
        "changes",
        "votes",
        "panel",
        "community",
        title=f"verdict history of {slug} by {bucket}",
    )
    items = every(
        lambda after, size: model.history_buckets(
            slug, bucket, after, size, newest_first=newest
        ),
        start=None,
        most=limit,
    )
    for item in items:
        table.add_row(
            item.start.isoformat(),
            str(item.changes),
            str(item.votes),
            _figures(item.panel),
            _figures(item.community),
        )
    return table


def _figures(figures: object) -> str:
    ship, total, pct = (
        getattr(figures, "ship", 0),
        getattr(figures, "total", 0),
        getattr(figures, "ship_pct", None),
    )
    share = "—" if pct is None else f"{pct:g}%"
    return f"{ship}/{total} {share}"


@click.command("project")
@click.option("--follow", is_flag=True, help="Keep following the log until stopped.")
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    callback=_batch_size,
    help="Events per transaction.",
)
@click.option(
    "--poll-interval",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds between polls of the log while following.",
)
@click.option(
    "--verbose", is_flag=True, help="Print the position after every committed batch."
)
def project(follow: bool, batch_size: int, poll_interval: float, verbose: bool) -> None:
    """Project the log into the read models up to its head (exactly once).

    With --follow, keep projecting new events until interrupted (SIGINT or
    SIGTERM), as an API node's projector does.
    """
    with _ledger() as (ledger, settings):
        projector = Projector(
            ledger,
            files.readmodel_path(settings),
            batch_size=batch_size,
            poll_interval=poll_interval,
        )
        if verbose:
            projector.on_commit = _print_position
        try:
            position = projector.catch_up()
            click.echo(f"projected up to position {position}")
            if follow:
                _follow(projector)
                click.echo(f"stopped at position {projector.position}")
        finally:
            projector.close()


def _print_position(position: int) -> None:
    click.echo(f"committed {position}")
    sys.stdout.flush()


def _follow(projector: Projector) -> None:
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    projector.start()
    while not stopped.wait(1.0):
        pass
    projector.stop()
