"""Checking the stored log against its signed checkpoints: ``ledger verify``.

Every leaf is recomputed from the log as stored and folded into the tree
again, and every root a checkpoint signed is compared with the recomputed
one, so nothing the projector or the read models hold is trusted for the
verdict. The chain read model is used only to say *where* the log changed
(:mod:`projections.chain_findings`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ledger.application import Ledger
from projections import files
from projections.chain_findings import Difference, Finding, conclude
from projections.chain_queries import NotInTree, StoredTree
from projections.checkpoints import ChainSettings, CheckpointStore
from projections.log_leaves import leaf_hash
from projections.merkle_tree import frontier_root
from projections.readmodel_parts import SQL
from projections.readmodels.chain import HASH_SIZE
from projections.rebuild.scratch import connect_apsw
from projections.signed_notes import NoteError, VerifierKey
from projections.source import LogFile, LogSource, Raw

BATCH = 20_000
KEPT_DIFFERENCES = 1000
"""Differing leaves kept to tell what happened at the first one."""


class Events(Protocol):
    """What the log is read through (a :class:`~projections.source.LogSource`)."""

    def read(self, after: int, limit: int, stop: int | None = None) -> list[Raw]: ...


@dataclass
class Report:
    """What :func:`verify` found."""

    events: int = 0
    checkpoints: int = 0
    verified_size: int = 0
    """The largest checkpointed tree size the log still gives the root of."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings


@dataclass(frozen=True)
class LeafBatch:
    """The leaf hashes of consecutive events of the log.

    Attributes:
        after: The position the batch was read after.
        last: The position of its last event.
        hashes: Each event's leaf hash, in log order.
        raws: The events themselves, if at hand (read again when needed).
    """

    after: int
    last: int
    hashes: list[bytes]
    raws: list[Raw] | None = None


def hashed_batches(events: Events) -> Iterator[LeafBatch]:
    """The log read a batch at a time, each event's leaf hashed here."""
    after = 0
    while raws := events.read(after, BATCH):
        last = raws[-1][0]
        yield LeafBatch(after, last, [leaf_hash(raw) for raw in raws], raws)
        after = last


def signed_roots(
    store: CheckpointStore, key: VerifierKey, origin: str, report: Report
) -> dict[int, bytes]:
    """The roots of the stored checkpoints that are genuine, by tree size.

    A checkpoint is genuine when the log's key signed it, for this log's
    origin, and it is not older than one stored before it (an old checkpoint
    put back as the newest is a replay).
    """
    roots: dict[int, bytes] = {}
    largest = -1
    for published in store.every():
        report.checkpoints += 1
        size = published.tree_size
        try:
            checkpoint = published.checkpoint(key, origin)
        except NoteError as error:
            detail = f"checkpoint of size {size}: {error}"
            report.findings.append(Finding("checkpoint", None, detail, size))
            continue
        if size <= largest:
            detail = (
                f"checkpoint of size {size}: it comes after one of size {largest}, "
                "an older checkpoint replayed as a newer one"
            )
            report.findings.append(Finding("checkpoint", None, detail, size))
            continue
        largest = size
        roots[size] = checkpoint.root
    return roots


def verify(
    events: Events,
    store: CheckpointStore,
    key: VerifierKey,
    origin: str,
    chain: SQL | None = None,
    advance: Callable[[int, int], None] | None = None,
    batches: Iterable[LeafBatch] | None = None,
) -> Report:
    """Recomputes the log's tree and checks it against every stored checkpoint.

    Args:
        events: The log.
        store: The published checkpoints.
        key: The log's verifier key.
        origin: The log's origin.
        chain: A connection to the read-model file whose chain recorded the
            leaves as they were projected, to pin a change to its event.
        advance: Called with the events checked and the position reached,
            batch by batch.
        batches: The log's leaf hashes, batch by batch, if worked out
            elsewhere (:mod:`projections.leaf_hashing`); by default, here from
            ``events``.
    """
    report = Report()
    roots = signed_roots(store, key, origin, report)
    pending = sorted(roots)
    differences: list[Difference] = []
    first_mismatch: int | None = None
    frontier: list[bytes] = []
    size, target = 0, pending.pop(0) if pending else -1
    sha256 = hashlib.sha256
    for batch in hashed_batches(events) if batches is None else batches:
        hashes = batch.hashes
        if chain is not None and len(differences) < KEPT_DIFFERENCES:
            _compare(chain, size, batch, events, differences)
        for hashed in hashes:
            index = size
            while index & 1:
                hashed = sha256(b"\x01" + frontier.pop() + hashed).digest()
                index >>= 1
            frontier.append(hashed)
            size += 1
            if size == target:
                if frontier_root(frontier) == roots[size]:
                    report.verified_size = size
                elif first_mismatch is None:
                    first_mismatch = size
                target = pending.pop(0) if pending else -1
        if advance is not None:
            advance(len(hashes), batch.last)
    report.events = size
    if chain is not None:
        beyond = StoredTree(chain).recorded(
            size, size + KEPT_DIFFERENCES - len(differences)
        )
        for index, (position, hashed) in enumerate(beyond, start=size):
            differences.append(Difference(index, None, position, hashed))
    if target != -1 and first_mismatch is None:
        first_mismatch = target
    found = conclude(
        differences, first_mismatch, max(roots, default=0), report.verified_size
    )
    if found is not None:
        report.findings.append(found)
    return report


def _compare(
    chain: SQL,
    start: int,
    batch: LeafBatch,
    events: Events,
    differences: list[Difference],
) -> None:
    """Notes the leaves of a batch that differ from what the chain recorded.

    Leaves the chain has not recorded yet (events not projected) are not
    compared. A batch hashed elsewhere is read again to tell what differs.
    """
    hashes = batch.hashes
    tree = StoredTree(chain)
    packed = tree.packed_leaves(start, start + len(hashes))
    if packed == b"".join(hashes[: len(packed) // HASH_SIZE]):
        return
    recorded = tree.recorded(start, start + len(hashes))
    raws = batch.raws or events.read(batch.after, len(hashes))
    for index, (raw, hashed, (position, stored)) in enumerate(
        zip(raws, hashes, recorded, strict=False), start=start
    ):
        if hashed != stored:
            differences.append(Difference(index, raw, position, stored))
            if len(differences) >= KEPT_DIFFERENCES:
                return


def verify_ledger(
    ledger: Ledger,
    readmodel: Path,
    chain: ChainSettings,
    key: VerifierKey,
    advance: Callable[[int, int], None] | None = None,
) -> Report:
    """:func:`verify` of a ledger's log, checkpoints and read-model chain, as stored.

    An SQLite log's leaves are hashed in a helper process
    (:mod:`projections.leaf_hashing`) and the events read, where needed, as
    a rebuild reads them (plain SQL through APSW); any other log is read and
    hashed here.
    """
    from projections.leaf_hashing import HashingProcess

    source = LogSource(ledger)
    log_file = source.sqlite_file
    hashing = None if log_file is None else HashingProcess(log_file)
    events: Events = (
        source
        if log_file is None
        else LogFile(connect_apsw(log_file[0], read_only=True), log_file[1])
    )
    store = CheckpointStore(chain.store_path)
    try:
        recorded = files.connect(readmodel, create=False)
    except FileNotFoundError:
        recorded = None  # never projected: the checkpoints alone must do
    try:
        if hashing is None:
            return verify(events, store, key, chain.origin, recorded, advance)
        hashing.start()
        try:
            return verify(
                events, store, key, chain.origin, recorded, advance, hashing.batches()
            )
        except BaseException:
            hashing.cancel()
            raise
    finally:
        store.close()
        if isinstance(events, LogFile):
            events.close()
        source.close()
        if recorded is not None:
            recorded.close()


class ChainRefused(Exception):
    """A log that no longer gives the root of the newest checkpoint."""


def check_latest(
    chain: SQL, store: CheckpointStore, key: VerifierKey, origin: str
) -> None:
    """Checks a freshly built chain against the newest published checkpoint.

    What ``ledger rebuild`` asks before swapping new read models in: the
    rebuild folded the log as it is now into a new tree, so the tree's root
    at the checkpoint's size must be the signed one. Reads O(log n) hashes.

    Raises:
        ChainRefused: Saying which checkpoint the log fails, and how.
    """
    latest = store.latest()
    if latest is None:
        return
    size = latest.tree_size
    try:
        checkpoint = latest.checkpoint(key, origin)
    except NoteError as error:
        msg = f"the newest checkpoint (size {size}) is not genuine: {error}"
        raise ChainRefused(msg) from error
    try:
        root = StoredTree(chain).root(size)
    except NotInTree as error:
        msg = f"the log holds fewer events than the newest checkpoint's {size}"
        raise ChainRefused(msg) from error
    if root != checkpoint.root:
        msg = (
            f"the log's first {size} events no longer give the root signed for "
            "them in the newest checkpoint; run 'ledger verify' to see where"
        )
        raise ChainRefused(msg)
