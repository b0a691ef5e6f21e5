"""Served proofs made fast: hashes kept in memory, a path found by the tree's shape.

The hash of a range of leaves the tree already holds never changes. Every
proof of a large tree needs the same few of them for its upper levels, so
a node that serves proofs keeps those it has read and combined, up to a
bound, beside the connection it read them through (a rebuild swapped in
gives new connections, so never a stale hash). An inclusion proof then
reads one query's worth of blocks, those holding its leaf's lower levels.
The plain :class:`~projections.chain_queries.StoredTree` reads and combines
everything each time; the tests check that both give the same proofs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from projections.chain_queries import (
    Block,
    Inclusion,
    StoredTree,
)
from projections.readmodel_parts import SQL
from projections.readmodels.chain import BLOCK, HASH_SIZE, POSITION, node_place

MAX_RANGES = 65_536
"""Hashes of ranges of leaves kept per connection: a few MB."""
KEPT_RANGE = 64
"""The fewest leaves a range kept must span. Smaller ones are a random
event's own, read again from its block and its neighbours' at little cost;
keeping them would crowd out the upper levels that every proof shares."""
GROUP = 64
"""Leaves whose paths differ only below a subtree of this many: the rest of
their path, and the four subtrees of 16 and two of 32 under it, are kept
as one string of hashes, so a proof of any of them reads its block alone."""
MAX_GROUPS = 16_384
"""Groups kept per connection: every group of a log of a million events, in
about 12 MB. A longer log's proofs fall back on the ranges kept."""
_LOWER = 6
"""The levels of a path inside its group: four in the leaf's block of 16,
then the group's subtrees of 16 and of 32."""
_IN_BLOCK = BLOCK.bit_length() - 1
"""The levels of a path in the leaf's own block."""
_BLOCK_ROW = "SELECT positions, leaves, nodes FROM chain_blocks WHERE block = ?"

K = TypeVar("K")
V = TypeVar("V")
Range = tuple[int, int]


class Bounded(dict[K, V], Generic[K, V]):
    """A mapping emptied whenever it would hold more than ``limit`` entries.

    Simpler and cheaper per lookup than least-recently-used order; the
    upper levels every proof needs are read again at once after a clear.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, entries: dict[K, V]) -> None:
        """Keeps ``entries``, first emptying the mapping if they would not fit."""
        if len(self) + len(entries) > self.limit:
            self.clear()
        self.update(entries)


@dataclass
class KeptHashes:
    """What one connection's proofs have read and combined."""

    ranges: Bounded[Range, bytes] = field(default_factory=lambda: Bounded(MAX_RANGES))
    """Hashes of ranges of at least :data:`KEPT_RANGE` leaves."""
    groups: Bounded[tuple[int, int], bytes] = field(
        default_factory=lambda: Bounded(MAX_GROUPS)
    )
    """By tree size and group: the group's four subtrees of 16 leaves, its
    two of 32, then the path above it, concatenated."""


def path_ranges(index: int, size: int) -> list[Range]:
    """:func:`~projections.merkle_tree.inclusion_ranges`, read off the tree's shape.

    A tree is a row of perfect subtrees, one per bit of its size. A leaf's
    path is its siblings inside its own perfect subtree from the bottom up,
    then everything right of that subtree as one range, then the subtrees
    left of it, nearest first: no recursive split to walk.
    """
    start = width = 0
    left: list[Range] = []
    for bit in reversed(range(size.bit_length())):
        width = 1 << bit
        if not size & width:
            continue
        if index < start + width:
            break
        left.append((start, start + width))
        start += width
    ranges: list[Range] = []
    for height in range(width.bit_length() - 1):
        sibling = ((index >> height) ^ 1) << height
        ranges.append((sibling, sibling + (1 << height)))
    if start + width < size:
        ranges.append((start + width, size))
    ranges.extend(reversed(left))
    return ranges


class CachedTree(StoredTree):
    """The stored tree, combining ranges of leaves through :class:`KeptHashes`."""

    def __init__(self, conn: SQL, kept: KeptHashes) -> None:
        super().__init__(conn)
        self.kept = kept

    def _keep(self, ranges: Sequence[Range], made: Sequence[bytes]) -> None:
        self.kept.ranges.keep(
            {
                (start, stop): hashed
                for (start, stop), hashed in zip(ranges, made, strict=True)
                if stop - start >= KEPT_RANGE
            }
        )

    def hashes_of(self, ranges: Sequence[Range]) -> list[bytes]:
        return self._hashes_with(ranges, ())[0]

    def _hashes_with(
        self, ranges: Sequence[Range], also: Iterable[int]
    ) -> tuple[list[bytes], dict[int, Block]]:
        kept = self.kept.ranges
        known = [kept.get(each) for each in ranges]
        missing = [
            each for each, hashed in zip(ranges, known, strict=True) if not hashed
        ]
        made, blocks = super()._hashes_with(missing, also)
        self._keep(missing, made)
        fresh = iter(made)
        return [hashed or next(fresh) for hashed in known], blocks

    def inclusion(self, position: int, size: int) -> Inclusion:
        """The plain proof: from the leaf's block and its group's hashes if kept.

        On the embedded log, event ``position`` is leaf ``position - 1``;
        elsewhere, or past the size, the plain search finds it or refuses.
        A group is only kept for a size the tree held, so a proof from one
        needs no look at the head.
        """
        index = position - 1
        if 0 <= index < size:
            shared = self.kept.groups.get((size, index // GROUP))
            if shared is not None:
                row = self.conn.execute(_BLOCK_ROW, (index // BLOCK,)).fetchone()
                if row is not None and _position(row[0], index) == position:
                    return Inclusion(index, size, _from_group(row, shared, index))
        return self._inclusion(position, size)

    def _inclusion(self, position: int, size: int) -> Inclusion:
        """The proof from the ranges kept and one query of the blocks under them."""
        self._check_size(size)
        index = position - 1
        if not 0 <= index < size:
            return super().inclusion(position, size)
        found, blocks = self._hashes_with(path_ranges(index, size), [index // BLOCK])
        if _position(blocks[index // BLOCK][0], index) != position:
            return super().inclusion(position, size)
        group = index // GROUP
        if group < size // GROUP:  # the whole group is under a perfect subtree
            first = group * GROUP
            under = [(first + i, first + i + BLOCK) for i in range(0, GROUP, BLOCK)]
            under += [
                (first + i, first + i + 2 * BLOCK) for i in range(0, GROUP, 2 * BLOCK)
            ]
            shared = b"".join(self.hashes_of(under) + found[_LOWER:])
            self.kept.groups.keep({(size, group): shared})
        return Inclusion(index, size, found)


def _position(packed: bytes, index: int) -> int:
    """The position of leaf ``index``, from its block's packed positions."""
    (found,) = POSITION.unpack_from(packed, index % BLOCK * POSITION.size)
    return int(found)


def _from_group(row: Block, shared: bytes, index: int) -> list[bytes]:
    """Leaf ``index``'s path: its block's four levels, then its group's hashes."""
    _, leaves, nodes = row
    sibling = (index ^ 1) % BLOCK * HASH_SIZE
    path = [leaves[sibling : sibling + HASH_SIZE]]
    for height in range(1, _IN_BLOCK):
        place = node_place(height, (index >> height) ^ 1)[1] * HASH_SIZE
        path.append(nodes[place : place + HASH_SIZE])
    sixteen = ((index >> _IN_BLOCK) ^ 1) % 4 * HASH_SIZE
    thirty_two = (4 + ((index >> (_IN_BLOCK + 1)) ^ 1) % 2) * HASH_SIZE
    path.append(shared[sixteen : sixteen + HASH_SIZE])
    path.append(shared[thirty_two : thirty_two + HASH_SIZE])
    above = _LOWER * HASH_SIZE
    path += [shared[at : at + HASH_SIZE] for at in range(above, len(shared), HASH_SIZE)]
    return path
