"""The tamper-evident log's ``ledger`` commands: checkpoint, key, verify."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
import msgspec
from rich.console import Console

from ledger.settings import Settings
from projections import files
from projections.chain_queries import StoredTree
from projections.chain_verify import ChainRefused, Report, check_latest, verify_ledger
from projections.checkpoints import ChainSettings, Checkpoint, CheckpointStore
from projections.cli_common import ledger_of
from projections.projector import Projector
from projections.readmodel_parts import SQL
from projections.rebuild.progress import progress_bar
from projections.signed_notes import NoteError, VerifierKey

err = Console(stderr=True)


def chain_settings(settings: Settings) -> ChainSettings:
    """The log's origin, key and checkpoints; a bad setting is a one-line error."""
    try:
        return ChainSettings.from_env(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def verifier_key(chain: ChainSettings, text: str | None) -> VerifierKey:
    """The key checkpoints are checked with: ``text`` if given, else the log's own.

    Raises:
        click.ClickException: If there is no key to check with.
    """
    try:
        if text is not None:
            return VerifierKey.parse(text)
    except NoteError as error:
        raise click.ClickException(f"--key: {error}") from error
    if not chain.key_path.exists():
        msg = f"no log key at {chain.key_path}: nothing has been signed yet"
        raise click.ClickException(msg)
    return chain.signer().verifier


def newest_checkpoint_check(settings: Settings) -> Callable[[SQL], None] | None:
    """What a rebuild checks its new chain with: the newest checkpoint, if any."""
    try:
        chain = ChainSettings.from_env(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if not chain.store_path.exists():
        return None

    def check(conn: SQL) -> None:
        store = CheckpointStore(chain.store_path)
        try:
            if store.latest() is None:
                return
            if not chain.key_path.exists():
                msg = (
                    f"checkpoints were signed, but the log key {chain.key_path} is gone"
                )
                raise ChainRefused(msg)
            check_latest(conn, store, chain.signer().verifier, chain.origin)
        finally:
            store.close()

    return check


@click.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the log as it is now, and print it.

    Projects the log up to its head first, so the checkpoint covers every
    event stored so far. Prints the newest checkpoint instead when the log
    has not grown since it was signed.
    """
    with ledger_of() as (ledger, settings):
        chain = chain_settings(settings)
        projector = Projector(ledger, files.readmodel_path(settings))
        try:
            projector.catch_up()
        finally:
            projector.close()
    conn = files.connect(files.readmodel_path(settings))
    store = CheckpointStore(chain.store_path)
    try:
        head = StoredTree(conn).head()
        checkpoint = Checkpoint(chain.origin, head.size, head.root)
        published = store.publish(checkpoint, chain.signer())
        if published is None:
            err.print(f"the log has not grown past the newest checkpoint ({head.size})")
            published = store.latest()
    finally:
        store.close()
        conn.close()
    if published is not None:
        click.echo(published.note, nl=False)


@click.group("key")
def key() -> None:
    """The log's signing key."""


@key.command("show")
def key_show() -> None:
    """Print the verifier key, in the note-verifier text form auditors pin.

    Makes the key if the ledger has none yet.
    """
    chain = chain_settings(Settings.from_env())
    click.echo(chain.signer().verifier.text())


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--key",
    "key_text",
    metavar="KEY",
    help="Check signatures with this verifier key (name+id+key) instead of "
    "the ledger's own, e.g. the one your auditors pinned.",
)
def verify_command(as_json: bool, key_text: str | None) -> None:
    """Recompute the log's tree and check it against every signed checkpoint.

    Names the first position where an event was altered, removed, inserted
    or reordered, and every checkpoint that is not genuine. Exits 1 on any
    finding.
    """
    with ledger_of() as (ledger, settings):
        chain = chain_settings(settings)
        verifier = verifier_key(chain, key_text)
        total = ledger.head_position()
        show = not as_json and err.is_terminal
        with progress_bar(show, total, err, "verify") as advance:
            report = verify_ledger(
                ledger, files.readmodel_path(settings), chain, verifier, advance
            )
    if as_json:
        click.echo(msgspec.json.encode(_as_dict(report)).decode())
    else:
        _print(report)
    if not report.ok:
        sys.exit(1)


def _as_dict(report: Report) -> dict[str, object]:
    return {
        "ok": report.ok,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "verified_size": report.verified_size,
        "findings": [
            {
                "kind": finding.kind,
                "position": finding.position,
                "tree_size": finding.tree_size,
                "detail": finding.detail,
            }
            for finding in report.findings
        ],
    }


def _print(report: Report) -> None:
    click.echo(
        f"checked {report.events} events against {report.checkpoints} checkpoints; "
        f"the log gives every signed root up to tree size {report.verified_size}"
    )
    if not report.checkpoints:
        err.print(
            "no checkpoint has been signed yet, so nothing vouches for the log: "
            "run 'ledger checkpoint' (a serving node signs them by itself)"
        )
    for finding in report.findings:
        where = "" if finding.position is None else f" at position {finding.position}"
        click.echo(f"{finding.kind}{where}: {finding.detail}")
    click.echo("ok" if report.ok else f"{len(report.findings)} finding(s)")
