"""Complete blocks of the chain kept in memory: what makes served proofs fast.

A block of the chain (:mod:`projections.readmodels.chain`) never changes
once it is complete, and every proof of a large tree reads the same few
blocks for its upper levels; so a node that serves proofs keeps the blocks
it has read, up to a bound, beside the connection it read them through. A
rebuild swapped in gives new connections, so never a stale block. The
plain :class:`~projections.chain_queries.StoredTree` reads every block it
needs; the tests check that both give the same proofs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from projections.chain_queries import Block, StoredTree
from projections.readmodel_parts import SQL
from projections.readmodels.chain import BLOCK

MAX_BLOCKS = 8192
"""Blocks kept per connection: about 10 MB, the upper levels of any log."""


class BlockCache(OrderedDict[int, Block]):
    """Complete blocks by number, the least recently used dropped first."""

    def __init__(self, limit: int = MAX_BLOCKS) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, found: dict[int, Block]) -> None:
        """Keeps ``found``, dropping the least recently used past the limit."""
        self.update(found)
        while len(self) > self.limit:
            self.popitem(last=False)


class CachedTree(StoredTree):
    """The stored tree, reading complete blocks through a :class:`BlockCache`."""

    def __init__(self, conn: SQL, cache: BlockCache) -> None:
        super().__init__(conn)
        self.cache = cache

    def blocks(self, ids: Iterable[int]) -> dict[int, Block]:
        complete = self.size() // BLOCK
        found: dict[int, Block] = {}
        missing = []
        for block in set(ids):
            kept = self.cache.get(block) if block < complete else None
            if kept is None:
                missing.append(block)
            else:
                self.cache.move_to_end(block)
                found[block] = kept
        if missing:
            read = super().blocks(missing)
            self.cache.keep({b: read[b] for b in read if b < complete})
            found.update(read)
        return found
