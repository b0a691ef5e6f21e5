"""Roots and proofs of the log's Merkle tree, read from the chain read model.

Every hash a root or proof needs is a perfect subtree the chain stores
(:mod:`projections.readmodels.chain`), or, on the ragged right edge of a
tree whose size is not a power of two, the hash of a few of them; so a root
or a proof needs O(log n) stored hashes, however long the log, read with
one query of the blocks that hold them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from projections.merkle_tree import (
    EMPTY_ROOT,
    consistency_ranges,
    frontier_root,
    inclusion_ranges,
    node_hash,
    split,
)
from projections.readmodel_parts import SQL
from projections.readmodels.chain import (
    BLOCK,
    HASH_SIZE,
    HEAD,
    LOG,
    hashes,
    node_place,
    positions,
)
from projections.source import chunks


@dataclass(frozen=True)
class TreeHead:
    """The tree as far as the chain has folded the log."""

    size: int
    """Leaves: events in the tree."""
    position: int
    """The position of the last of them (0 for none)."""
    root: bytes


@dataclass(frozen=True)
class Inclusion:
    """An inclusion proof, as RFC 9162's ``inclusion_proof_v2`` names its parts."""

    leaf_index: int
    tree_size: int
    inclusion_path: list[bytes]


Block = tuple[bytes, bytes, bytes]
"""A stored block: its leaves' positions, their hashes, the subtrees they complete."""


Place = tuple[int, int, int]
"""Where a stored hash is: its block, its index there, and the block's column."""


def place_of(start: int, stop: int) -> Place:
    """Where the hash of the perfect subtree over leaves ``start`` to ``stop`` is.

    A leaf's hash is among its block's leaves, a larger subtree's among the
    subtrees of the block its last leaf is in.
    """
    height = (stop - start).bit_length() - 1
    if height == 0:
        return start // BLOCK, start % BLOCK, 1
    block, index = node_place(height, start >> height)
    return block, index, 2


def stored_hash(blocks: dict[int, Block], place: Place) -> bytes:
    """The hash at ``place`` among the blocks read.

    Raises:
        NotInTree: If those blocks do not hold it (the tree is smaller).
    """
    block, index, column = place
    stored = blocks.get(block)
    offset = index * HASH_SIZE
    hashed = b"" if stored is None else stored[column][offset : offset + HASH_SIZE]
    if len(hashed) != HASH_SIZE:
        msg = f"the stored tree does not reach block {block} of its leaves"
        raise NotInTree(msg)
    return bytes(hashed)


class NotInTree(ValueError):
    """A size, leaf or position the stored tree does not hold (yet)."""


def perfect_parts(start: int, stop: int) -> Iterator[tuple[int, int]]:
    """The perfect subtrees whose hashes make up that of leaves ``start`` to ``stop``.

    The range itself if it is perfect (a power of two, aligned); otherwise
    it splits as RFC 9162 splits a tree.
    """
    size = stop - start
    if size == 0:
        return
    if size & (size - 1) == 0:  # ranges of a tree's split are aligned
        yield start, stop
        return
    middle = start + split(size)
    yield from perfect_parts(start, middle)
    yield from perfect_parts(middle, stop)


class StoredTree:
    """The chain's tree as stored in one read-model file, through one connection.

    Callers read inside one transaction, so that every hash of a proof
    comes from the same commit; the head row is read once per instance.
    """

    def __init__(self, conn: SQL) -> None:
        self.conn = conn
        self._head: tuple[int, int, bytes, Block] | None = None

    def _head_row(self) -> tuple[int, int, bytes, Block]:
        if self._head is None:
            row = self.conn.execute(
                "SELECT size, position, frontier, positions, leaves, nodes "
                f"FROM {HEAD.name} WHERE name = ?",
                (LOG,),
            ).fetchone()
            if row is None:
                self._head = (0, 0, b"", (b"", b"", b""))
            else:
                size, position, frontier, *tail = row
                self._head = (size, position, frontier, (tail[0], tail[1], tail[2]))
        return self._head

    def head(self) -> TreeHead:
        """The tree's size, last position and root now."""
        size, position, frontier, _ = self._head_row()
        return TreeHead(size, position, frontier_root(hashes(frontier)))

    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._head_row()[0]

    def blocks(self, ids: Iterable[int]) -> dict[int, Block]:
        """The stored blocks ``ids`` (the one being filled from the head row)."""
        size, _, _, tail = self._head_row()
        filling = size // BLOCK
        wanted = sorted(set(ids))
        found: dict[int, Block] = {}
        if filling in wanted:
            found[filling] = tail
        complete = [block for block in wanted if block < filling]
        for chunk in chunks(complete):
            marks = ",".join("?" * len(chunk))
            for block, *stored in self.conn.execute(
                "SELECT block, positions, leaves, nodes FROM chain_blocks "
                f"WHERE block IN ({marks})",
                chunk,
            ):
                found[block] = (stored[0], stored[1], stored[2])
        return found

    def hashes_of(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The hashes of the subtrees over ``ranges`` of leaves, read at once.

        A perfect subtree (a power of two, aligned) is stored; any other, on
        a ragged right edge, is made of a few that are, combined as RFC 9162
        splits a tree. The blocks that hold them all are read together.

        Raises:
            NotInTree: If the tree lacks one of them.
        """
        return self._hashes_with(ranges, ())[0]

    def _hashes_with(
        self, ranges: Sequence[tuple[int, int]], also: Iterable[int]
    ) -> tuple[list[bytes], dict[int, Block]]:
        """:meth:`hashes_of`, reading the blocks ``also`` in the same query."""
        made = [list(perfect_parts(start, stop)) for start, stop in ranges]
        places = {part: place_of(*part) for parts in made for part in parts}
        blocks = self.blocks({*(place[0] for place in places.values()), *also})
        found: list[bytes] = []
        for parts in made:
            combined = b""
            for part in reversed(parts):
                hashed = stored_hash(blocks, places[part])
                combined = node_hash(hashed, combined) if combined else hashed
            found.append(combined or EMPTY_ROOT)
        return found, blocks

    def _check_size(self, size: int) -> None:
        held = self.size()
        if not 0 <= size <= held:
            msg = f"the tree holds {held} events, not {size}"
            raise NotInTree(msg)

    def root(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` leaves."""
        self._check_size(size)
        return self.hashes_of([(0, size)])[0]

    def packed_leaves(self, start: int, stop: int) -> bytes:
        """The hashes of leaves ``start`` to ``stop`` (those held), concatenated."""
        stop = min(stop, self.size())
        if start >= stop:
            return b""
        blocks = self.blocks(range(start // BLOCK, (stop - 1) // BLOCK + 1))
        packed = b"".join(blocks[block][1] for block in sorted(blocks))
        offset = (start // BLOCK) * BLOCK
        return packed[(start - offset) * HASH_SIZE : (stop - offset) * HASH_SIZE]

    def recorded(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """The positions and hashes of leaves ``start`` to ``stop`` (those held)."""
        stop = min(stop, self.size())
        if start >= stop:
            return []
        blocks = self.blocks(range(start // BLOCK, (stop - 1) // BLOCK + 1))
        found: list[tuple[int, bytes]] = []
        for block in sorted(blocks):
            placed, leaves, _ = blocks[block]
            first = block * BLOCK
            held = list(zip(positions(placed), hashes(leaves), strict=True))
            found += held[max(0, start - first) : stop - first]
        return found

    def leaf_index(self, position: int) -> int:
        """The leaf of the event at ``position``.

        Positions only grow along the leaves, by one on an SQLite log, so
        the first guess is exact there and a binary search finds it
        elsewhere, a block read per step.

        Raises:
            NotInTree: If no leaf holds that position.
        """
        low, high = 0, min(position - 1, self.size() - 1)
        if high >= 0 and self._position_of(high) == position:
            return high
        while low <= high:
            middle = (low + high) // 2
            found = self._position_of(middle)
            if found == position:
                return middle
            if found < position:
                low = middle + 1
            else:
                high = middle - 1
        msg = f"no event at position {position} in the tree"
        raise NotInTree(msg)

    def _position_of(self, index: int) -> int:
        block = self.blocks([index // BLOCK])[index // BLOCK]
        return positions(block[0])[index % BLOCK]

    def inclusion(self, position: int, size: int) -> Inclusion:
        """The inclusion proof of the event at ``position`` in the tree of ``size``."""
        self._check_size(size)
        guess = position - 1  # exact on an SQLite log: read with the path
        if 0 <= guess < size:
            block = guess // BLOCK
            path, blocks = self._hashes_with(inclusion_ranges(guess, size), [block])
            if positions(blocks[block][0])[guess % BLOCK] == position:
                return Inclusion(guess, size, path)
        index = self.leaf_index(position)
        if index >= size:
            msg = f"the event at position {position} is not among the first {size}"
            raise NotInTree(msg)
        return Inclusion(index, size, self.hashes_of(inclusion_ranges(index, size)))

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of ``first`` leaves begins that of ``second``."""
        self._check_size(second)
        if not 0 < first <= second:
            msg = f"no consistency proof from size {first} to size {second}"
            raise NotInTree(msg)
        return self.hashes_of(consistency_ranges(first, second))
