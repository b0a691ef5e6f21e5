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

from projections.chain_queries import (
    Block,
    Inclusion,
    Place,
    StoredTree,
    place_of,
    stored_hash,
)
from projections.readmodel_parts import SQL
from projections.readmodels.chain import BLOCK, POSITION

MAX_RANGES = 65_536
"""Hashes of ranges of leaves kept per connection: a few MB."""
KEPT_RANGE = 64
"""The fewest leaves a range kept must span. Smaller ones are a random
event's own, read again from its block and its neighbours' at little cost;
keeping them would crowd out the upper levels that every proof shares."""

Range = tuple[int, int]


class RangeHashes(dict[Range, bytes]):
    """Hashes of ranges of leaves, emptied whenever more would not fit.

    Simpler and cheaper per lookup than least-recently-used order; the
    upper levels every proof needs are read again at once after a clear.
    """

    def __init__(self, limit: int = MAX_RANGES) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, ranges: Iterable[Range], made: Iterable[bytes]) -> None:
        """Keeps the hashes ``made`` of those ``ranges`` that span enough leaves."""
        entries = {
            (start, stop): hashed
            for (start, stop), hashed in zip(ranges, made, strict=True)
            if stop - start >= KEPT_RANGE
        }
        if len(self) + len(entries) > self.limit:
            self.clear()
        self.update(entries)


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
    """The stored tree, combining ranges of leaves through a :class:`RangeHashes`."""

    def __init__(self, conn: SQL, kept: RangeHashes) -> None:
        super().__init__(conn)
        self.kept = kept

    def hashes_of(self, ranges: Sequence[Range]) -> list[bytes]:
        return self._hashes_with(ranges, ())[0]

    def _hashes_with(
        self, ranges: Sequence[Range], also: Iterable[int]
    ) -> tuple[list[bytes], dict[int, Block]]:
        known = [self.kept.get(each) for each in ranges]
        missing = [
            each for each, hashed in zip(ranges, known, strict=True) if not hashed
        ]
        made, blocks = super()._hashes_with(missing, also)
        self.kept.keep(missing, made)
        fresh = iter(made)
        return [hashed or next(fresh) for hashed in known], blocks

    def inclusion(self, position: int, size: int) -> Inclusion:
        """The plain proof, with one query of the blocks under the leaf's lower levels.

        On the embedded log, event ``position`` is leaf ``position - 1``;
        elsewhere, or past the size, the plain search finds it or refuses.
        """
        self._check_size(size)
        index = position - 1
        if not 0 <= index < size:
            return super().inclusion(position, size)
        ranges = path_ranges(index, size)
        path = [self.kept.get(each) for each in ranges]
        places: dict[Range, Place] = {}
        for (start, stop), hashed in zip(ranges, path, strict=True):
            width = stop - start
            if hashed is None and width & (width - 1) == 0:
                places[start, stop] = place_of(start, stop)
        blocks = self.blocks({index // BLOCK, *(place[0] for place in places.values())})
        (found,) = POSITION.unpack_from(
            blocks[index // BLOCK][0], index % BLOCK * POSITION.size
        )
        if found != position:
            return super().inclusion(position, size)
        missing = [
            each for each, hashed in zip(ranges, path, strict=True) if not hashed
        ]
        made = [
            stored_hash(blocks, places[each])
            if each in places
            else self.hashes_of([each])[0]
            for each in missing
        ]
        self.kept.keep(missing, made)
        fresh = iter(made)
        return Inclusion(index, size, [hashed or next(fresh) for hashed in path])
