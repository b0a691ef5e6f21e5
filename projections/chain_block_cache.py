"""The chain's stored hashes kept in memory: what makes served proofs fast.

Whatever a proof reads from the chain (:mod:`projections.readmodels.chain`)
never changes once written: a complete block, and the hash of any range of
leaves the tree already holds. Every proof of a large tree needs the same
few of them for its upper levels, so a node that serves proofs keeps what
it has read and combined, up to a bound, beside the connection it read it
through; a rebuild swapped in gives new connections, so never a stale hash.
The plain :class:`~projections.chain_queries.StoredTree` reads and combines
everything each time; the tests check that both give the same proofs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from projections.chain_queries import Block, StoredTree
from projections.readmodel_parts import SQL
from projections.readmodels.chain import BLOCK

MAX_BLOCKS = 8192
"""Blocks kept per connection: about 10 MB, the upper levels of any log."""
MAX_RANGES = 65_536
"""Hashes of ranges of leaves kept per connection: a few MB."""
KEPT_RANGE = 64
"""The fewest leaves a range kept must span. Smaller ones are a random
event's own, read again from its block and its neighbours' at little cost;
keeping them would crowd out the upper levels that every proof shares."""

K = TypeVar("K")
V = TypeVar("V")


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
class ChainCache:
    """What one connection's proofs have read: blocks, and ranges' hashes."""

    blocks: Bounded[int, Block] = field(default_factory=lambda: Bounded(MAX_BLOCKS))
    ranges: Bounded[tuple[int, int], bytes] = field(
        default_factory=lambda: Bounded(MAX_RANGES)
    )


class CachedTree(StoredTree):
    """The stored tree, reading and combining through a :class:`ChainCache`."""

    def __init__(self, conn: SQL, cache: ChainCache) -> None:
        super().__init__(conn)
        self.cache = cache

    def blocks(self, ids: Iterable[int]) -> dict[int, Block]:
        complete = self.size() // BLOCK
        kept = self.cache.blocks
        found: dict[int, Block] = {}
        missing = []
        for block in set(ids):
            held = kept.get(block) if block < complete else None
            if held is None:
                missing.append(block)
            else:
                found[block] = held
        if missing:
            read = super().blocks(missing)
            kept.keep({b: read[b] for b in read if b < complete})
            found.update(read)
        return found

    def hashes_of(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return self._hashes_with(ranges, ())[0]

    def _hashes_with(
        self, ranges: Sequence[tuple[int, int]], also: Iterable[int]
    ) -> tuple[list[bytes], dict[int, Block]]:
        kept = self.cache.ranges
        known = [kept.get(each) for each in ranges]
        missing = [
            each for each, hashed in zip(ranges, known, strict=True) if not hashed
        ]
        made, blocks = super()._hashes_with(missing, also)
        kept.keep(
            {
                (start, stop): hashed
                for (start, stop), hashed in zip(missing, made, strict=True)
                if stop - start >= KEPT_RANGE
            }
        )
        fresh = iter(made)
        return [hashed or next(fresh) for hashed in known], blocks
