"""Hashing an SQLite log's leaves in a helper process: ``ledger verify``'s fast path.

Reading the log and hashing each event's leaf is most of a verify's work,
and needs nothing of the rest; so a process of its own does it (reading
the file through APSW, as a rebuild does) while this one folds the hashes
into the tree and compares them with the chain, each on its own core. The
hashes come back a batch per line, base64. The plain path,
:func:`projections.chain_verify.hashed_batches`, hashes in this process; the
tests check that both find the same.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from projections.chain_verify import BATCH, LeafBatch
from projections.log_leaves import leaf_hash
from projections.rebuild.processes import Helper, report
from projections.rebuild.scratch import connect_apsw
from projections.source import LogFile

HASH_SIZE = 32


class HashingProcess(Helper):
    """Reads an SQLite log and reports its leaf hashes, a batch per line.

    Args:
        log: The log's file and events table.
    """

    def __init__(self, log: tuple[str, str]) -> None:
        super().__init__("hashing the log's leaves", __name__, list(log), talks=True)

    def batches(self) -> Iterator[LeafBatch]:
        """The hashes as the process reports them; raises if it failed."""
        for line in self.lines():
            after, last, encoded = line.split()
            data = base64.b64decode(encoded)
            hashes = [
                data[start : start + HASH_SIZE]
                for start in range(0, len(data), HASH_SIZE)
            ]
            yield LeafBatch(int(after), int(last), hashes)
        self.finish()


def main(args: list[str]) -> None:
    """The process's entry point (see :class:`HashingProcess`)."""
    log_file, table = args
    events = LogFile(connect_apsw(log_file, read_only=True), table)
    try:
        after = 0
        while raws := events.read(after, BATCH):
            last = raws[-1][0]
            hashes = b"".join([leaf_hash(raw) for raw in raws])
            report(after, last, base64.b64encode(hashes).decode())
            after = last
    finally:
        events.close()
