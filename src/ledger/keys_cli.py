"""``ledger keys export`` and ``ledger keys import FILE``: moving the person keys.

``ledger export`` and ``ledger import`` move the log, whose personal data is
sealed; without the keys it was sealed with, a moved ledger would read every
name, rationale and address as erased. These commands move the live keys
beside it, from any keyring to any other (``keys.sqlite`` of an embedded
ledger, the table beside a PostgreSQL log). Destroyed keys are never
exported, and a key destroyed on the target stays destroyed, so moving a
ledger cannot bring an erased person's data back.

The file is NDJSON: a header line, then one ``{"person", "key", "created_at"}``
per key, the key in base64url. It opens everyone's personal data: keep it
secret, and delete it once imported.

Not to be confused with ``ledger key``, the log's signing key.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
import msgspec

from ledger.personal_data import KEY_BYTES, KINDS, KeyringState, open_keyring
from ledger.settings import Settings

FORMAT = "verdict-ledger-keys"
VERSION = 1
SECRET = (
    "warning: this file holds the keys to every person's data in the ledger: "
    "keep it secret, and delete it once imported"
)


class Header(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int


class KeyLine(msgspec.Struct, forbid_unknown_fields=True):
    person: str
    key: str
    created_at: str


def _keyring() -> KeyringState:
    try:
        return open_keyring(Settings.from_env())
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def _encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_keys(path: Path) -> Iterator[tuple[str, bytes, str]]:
    """The keys of an export file, each checked; a bad line is a one-line error."""
    with path.open("rb") as file:
        lines = iter(enumerate(file, start=1))
        try:
            header = msgspec.json.decode(next(lines, (0, b""))[1], type=Header)
        except msgspec.DecodeError as error:
            msg = f"{path}: not an export of `ledger keys export` ({error})"
            raise click.ClickException(msg) from error
        if (header.format, header.version) != (FORMAT, VERSION):
            msg = f"{path}: format {header.format} {header.version} is not {FORMAT} 1"
            raise click.ClickException(msg)
        for number, line in lines:
            try:
                item = msgspec.json.decode(line, type=KeyLine)
                key = _decode(item.key)
            except (msgspec.DecodeError, binascii.Error, ValueError) as error:
                msg = f"{path}:{number}: not a key line ({error})"
                raise click.ClickException(msg) from error
            if len(key) != KEY_BYTES or item.person.partition(":")[0] not in KINDS:
                msg = f"{path}:{number}: not a person's key"
                raise click.ClickException(msg)
            yield item.person, key, item.created_at


@click.group("keys")
def keys_group() -> None:
    """Move the keys personal data is sealed with, beside `ledger export`.

    Not the log's signing key (that is `ledger key`).
    """


@keys_group.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this new file, readable by its owner only (else stdout).",
)
def export_keys(output: Path | None) -> None:
    """Write every live person key as NDJSON (the file is secret).

    Erased persons' keys are gone and never exported. Import the file on the
    ledger the log is imported into: `ledger keys import FILE`.
    """
    keyring = _keyring()
    try:
        keys = keyring.live_keys()
    finally:
        keyring.close()
    lines = [msgspec.json.encode(Header(FORMAT, VERSION))]
    for person, key, created_at in keys:
        lines.append(msgspec.json.encode(KeyLine(person, _encode(key), created_at)))
    data = b"\n".join(lines) + b"\n"
    click.echo(SECRET, err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as error:
            raise click.ClickException(f"{output} exists; give a new file") from error
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    click.echo(f"exported {len(keys)} key(s)", err=True)


@keys_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_keys(file: Path) -> None:
    """Keep the person keys of FILE (from `ledger keys export`) in this ledger.

    A person with the same key already is left alone (importing twice is
    harmless); one erased here stays erased; one with another key here keeps
    it, and the command then exits 1 saying how many.
    """
    keys = list(read_keys(file))  # every line checked before any is kept
    keyring = _keyring()
    try:
        told = Counter(keyring.adopt(*item) for item in keys)
    finally:
        keyring.close()
    click.echo(
        f"imported {told['adopted']} key(s); {told['present']} already here, "
        f"{told['erased']} of persons erased here left erased"
    )
    if told["conflict"]:
        msg = (
            f"{told['conflict']} person(s) already have another key here; "
            "theirs were kept and the file's left out"
        )
        raise click.ClickException(msg)
