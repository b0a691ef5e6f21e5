"""``ledger backup DIR`` and ``ledger restore DIR``.

The copying and checking live in :mod:`projections.backup` and
:mod:`projections.restore`; the commands live on this side because only it
knows every file of a home: the API's own ``api.sqlite`` (idempotency keys)
belongs in a backup too, or a client retrying a write acknowledged before
the backup would have it performed again after a restore.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from api.config import ApiSettings
from api.metrics_dir import run_dir
from ledger.application import Ledger
from ledger.settings import Settings
from projections.backup import HomeFile, backup, check_home, left_out
from projections.backup_manifest import BackupError, Manifest
from projections.backup_manifest import Progress as Told
from projections.restore import restore

err = Console(stderr=True)
PG_DUMP = (
    "the log itself is in PostgreSQL and is not in this backup: dump it now "
    "with `pg_dump --format=custom` (see the README's Backup and restore); "
    "the dump must reach position {head}"
)


@contextmanager
def _bar(label: str) -> Iterator[Told]:
    """A bar per large file while the block runs, on a terminal only."""
    if not err.is_terminal:
        yield lambda _name, _done, _total: None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def told(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        yield told


def _positions(manifest: Manifest) -> str:
    projected = manifest.projected_position
    checkpoint = manifest.checkpoint_size
    return (
        f"log head {manifest.log_head}, read models at "
        f"{'none' if projected is None else projected}, newest checkpoint "
        f"{'none' if checkpoint is None else checkpoint}"
    )


@click.command("backup")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def backup_command(directory: Path) -> None:
    """Copy LEDGER_HOME into the new DIRECTORY while the ledger keeps serving.

    Copies the event store, the server secret, the token hashes, the read
    models, the log's signing key and checkpoints, the API's idempotency
    keys and the keys personal data is sealed with (the backup is secret:
    keep it as such), each as of one commit, and writes manifest.json with every file's
    size and SHA-256 and the log's positions.
    """
    try:
        settings = ApiSettings.from_env()
        check_home(settings.ledger)
        ledger = Ledger(settings.ledger)
    except (ValueError, BackupError) as error:
        raise click.ClickException(str(error)) from error
    api_db = settings.api_db_path
    extra = [HomeFile(api_db.name)]
    # Only while a server runs: its metrics, and the locks of claimed
    # idempotency keys (a claim whose lock is gone is recovered).
    transient = [run_dir(settings.ledger.home).name, f"{api_db.stem}-claims"]
    try:
        with _bar("backup") as told:
            manifest = backup(ledger, directory, extra=extra, progress=told)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    except (OSError, sqlite3.Error) as error:
        msg = f"the backup failed and nothing was kept: {error}"
        raise click.ClickException(msg) from error
    finally:
        ledger.close()
    click.echo(
        f"backed up {len(manifest.files)} files of {settings.ledger.home} to "
        f"{directory}: {_positions(manifest)}"
    )
    for name in left_out(settings.ledger.home, manifest, transient):
        err.print(f"left out {name}: it is not part of a ledger")
    if manifest.event_store == "postgresql":
        err.print(PG_DUMP.format(head=manifest.log_head))


@click.command("restore")
@click.argument(
    "directory", type=click.Path(path_type=Path, exists=True, file_okay=False)
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a LEDGER_HOME that already holds a ledger (never one in use).",
)
def restore_command(directory: Path, force: bool) -> None:
    """Put the backup in DIRECTORY in place of LEDGER_HOME, all at once.

    Checks every file against the manifest first and refuses a damaged or
    incomplete backup, one without its server secret, a home in use, and a
    home that is not empty unless --force is given. Nothing is changed when
    it refuses.
    """
    try:
        settings = Settings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    try:
        with _bar("restore") as told:
            manifest = restore(directory, settings, force=force, progress=told)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        msg = f"the restore failed and {settings.home} was left as it was: {error}"
        raise click.ClickException(msg) from error
    click.echo(f"restored {directory} into {settings.home}: {_positions(manifest)}")
    if manifest.event_store == "postgresql":
        err.print(
            "now restore the log's dump into LEDGER_EVENT_STORE with pg_restore "
            f"(see the README); it must reach position {manifest.log_head}"
        )
