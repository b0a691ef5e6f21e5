"""``ledger export`` and ``ledger import``: a ledger's log, between stores.

The format and its checks are the write side's (:mod:`ledger.log_transfer`,
:mod:`ledger.log_import`); these commands add the progress bars, drawn on
stderr because stdout carries the exported log. They are registered through
the ``ledger.commands`` entry point group, beside ``rebuild``, whose
progress bar they share.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from eventsourcing.persistence import PersistenceError
from rich.console import Console

from ledger import log_transfer
from ledger.log_import import import_log
from ledger.log_transfer import BATCH_SIZE, TransferError
from projections.cli_common import ledger_of
from projections.rebuild.progress import progress_bar

err = Console(stderr=True)


batch_size_option = click.option(
    "--batch-size",
    default=BATCH_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events read and written at a time.",
)


@click.command("export")
@click.option(
    "--after",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Only the events after this position (for an import with --append).",
)
@batch_size_option
def export_command(after: int, batch_size: int) -> None:
    """Write the log to stdout as NDJSON: a header, every event, a trailer.

    Takes the events up to the head as it is when the export starts; stop
    writes first to move a whole ledger. README "Moving a ledger" gives the
    format.
    """
    with ledger_of() as (ledger, _settings):
        recorder = ledger.recorder
        head = recorder.max_notification_id() or 0
        with progress_bar(
            err.is_terminal, max(0, head - after), err, label="export"
        ) as advance:
            try:
                trailer = log_transfer.export(
                    recorder,
                    sys.stdout.buffer,
                    after=after,
                    batch_size=batch_size,
                    progress=lambda position: advance(0, position - after),
                )
            except TransferError as error:
                raise click.ClickException(str(error)) from error
        sys.stdout.buffer.flush()
    err.print(f"exported {trailer.count} event(s) after position {after}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--append",
    is_flag=True,
    help="Append to a store that already holds events: the file must have "
    "been exported with --after equal to the store's head.",
)
@batch_size_option
def import_command(file: Path, append: bool, batch_size: int) -> None:
    """Append an exported log to this ledger's store, every event at its position.

    Checks the whole file first (every line, the order, the count and the
    SHA-256 in its trailer) and appends it in one transaction, so a refused
    file or store leaves the store as it was. Refuses a store that holds
    events unless --append is given. Rebuild the read models afterwards
    (`ledger rebuild`).
    """
    with ledger_of() as (ledger, _settings):
        try:
            # Lines, whose number only the trailer tells.
            with progress_bar(err.is_terminal, 0, err, label="check") as advance:
                checked = log_transfer.check(file, lambda done: advance(0, done))
            with progress_bar(
                err.is_terminal, checked.trailer.count, err, label="import"
            ) as advance:
                count = import_log(
                    ledger.recorder,
                    checked,
                    append=append,
                    batch_size=batch_size,
                    progress=lambda done: advance(0, done),
                )
        except TransferError as error:
            raise click.ClickException(f"{file}: {error}") from error
        except PersistenceError as error:
            msg = f"{file}: the store refused the import, nothing was imported: {error}"
            raise click.ClickException(msg) from error
        head = ledger.recorder.max_notification_id() or 0
    err.print(f"imported {count} event(s); the log's head is at position {head}")
