"""``ledger token``: issue, list and revoke API tokens.

A token is printed once, when it is created, and only its hash is kept, so
``list`` shows what an operator needs to decide on a token (its role,
reviewer, age, expiry, last use and whether it was revoked) and never a
secret nor a digest.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Column, Table

from ledger import durations, errors
from ledger.application import Ledger
from ledger.auth import (
    ROLES,
    TokenError,
    TokenInfo,
    TokenStoreBase,
    open_token_store,
)
from ledger.settings import Settings
from ledger.sqlite_tokens import TokenStore

console = Console(stderr=True)
WIDEST = 132
"""The width ``list`` prints its table in, at least."""
LISTED = ("id", "role", "reviewer", "created", "expires", "last used", "revoked")


class Duration(click.ParamType):
    """A lifetime such as ``90m``, ``12h`` or ``30d`` (see :mod:`ledger.durations`)."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return durations.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


@contextmanager
def token_store() -> Iterator[TokenStoreBase]:
    """The token store every node shares; a refusal is a one-line error.

    ``auth.sqlite`` in ``LEDGER_HOME``, or the table beside a PostgreSQL log.
    """
    try:
        settings = Settings.from_env()
        store = open_token_store(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:
        _refuse_postgres_failure(error)
        raise
    try:
        yield store
    except (TokenError, errors.LedgerError) as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:
        _refuse_postgres_failure(error)
        raise
    finally:
        store.close()


def _refuse_postgres_failure(error: Exception) -> None:
    """Raises a PostgreSQL failure again as a one-line error.

    psycopg is only imported for a PostgreSQL store, so it is looked up
    rather than imported here.
    """
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(error, psycopg.Error):
        msg = f"the token store could not be used: {error}"
        raise click.ClickException(msg) from error


def _enrolled(handle: str) -> None:
    """Refuses a handle the ledger has no reviewer for."""
    ledger = Ledger(Settings.from_env())
    try:
        ledger.reviewer(handle)
    except errors.LedgerError as error:
        raise click.ClickException(str(error)) from error
    finally:
        ledger.close()


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


@click.group("token")
def token_group() -> None:
    """Manage API tokens (stored only as hashes)."""


@token_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--reviewer", "handle", help="The handle a reviewer token writes as.")
@click.option(
    "--expires",
    type=Duration(),
    help="Stop working after this long: 90m, 12h, 30d (default: never).",
)
def token_create(role: str, handle: str | None, expires: timedelta | None) -> None:
    """Create a token and print it once on stdout."""
    if role == "reviewer":
        if not handle:
            raise click.UsageError("--role reviewer needs --reviewer HANDLE")
        _enrolled(handle)
    elif handle:
        raise click.UsageError("--reviewer only goes with --role reviewer")
    with token_store() as store:
        token, _ = store.issue(role, handle, expires_in=expires)
    click.echo(token)


@token_group.command("list")
@click.option("--role", type=click.Choice(ROLES), help="Only tokens of this role.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print NDJSON instead of a table."
)
def token_list(role: str | None, as_json: bool) -> None:
    """List tokens in the order issued, without their secrets."""
    found: list[TokenInfo] = []
    with token_store() as store:
        while page := store.page(found[-1].seq if found else 0, 1000, role):
            found += page
    if as_json:
        encoder = msgspec.json.Encoder()
        for info in found:
            click.echo(encoder.encode(info.public()).decode())
        return
    # Nothing is cut or wrapped: the id is what `revoke` takes, and a time
    # is read whole; a narrow terminal wraps the lines instead.
    table = Table(*(Column(name, no_wrap=True) for name in LISTED))
    for info in found:
        expires = _when(info.expires_at) or "never"
        if info.state() == "expired":
            expires += " (expired)"
        table.add_row(
            info.id,
            info.role,
            info.reviewer or "",
            _when(info.created_at),
            expires,
            _when(info.last_used_at) or "never",
            _when(info.revoked_at),
        )
    Console(width=max(Console().width, WIDEST)).print(table)


@token_group.command("revoke")
@click.argument("token_id", metavar="ID")
def token_revoke(token_id: str) -> None:
    """Revoke the token ID: every worker refuses it from its next request on."""
    with token_store() as store:
        info = store.revoke_known(token_id)
    console.print(f"revoked token {info.id} ({info.role})")


@token_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def token_import(source: Path) -> None:
    """Copy the tokens of an auth.sqlite file into this ledger's token store.

    For a move to PostgreSQL: the tokens issued on the old node keep working
    on every new one. Needs the old home's secret.key in LEDGER_HOME (it
    keys the digests); a token whose id is already there is skipped.
    """
    try:
        # Rows are read as stored: no digest is computed, so no secret needed.
        old = TokenStore(source, b"")
        try:
            rows = old.kept()
        finally:
            old.close()
    except sqlite3.DatabaseError as error:
        msg = f"{source} is not a token file: {error}"
        raise click.ClickException(msg) from error
    try:
        secret = Settings.from_env().secret_path
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if not secret.exists():
        msg = (
            f"no server secret at {secret}: copy the old home's secret.key there "
            "first, or the imported tokens will not verify"
        )
        raise click.ClickException(msg)
    with token_store() as store:
        added = store.keep(rows)
    skipped = len(rows) - added
    said = f" ({skipped} already there)" if skipped else ""
    click.echo(f"imported {added} tokens from {source}{said}", err=True)
