"""The Merkle tree over the log: every stored event a leaf, every full subtree's hash.

The tamper-evident log of docs/AUDIT.md is this read model. Each stored
event becomes a leaf (:mod:`projections.log_leaves`), and each leaf that
completes a subtree of 2, 4, 8… leaves adds that subtree's hash, so every
perfect subtree of the tree is stored exactly once as the log grows. Any
root, inclusion or consistency proof is made of such subtrees (and at most
one ragged right edge, itself a few of them), so a proof needs O(log n)
stored hashes (:mod:`projections.chain_queries`).

They are stored by blocks of :data:`BLOCK` leaves: a row holds its leaves'
positions and hashes, and the hashes of the subtrees they complete, in the
order they complete. A row per leaf and per subtree would make the table
several times slower to write, which a rebuild does for every event. The
block still being filled is kept in the head row, with the hashes of the
perfect subtrees that end at the current size (the *frontier*), which is
all the fold needs: the log's append path gains no work at all. A rebuild
replays the same fold, in the helper process that loads set-based read
models (:func:`load`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Sequence

from projections.engine import Batch, Dispatch
from projections.log_leaves import leaf_hash
from projections.readmodel_parts import History, ReadModel, Rows, Table
from projections.source import LogFile, Raw

BLOCK = 16
"""Leaves per stored row."""
HASH_SIZE = 32
POSITION = struct.Struct(">Q")

BLOCKS = History(
    "chain_blocks",
    """
    CREATE TABLE chain_blocks (
        block INTEGER PRIMARY KEY,
        positions BLOB NOT NULL,
        leaves BLOB NOT NULL,
        nodes BLOB NOT NULL
    )""",
    key=("block",),
    insert="INSERT INTO chain_blocks VALUES (?,?,?,?)",
)
HEAD = Table(
    "chain_head",
    """
    CREATE TABLE chain_head (
        name TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        position INTEGER NOT NULL,
        frontier BLOB NOT NULL,
        positions BLOB NOT NULL,
        leaves BLOB NOT NULL,
        nodes BLOB NOT NULL
    )""",
    key=("name",),
    columns=("name", "size", "position", "frontier", "positions", "leaves", "nodes"),
)
LOG = "log"
"""The head row's key: the tree has one."""
LOAD_BATCH = 20_000


def node_place(height: int, index: int) -> tuple[int, int]:
    """The block, and the place among its subtree hashes, of a perfect subtree.

    The subtree of ``2**height`` leaves number ``index`` (height 1 or more)
    completes with its last leaf, in that leaf's block. The leaves before
    ``m`` complete ``m - popcount(m)`` subtrees in all, and each leaf
    completes its subtrees from the lowest up, which places it.
    """
    last = ((index + 1) << height) - 1
    block = last // BLOCK
    first = block * BLOCK
    before = (last - last.bit_count()) - (first - first.bit_count())
    return block, before + height - 1


def hashes(packed: bytes) -> list[bytes]:
    """Concatenated hashes, one by one."""
    return [
        packed[start : start + HASH_SIZE] for start in range(0, len(packed), HASH_SIZE)
    ]


def positions(packed: bytes) -> list[int]:
    """Concatenated positions, one by one."""
    return [found for (found,) in POSITION.iter_unpack(packed)]


def fold(rows: Rows, raws: Sequence[Raw]) -> None:
    """Adds ``raws`` as leaves, and the subtrees they complete, to the tree."""
    if not raws:
        return
    heads = rows[HEAD]
    head = heads[LOG]
    if head is None:
        size, frontier = 0, []
        placed: list[bytes] = []
        leaves: list[bytes] = []
        nodes: list[bytes] = []
    else:
        size, frontier = head["size"], hashes(head["frontier"])
        placed, leaves, nodes = [head["positions"]], [head["leaves"]], [head["nodes"]]
    blocks = rows[BLOCKS]
    pack = POSITION.pack
    sha256 = hashlib.sha256
    for raw in raws:
        hashed = leaf_hash(raw)
        placed.append(pack(raw[0]))
        leaves.append(hashed)
        index = size
        while index & 1:
            hashed = sha256(b"\x01" + frontier.pop() + hashed).digest()
            nodes.append(hashed)
            index >>= 1
        frontier.append(hashed)
        size += 1
        if not size % BLOCK:
            blocks.append(
                (size // BLOCK - 1, b"".join(placed), b"".join(leaves), b"".join(nodes))
            )
            placed, leaves, nodes = [], [], []
    heads.add(
        {
            "name": LOG,
            "size": size,
            "position": raws[-1][0],
            "frontier": b"".join(frontier),
            "positions": b"".join(placed),
            "leaves": b"".join(leaves),
            "nodes": b"".join(nodes),
        }
    )


def load(conn: sqlite3.Connection, log: str, stop: int) -> None:
    """Folds the log's events up to ``stop`` into an empty tree, batch by batch.

    The same fold as a live projector's, run in the rebuild's set-loading
    process so that its hashing takes the core the Python fold does not.
    """
    events = LogFile(conn, log)
    batch = Batch(conn, Dispatch([READ_MODEL]), complete=True)
    after = 0
    while raws := events.read(after, LOAD_BATCH, stop):
        batch.fold(raws)
        batch.write()
        after = raws[-1][0]


READ_MODEL = ReadModel(
    "chain",
    tables=(BLOCKS, HEAD),
    handlers={},
    fold_stored=fold,
    bulk_load=load,
)
