"""Moving a ledger's log between stores as NDJSON: the format, export and checks.

``ledger export`` writes a log as one JSON object per line and ``ledger
import`` appends such a file to another store (SQLite to PostgreSQL and
back), every event with its position, aggregate id, version, topic and
stored state bytes exactly as they were, so that the tamper-evident chain
of the moved log gives the same roots. The format (README "Moving a
ledger"):

- line 1, the header: ``{"format": "verdict-ledger-log", "version": 1,
  "store": "sqlite"|"postgresql", "after": A, "head": H}``: the file holds
  the events after position ``A`` up to the source's head ``H``;
- one line per event, in log order: ``{"position", "originator_id",
  "originator_version", "topic", "state"}``, the state as standard base64
  of the stored bytes (they are msgspec JSON, or ciphertext if the ledger
  encrypts, so base64 is the one encoding that is exact for both);
- the last line, the trailer: ``{"count": N, "sha256": "…"}``, the number
  of event lines and the SHA-256 of their bytes, newlines included.

Both directions stream a batch at a time, so memory stays flat whatever the
log's length. An import reads the file twice: once to check it whole (every
line, the order, the count and the checksum), before the store is touched,
and once to append it, in one transaction that hashes the lines again and
commits only if they still match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger import log as event_log

FORMAT = "verdict-ledger-log"
VERSION = 1
BATCH_SIZE = 5000

Progress = Callable[[int], None]
"""Told, after each batch, how far it has got (a position, a byte, a count)."""


class Header(msgspec.Struct, forbid_unknown_fields=True):
    """The first line: what the file holds and where it came from."""

    format: str
    version: int
    store: Literal["sqlite", "postgresql"]
    after: int
    head: int


class LoggedRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One stored event, every byte of it that the store keeps."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class Trailer(msgspec.Struct, forbid_unknown_fields=True):
    """The last line: how many event lines came before it, and their SHA-256."""

    count: int
    sha256: str


Item = TypeVar("Item", Header, LoggedRecord, Trailer)


class TransferError(Exception):
    """A file that cannot be imported, or a store it cannot be imported into."""


_encode = msgspec.json.Encoder().encode
_decode_header = msgspec.json.Decoder(Header).decode
_decode_record = msgspec.json.Decoder(LoggedRecord).decode
_decode_trailer = msgspec.json.Decoder(Trailer).decode


def store_kind(recorder: ApplicationRecorder) -> Literal["sqlite", "postgresql"]:
    """The kind of store ``recorder`` keeps its log in."""
    sqlite = isinstance(recorder, SQLiteApplicationRecorder)
    return "sqlite" if sqlite else "postgresql"


def export(
    recorder: ApplicationRecorder,
    out: BinaryIO,
    *,
    after: int = 0,
    batch_size: int = BATCH_SIZE,
    progress: Progress = lambda _position: None,
) -> Trailer:
    """Writes the log after position ``after``, up to its head now, to ``out``.

    Events appended while it runs are left for a later ``--after`` export.

    Raises:
        TransferError: ``after`` is past the log's head.
    """
    head = recorder.max_notification_id() or 0
    if after > head:
        msg = f"--after {after} is past the log's head, position {head}"
        raise TransferError(msg)
    store = store_kind(recorder)
    out.write(_encode(Header(FORMAT, VERSION, store, after, head)) + b"\n")
    digest, count = hashlib.sha256(), 0
    for batch in event_log.batches(recorder, after=after, stop=head, size=batch_size):
        lines = b"".join(
            _encode(
                LoggedRecord(
                    n.id,
                    n.originator_id
                    if isinstance(n.originator_id, UUID)
                    else UUID(str(n.originator_id)),
                    n.originator_version,
                    n.topic,
                    n.state,
                )
            )
            + b"\n"
            for n in batch
        )
        digest.update(lines)
        out.write(lines)
        count += len(batch)
        progress(batch[-1].id)
    trailer = Trailer(count, digest.hexdigest())
    out.write(_encode(trailer) + b"\n")
    return trailer


@dataclass(frozen=True)
class CheckedFile:
    """A file that :func:`check` found whole, and what its first and last lines say."""

    path: Path
    header: Header
    trailer: Trailer


def _refused(lineno: int, what: str) -> TransferError:
    return TransferError(f"line {lineno}: {what}; nothing was imported")


def _lines(path: Path, progress: Progress) -> Iterator[tuple[int, bytes]]:
    """Each line of ``path`` with its number; one cut short is refused."""
    lineno = 0
    with path.open("rb") as file:
        for lineno, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                raise _refused(lineno, "the file ends mid-line: it was cut short")
            if lineno % BATCH_SIZE == 0:
                progress(lineno)
            yield lineno, line
    progress(lineno)


def _records(
    path: Path, progress: Progress
) -> Iterator[tuple[int, bytes, LoggedRecord | Header | Trailer]]:
    """The header, each event and the trailer of ``path``, decoded, with their lines.

    One line is held back, as only the end of the file tells that a line is
    the trailer.
    """
    pending: tuple[int, bytes] | None = None
    for lineno, line in _lines(path, progress):
        if lineno == 1:
            yield lineno, line, _decoded(lineno, line, _decode_header, "a header")
            continue
        if pending is not None:
            yield pending[0], pending[1], _decoded(*pending, _decode_record, "an event")
        pending = (lineno, line)
    if pending is None:
        msg = "the file ends before its trailer: it was cut short; nothing was imported"
        raise TransferError(msg)
    yield pending[0], pending[1], _decoded(*pending, _decode_trailer, "the trailer")


def _decoded(
    lineno: int, line: bytes, decode: Callable[[bytes], Item], what: str
) -> Item:
    try:
        return decode(line)
    except msgspec.DecodeError as error:
        hint = " (is the file cut short?)" if what == "the trailer" else ""
        raise _refused(lineno, f"not {what}{hint}: {error}") from error


def check(path: Path, progress: Progress = lambda _done: None) -> CheckedFile:
    """Reads ``path`` whole and checks it is a ledger log, complete and unaltered.

    Args:
        path: The NDJSON file.
        progress: Told the lines read so far.

    Raises:
        TransferError: Naming the first line that is wrong.
    """
    header: Header | None = None
    digest, count, last = hashlib.sha256(), 0, 0
    for lineno, line, item in _records(path, progress):
        if isinstance(item, Header):
            header = item
            if (item.format, item.version) != (FORMAT, VERSION):
                raise _refused(
                    lineno,
                    f"format {item.format!r} v{item.version} "
                    f"is not {FORMAT!r} v{VERSION}",
                )
            last = item.after
        elif isinstance(item, LoggedRecord):
            assert header is not None
            if not last < item.position <= header.head:
                raise _refused(
                    lineno,
                    f"position {item.position} is not after {last} and at most "
                    f"the header's head {header.head}",
                )
            last = item.position
            digest.update(line)
            count += 1
        else:
            assert header is not None
            if (item.count, item.sha256) != (count, digest.hexdigest()):
                raise _refused(
                    lineno,
                    f"the trailer says {item.count} event(s) with SHA-256 "
                    f"{item.sha256}, the file holds {count} with "
                    f"{digest.hexdigest()}: it was altered or cut short",
                )
            if count and last != header.head:
                raise _refused(
                    lineno,
                    f"the last event is at {last}, the header's head {header.head}",
                )
            return CheckedFile(path, header, item)
    raise AssertionError("unreachable: _records always ends with the trailer")


def batches(
    checked: CheckedFile, batch_size: int = BATCH_SIZE
) -> Iterator[Sequence[LoggedRecord]]:
    """The events of a checked file, a batch at a time, read again.

    Raises:
        TransferError: After the last batch, if the file changed since it was
            checked, so that the importing transaction is rolled back.
    """
    digest, batch = hashlib.sha256(), []
    for _lineno, line, item in _records(checked.path, lambda _done: None):
        if isinstance(item, LoggedRecord):
            digest.update(line)
            batch.append(item)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
    if digest.hexdigest() != checked.trailer.sha256:
        msg = f"{checked.path} changed while it was imported; nothing was imported"
        raise TransferError(msg)


def refuse_target(checked: CheckedFile, head: int, *, append: bool) -> None:
    """Refuses a store whose log the file does not continue exactly.

    Raises:
        TransferError: The store is not empty and ``append`` is false, or its
            head is not the position the file starts after.
    """
    after = checked.header.after
    if head and not append:
        msg = (
            f"the target store already holds events up to position {head}; "
            "import appends to an empty store only, unless --append is given "
            "(for a file exported with --after equal to that head); "
            "nothing was imported"
        )
        raise TransferError(msg)
    if head != after:
        msg = (
            f"the file holds the events after position {after}, but the target "
            f"store's head is {head}: it would leave a gap or a duplicate; "
            "nothing was imported"
        )
        raise TransferError(msg)
