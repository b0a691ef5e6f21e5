"""The read side's ``ledger`` commands: rebuild, status, history, project.

They are registered through the ``ledger.commands`` entry point group, so the
write side's CLI offers them without importing this package.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from types import FrameType

import click
from rich.console import Console
from rich.table import Table

from projections import diff_cli, files, schema
from projections.chain_cli import chain_settings, newest_checkpoint_check
from projections.chain_verify import ChainRefused
from projections.checkpoints import Checkpointer
from projections.cli_common import ledger_of
from projections.diff_cli import CHANGE_COLUMNS, change_cells, figures_text
from projections.engine import UndecodableEvent
from projections.following import Following, FollowSettings
from projections.history_pages import KINDS, HistoryFilter
from projections.node_registry import NodeRow, registry_of
from projections.projector import Projector
from projections.queries import ReadModel
from projections.rebuild import BATCH_SIZE
from projections.rebuild import rebuild as rebuild_readmodel
from projections.registry import READ_MODELS
from projections.snapshots import every

err = Console(stderr=True)


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
@click.option(
    "--ignore-chain",
    is_flag=True,
    help="Swap the new read models in even if the log no longer matches its "
    "newest signed checkpoint.",
)
def rebuild(batch_size: int, ignore_chain: bool) -> None:
    """Replay the whole log into fresh read models and swap them in atomically.

    Readers keep answering from the old read models until the swap; live
    projectors and readers move to the new ones by themselves. Refuses to
    swap in read models of a log that no longer gives the root of its newest
    checkpoint, unless told to with --ignore-chain.
    """
    with ledger_of() as (ledger, settings):
        check = None if ignore_chain else newest_checkpoint_check(settings)
        try:
            result = rebuild_readmodel(
                ledger,
                files.readmodel_path(settings),
                batch_size=batch_size,
                progress=err.is_terminal,
                console=err,
                check=check,
            )
        except UndecodableEvent as error:
            msg = f"{error}; 'ledger verify' tells whether the log was altered"
            raise click.ClickException(msg) from error
        except ChainRefused as refused:
            msg = (
                f"refusing to swap in the rebuilt read models: {refused}. The "
                "read models in use are unchanged; pass --ignore-chain to swap "
                "them in anyway"
            )
            raise click.ClickException(msg) from refused
    click.echo(
        f"rebuilt {result.events} events up to position {result.position} "
        f"in {result.seconds:.2f} s ({result.rate:,.0f} events/s)"
    )


@click.command("status")
def status() -> None:
    """Show the log's head, and each read model's tables, rows, position and lag.

    On PostgreSQL, also every node following the log: its projected position
    and lag, as its projector last reported them.
    """
    with ledger_of() as (ledger, settings):
        head = ledger.head_position()
        registry = registry_of(ledger)
        nodes = None if registry is None else registry.nodes()
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
    console = Console(width=max(120, Console().width))
    console.print(table)
    if nodes is not None:
        console.print(_nodes_table(nodes, head))


def _nodes_table(nodes: list[NodeRow], head: int) -> Table:
    table = Table(
        "node",
        "head",
        "projected",
        "lag",
        "reported",
        title="nodes following the log",
        caption="each node's projector reports after every batch (LEDGER_NODE_NAME)",
    )
    for node in nodes:
        table.add_row(
            node.name,
            str(head),
            str(node.projected),
            str(max(0, head - node.projected)),
            node.updated_at.isoformat(timespec="seconds"),
        )
    return table


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
@click.option(
    "--since",
    metavar="WHEN",
    help="What changed since WHEN (a log position or an ISO-8601 time, naive "
    "meaning UTC): the card then and now, and every change between.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="With --since, print the diff as JSON."
)
def history(
    slug: str,
    kind: tuple[str, ...],
    newest: bool,
    limit: int | None,
    bucket: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Print how a tool's card changed, event by event (catches up first)."""
    diff_cli.check_options(since, as_json, bool(kind or newest or bucket))
    with ledger_of() as (ledger, settings):
        path = files.readmodel_path(settings)
        projector = Projector(ledger, path)
        try:
            projector.catch_up()
        finally:
            projector.close()
        # Reasons are sealed in the read model; the ledger's keys open them.
        model = ReadModel(path, sealer=ledger.sealer)
        try:
            if model.tool(slug) is None:
                raise click.ClickException(f"no tool {slug!r} in the ledger")
            if since is not None:
                table = diff_cli.since(model, slug, since, limit, as_json)
            elif bucket is not None:
                table = _buckets(model, slug, bucket, newest, limit)
            else:
                only = HistoryFilter(kinds=frozenset(kind))
                table = _changes(model, slug, only, newest, limit)
        finally:
            model.close()
    if table is not None:
        Console(width=max(160, Console().width)).print(table)


def _changes(
    model: ReadModel,
    slug: str,
    only: HistoryFilter,
    newest: bool,
    limit: int | None,
) -> Table:
    table = Table(*CHANGE_COLUMNS, title=f"verdict history of {slug}")
    items = every(
        lambda after, size: model.history_page(
            slug, after, size, newest_first=newest, only=only
        ),
        start=None,
        most=limit,
    )
    for item in items:
        table.add_row(*change_cells(item))
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
            figures_text(item.panel),
            figures_text(item.community),
        )
    return table


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
    help="Seconds between polls of the log while following (on PostgreSQL, "
    "notifications wake it and LEDGER_FOLLOW_FALLBACK is the poll instead).",
)
@click.option(
    "--verbose", is_flag=True, help="Print the position after every committed batch."
)
def project(follow: bool, batch_size: int, poll_interval: float, verbose: bool) -> None:
    """Project the log into the read models up to its head (exactly once).

    With --follow, keep projecting new events until interrupted (SIGINT or
    SIGTERM), as an API node's projector does. Signs checkpoints of the log
    as it goes, as a node's projector does (LEDGER_CHECKPOINT_*).
    """
    with ledger_of() as (ledger, settings):
        projector = Projector(
            ledger,
            files.readmodel_path(settings),
            batch_size=batch_size,
            poll_interval=poll_interval,
            checkpointer=Checkpointer(chain_settings(settings)),
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
    try:
        settings = FollowSettings.from_env(projector.ledger.settings.home)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    projector.start()
    following = Following.start(projector, settings)
    while not stopped.wait(1.0):
        pass
    if following is not None:
        following.close()
    projector.stop()
